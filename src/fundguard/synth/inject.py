"""Injected violations: one small documented function per catalog rule, each on fresh persons.

Every case creates the flags of its rule that its labels list and nothing else: it uses new persons (so
no history interferes), items whose only restriction is the one being broken (picked from the edition),
and settlements with fund payment. `vola_amt` follows rule-catalog.md, computed from the drawn values:
cents, rounded half away from zero. Where the catalog leaves a reading open, the function's docstring
says which reading the label uses.

Each case draws its free choices from its own stream, PCG64([seed, CASE_STREAM, rule, k]): the item, the
day (anywhere in the period where the case fits, often a calendar edge), the region, institution and
doctor, quantities, prices (at or below any ceiling), supply days, gaps, lengths of stay and how far past
the threshold it goes (often the smallest violating step). Same seed → same bytes; another seed → other
shapes.

Not injected: A08 (needs a complete catalog; the default edition declares it incomplete, so the rule
is skipped), B08 (real-time only: needs the HIS orders), M01–M04 (screening models, not verdicts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import numpy as np
import pyarrow as pa

from fundguard.synth.arrow import LABELS_SCHEMA, SCHEMAS
from fundguard.synth.base import Counters, Period
from fundguard.synth.knowledge import Item, Knowledge
from fundguard.synth.world import REGIONS, World

CENT = Decimal("0.01")
EPOCH = dt.date(1970, 1, 1)
GENERIC_DIAG = ("Z00.000", "一般医学检查")
CONSULT = "001102000010000"
INP_CONSULT = "001102000050000"
BED = "001109000010000"
NURSE = "001201000040000"
CBC = "002501010150000"
HIFP_SHARE = Decimal("0.70")
CASE_STREAM = 9_000_001  # the injected cases' random streams: PCG64([seed, CASE_STREAM, rule, k])


def money(value: Decimal) -> Decimal:
    """Round half away from zero to cents (Decimal's ROUND_HALF_UP rounds away from zero)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Line:
    code: str
    cnt: int = 1
    price: Decimal | None = None
    prd: int | None = None
    day: int = 0  # stays: day of the stay
    at: str | None = None  # "HH:MM" (defaults: visit start + n minutes, stay day 12:00 + n minutes)
    appr: bool = False
    trac: str | None = None  # traceability code (default: one fresh code when the product is known)
    refund_of: str | None = None


@dataclass
class Enc:
    mdtrt_id: str
    sns: list[str]
    amounts: list[Decimal]
    hifp: Decimal
    medfee: Decimal
    lines: list[Line] = field(default_factory=list)


class Injector:
    def __init__(self, kn: Knowledge, world: World, period: Period, counters: Counters, seed: int):
        self.kn = kn
        self.world = world
        self.period = period
        self.counters = counters
        self.seed = seed
        self.rows: dict[str, list[dict]] = {name: [] for name in SCHEMAS}
        self.labels: list[dict] = []
        self.anchor = EPOCH + dt.timedelta(days=period.start + 20)
        self.trac_seq = 0
        self._pools: dict[str, list] = {}
        self.skipped: dict[str, str] = {}
        self.rng = np.random.Generator(np.random.PCG64([seed, CASE_STREAM]))
        self.region = 0

    # ---- per-case randomness -------------------------------------------------------------------------

    def begin_case(self, rule: str, k: int) -> None:
        """A case's own random stream (seed, rule, k): cases vary with the seed and do not shift each other."""
        self.rng = np.random.Generator(np.random.PCG64([self.seed, CASE_STREAM, ord(rule[0]) * 100 + int(rule[1:]), k]))
        self.region = int(self.rng.integers(len(REGIONS)))
        self.anchor = EPOCH + dt.timedelta(days=self.period.start + 20)

    def ri(self, lo: int, hi: int) -> int:
        """A random integer in [lo, hi] (inclusive)."""
        return int(self.rng.integers(lo, hi + 1)) if hi > lo else lo

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def choice(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def place(self, span: int, key: int = 0) -> None:
        """Put the case's day 0 (`anchor`) anywhere in the period where its `span` days fit; about a third
        of the time the case's key day (offset `key`) falls on a calendar edge (a month's first or last
        day, 28/29 February, 31 December / 1 January). When the period is shorter than the span the case
        starts on the period's first day and may run past its end."""
        lo = self.period.start
        hi = max(lo, self.period.end - span)
        day0 = lo + int(self.rng.integers(hi - lo + 1))
        if self.chance(0.35):
            edges = []
            for d in range(lo + key, hi + key + 1):
                date = EPOCH + dt.timedelta(days=d)
                nxt = date + dt.timedelta(days=1)
                if date.day == 1 or nxt.day == 1 or (date.month == 2 and date.day >= 28):
                    edges.append(d - key)
            if edges:
                day0 = self.choice(edges)
        self.anchor = EPOCH + dt.timedelta(days=day0)

    def hhmm(self, lo: int = 7, hi: int = 19) -> str:
        """A random clock time from lo:00 to hi:59."""
        return f"{self.ri(lo, hi):02d}:{self.ri(0, 59):02d}"

    def price(self, item: Item, *, fine: bool = False) -> Decimal:
        """A unit price: at or below the ceiling when the item has one (often exactly the ceiling), else
        around the usual price; `fine` allows four decimals (drug unit prices) where there is no ceiling."""
        if item.ceiling is not None:
            if self.chance(0.4):
                return Decimal(item.ceiling)
            cents = int(Decimal(item.ceiling) * 100)
            return Decimal(self.ri(max(1, cents * 2 // 5), cents)) / 100
        base = int(item.price * 10_000)
        units = self.ri(max(1, base // 2), base * 2)
        if not fine:
            units = max(100, units // 100 * 100)
        return Decimal(units) / 10_000

    def line(self, item: Item, *, prd_cap: int = 7, fine: bool = True, **kw) -> Line:
        """A fee line of `item` with drawn quantity, price and (drugs) supply days, inside every limit the
        edition puts on the item (per-hour/day/encounter units, kb_drug_days) and the 7-day default."""
        price = self.price(item, fine=fine)
        if item.is_drug:
            mdc = item.max_daily_cnt
            if mdc is not None and mdc < 1:
                return Line(item.code, cnt=3, prd=3, **kw)
            prd = self.ri(1, min(prd_cap, item.max_prd_days or prd_cap))
            dose = self.ri(1, min(3, int(mdc) if mdc is not None else 3))
            return Line(item.code, cnt=dose * prd, prd=prd, price=price, **kw)
        cap = min(item.limits.values()) if item.limits else 4
        return Line(item.code, cnt=self.ri(1, min(cap, 4)), price=price, **kw)

    # ---- building blocks -----------------------------------------------------------------------------

    def inst(self, level: str, region: int | None = None, k: int | None = None) -> int:
        """An institution of `level` in `region` (default: the case's region); a random one unless `k`."""
        found = self.world.by(self.region if region is None else region, (level,))
        return int(found[(int(self.rng.integers(len(found))) if k is None else k) % len(found)])

    def doctor(self, inst: int, max_title: str = "9", min_title: str = "1") -> str:
        """A random practitioner of `inst` with title between `min_title` (higher) and `max_title` (lower)."""
        w = self.world
        rank = {"1": 1, "2": 2, "3": 3, "4": 4, "9": 5}
        found = [w.doc_codes[d] for d in range(int(w.doc_start[inst]), int(w.doc_start[inst] + w.doc_count[inst]))
                 if rank[min_title] <= rank[w.doc_title[d]] <= rank[max_title]]
        if not found:
            raise LookupError(f"no practitioner with title {min_title}..{max_title} at {w.codes[inst]}")
        return self.choice(found)

    def person(self, gend: str = "1", age: int = 45, insutype: str = "310", death: int | None = None,
               region: int | None = None, born_on: int | None = None) -> tuple[str, int]:
        """A fresh person of `age`: by default born 150 days before the anchor's anniversary (the age holds
        for the next 200 days); with `born_on`, the person turns `age` exactly on that day of the case."""
        self.counters.psn += 1
        psn_no = f"P{self.counters.psn:08d}"
        region = self.region if region is None else region
        if born_on is not None:
            anniv = self.day(born_on)
            if anniv.month == 2 and anniv.day == 29:
                raise ValueError("born_on must not be 29 February")
        else:
            anniv = self.anchor - dt.timedelta(days=150)
        brdy = anniv.replace(year=anniv.year - age) if not (anniv.month == 2 and anniv.day == 29) else anniv.replace(
            year=anniv.year - age, day=28)
        self.rows["psn"].append(
            {
                "psn_no": psn_no,
                "gend": gend,
                "brdy": brdy,
                "insutype": insutype,
                "insu_admdvs": REGIONS[region],
                "death_date": None if death is None else self.day(death),
            }
        )
        return psn_no, region

    def day(self, offset: int) -> dt.date:
        return self.anchor + dt.timedelta(days=offset)

    def at(self, offset: int, hhmm: str) -> dt.datetime:
        h, m = (int(x) for x in hhmm.split(":"))
        return dt.datetime.combine(self.day(offset), dt.time(h, m))

    def _next(self, kind: str) -> int:
        if kind == "mdtrt":
            self.counters.mdtrt += 1
            return self.counters.mdtrt
        self.counters.feedetl += 1
        return self.counters.feedetl

    def _encounter(self, psn, inst: int, med_type: str, begin: dt.datetime, end: dt.datetime, lines: list[Line],
                   diags, doctor: str | None, dscg_way: str | None, drg: str | None, line_time) -> Enc:
        psn_no, region = psn
        num = self._next("mdtrt")
        mdtrt_id, inst_code = f"M{num:010d}", self.world.codes[inst]
        doctor = doctor or self.doctor(inst, "3")
        dept = self.world.doc_dept[self.world.doc_codes.index(doctor)]
        sns, amounts = [], []
        for i, ln in enumerate(lines):
            item = self.kn.item(ln.code)
            price = ln.price if ln.price is not None else item.price
            sn = f"F{self._next('feedetl'):012d}"
            amount = money(Decimal(ln.cnt) * price)
            sns.append(sn)
            amounts.append(amount)
            is_drug = item.is_drug
            self.rows["feedetl"].append(
                {
                    "feedetl_sn": sn,
                    "mdtrt_id": mdtrt_id,
                    "psn_no": psn_no,
                    "fixmedins_code": inst_code,
                    "fee_ocur_time": line_time(i, ln),
                    "hilist_code": item.code,
                    "medins_list_codg": "Y" + item.code[-6:],
                    "med_chrgitm_type": item.chrgitm_type,
                    "cnt": Decimal(ln.cnt),
                    "pric": price,
                    "det_item_fee_sumamt": amount,
                    "bilg_dept_codg": dept,
                    "bilg_dr_codg": doctor,
                    "prd_days": (ln.prd if ln.prd is not None else 1) if is_drug else None,
                    "refd_flag": ln.cnt < 0,
                    "orig_feedetl_sn": ln.refund_of,
                    "hosp_appr_flag": ln.appr,
                }
            )
            if is_drug and ln.cnt > 0 and (ln.trac or item.trac_prefix):
                self.rows["drug_trac"].append({"feedetl_sn": sn, "drug_trac_codg": ln.trac or self.trac_code(item)})
        medfee = sum(amounts, Decimal("0.00"))
        hifp = money(medfee * HIFP_SHARE)
        self.rows["mdtrt"].append(
            {
                "mdtrt_id": mdtrt_id,
                "setl_id": f"S{num:010d}",
                "psn_no": psn_no,
                "fixmedins_code": inst_code,
                "med_type": med_type,
                "begntime": begin,
                "endtime": end,
                "dscg_way": dscg_way,
                "dept_code": dept,
                "atddr_no": doctor,
                "medfee_sumamt": medfee,
                "hifp_pay": hifp,
                "acct_pay": Decimal("0.00"),
                "psn_cash_pay": medfee - hifp,
                "setl_time": end + dt.timedelta(minutes=30) if med_type not in ("21", "52") else end,
                "insu_admdvs": REGIONS[region],
                "drg_code": drg,
                "dip_code": None,
            }
        )
        for n, (code, name) in enumerate(diags, start=1):
            self.rows["diag"].append(
                {"mdtrt_id": mdtrt_id, "diag_srt_no": n, "maindiag_flag": n == 1, "diag_code": code, "diag_name": name}
            )
        return Enc(mdtrt_id, sns, amounts, hifp, medfee, lines)

    def visit(self, psn, inst: int, day: int, lines: list[Line], *, med_type: str = "11", hhmm: str = "09:00",
              diags=(GENERIC_DIAG,), doctor: str | None = None) -> Enc:
        begin = self.at(day, hhmm)

        def line_time(i: int, ln: Line) -> dt.datetime:
            return self.at(day, ln.at) if ln.at else begin + dt.timedelta(minutes=i + 1)

        return self._encounter(psn, inst, med_type, begin, begin, lines, diags, doctor, None, None, line_time)

    def stay(self, psn, inst: int, day: int, los: int, lines: list[Line], *, diags=(("J18.900", "肺炎"),),
             med_type: str = "21", dscg_way: str = "1", drg: str | None = None, doctor: str | None = None,
             daily: bool = True, hhmm: str = "08:30") -> Enc:
        """An inpatient stay of `los` days; `daily` adds bed, nursing and ward-round fees on days 0..los-1."""
        begin = self.at(day, hhmm)
        end = self.at(day + los, "10:00")
        if daily:
            # after the case's own lines, so `Enc.sns[i]` is the i-th line the case passed in
            lines = lines + [Line(code, day=d) for d in range(los) for code in (BED, NURSE, INP_CONSULT)]

        def line_time(i: int, ln: Line) -> dt.datetime:
            return self.at(day + ln.day, ln.at) if ln.at else self.at(day + ln.day, "12:00") + dt.timedelta(minutes=i)

        return self._encounter(psn, inst, med_type, begin, end, lines, diags, doctor, dscg_way, drg, line_time)

    def trac_code(self, item: Item) -> str:
        self.trac_seq += 1
        return f"{item.trac_prefix}9{self.seed % 1000:03d}{self.trac_seq:09d}"

    def label(self, rule: str, key: str, amount: Decimal, granularity: str, note: str) -> None:
        self.labels.append(
            {"rule_id": rule, "flag_key": key, "vola_amt": money(Decimal(amount)), "granularity": granularity,
             "note": note}
        )

    # ---- picking knowledge -------------------------------------------------------------------------------

    def candidates(self, table: str, ok: Callable[[Item], bool], *, priced: bool = False) -> list[Item]:
        codes = sorted({c for c in self.kn.tables[table].column("hilist_code").to_pylist() if c and not c.endswith("*")})
        out = []
        for code in codes:
            if not self.kn.has(code) or (priced and not self.kn.is_priced(code)):
                continue
            item = self.kn.item(code)
            if ok(item):
                out.append(item)
        return out

    def memo(self, key: str, build: Callable[[], list]) -> list:
        """A candidate pool, built once per run (injections repeat many times at large sizes)."""
        if key not in self._pools:
            self._pools[key] = build()
            if not self._pools[key]:
                raise LookupError(f"no usable knowledge for {key}")
        return self._pools[key]

    def pick(self, table: str, ok: Callable[[Item], bool], k: int, key: str) -> Item:
        def build() -> list[Item]:
            # prefer items the sample prices (they carry ceilings), else spread over the national list
            return self.candidates(table, ok, priced=True) or self.candidates(table, ok)

        return self.choice(self.memo(key, build))

    @staticmethod
    def only(*names: str) -> Callable[[Item], bool]:
        allowed = set(names)
        return lambda item: item.attribute_restrictions() <= allowed and bool(item.attribute_restrictions() & allowed)

    @staticmethod
    def drug_line(item: Item, prd: int = 3, dose: int = 1, **kw) -> Line:
        return Line(item.code, cnt=dose * prd, prd=prd, **kw) if item.is_drug else Line(item.code, **kw)

    # ---- running ------------------------------------------------------------------------------------------

    def run(self, n_cases: int) -> tuple[dict[str, pa.Table], pa.Table]:
        rules = sorted(INJECTIONS)
        per_rule = {r: 1 for r in rules}
        for i in range(max(0, n_cases - len(rules))):
            per_rule[rules[i % len(rules)]] += 1
        for rule in rules:
            for k in range(per_rule[rule]):
                sizes = {name: len(rows) for name, rows in self.rows.items()}
                n_labels = len(self.labels)
                self.begin_case(rule, k)
                try:
                    INJECTIONS[rule](self, k)
                except (LookupError, ZeroDivisionError) as exc:
                    # the edition lacks what this case needs (e.g. no DRG groups): undo the case, skip the rule
                    for name, rows in self.rows.items():
                        del rows[sizes[name]:]
                    del self.labels[n_labels:]
                    self.skipped[rule] = str(exc) or type(exc).__name__
                    break
        tables = {name: pa.Table.from_pylist(rows, schema=SCHEMAS[name]) for name, rows in self.rows.items()}
        return tables, pa.Table.from_pylist(self.labels, schema=LABELS_SCHEMA)


# ---- A. restrictions ------------------------------------------------------------------------------------
# Line-amount cases draw the line (units, price at or below any ceiling, supply days within kb_drug_days
# and the 7-day default), the day, the institution of the case's region and the doctor from the case's stream.


def _adult(inj: Injector) -> int:
    return inj.ri(18, 75)


def _sex(inj: Injector) -> str:
    return inj.choice(("1", "2"))


def inject_a01(inj: Injector, k: int) -> None:
    """A01: an item limited to one sex billed to a person of the other sex; amount = the line."""
    item = inj.pick("kb_item_gender", inj.only("gend"), k, key="A01")
    inj.place(1)
    psn = inj.person(gend="2" if item.gend == "1" else "1", age=_adult(inj))
    enc = inj.visit(psn, inj.inst(inj.choice(("1", "2"))), 0, [inj.line(item)], hhmm=inj.hhmm())
    inj.label("A01", enc.sns[0], enc.amounts[0], "line", f"{item.name} 限{item.gend} ×{enc.lines[0].cnt}")


def inject_a02(inj: Injector, k: int) -> None:
    """A02: an item with an age band billed outside it; amount = the line. The age is 1–20 years past
    the band; about half the cases are the smallest violation: the person turns max_age + 1 on the fee
    day (the birthday counts the new age), or turns min_age the day after it."""
    item = inj.pick("kb_item_age", inj.only("age", "drug_days"), k, key="A02")
    inj.place(2)
    edge = inj.chance(0.5)
    above = item.max_age is not None and (item.min_age is None or item.min_age < 1 or inj.chance(0.5))
    if above:
        age = item.max_age + (1 if edge else inj.ri(1, 20))
        born_on = 0 if edge else None
    else:
        age = item.min_age if edge else max(0, item.min_age - inj.ri(1, 20))
        born_on = 1 if edge else None
    if born_on is not None and inj.day(born_on).month == 2 and inj.day(born_on).day == 29:
        born_on, age = None, (age if above else age - 1)
    psn = inj.person(gend=_sex(inj), age=age, born_on=born_on)
    enc = inj.visit(psn, inj.inst(inj.choice(("1", "2"))), 0, [inj.line(item)], hhmm=inj.hhmm())
    shown = age if born_on != 1 else age - 1
    inj.label("A02", enc.sns[0], enc.amounts[0], "line", f"{item.name} 年龄 {shown}")


def _diag_code(prefix: str) -> str:
    if len(prefix) == 1:
        return prefix + "99.900"
    if len(prefix) == 3:
        return prefix + ".900"
    return (prefix + "0000")[:7]


def _diags(inj: Injector, code: str) -> tuple:
    """The case's diagnosis alone, or after the generic one (any diagnosis of the encounter counts)."""
    return ((code, "诊断"),) if inj.chance(0.5) else (GENERIC_DIAG, (code, "诊断"))


def inject_a03(inj: Injector, k: int) -> None:
    """A03: a diagnosis limited to one sex on an encounter of the other sex (main or secondary); amount 0."""
    rows = sorted((r["diag_prefix"], r["gend"]) for r in inj.kn.diag_rows("kb_diag_gender"))
    rows = [r for r in rows if inj.kn.diag_age(_diag_code(r[0])) == (0, 200)]
    prefix, gend = inj.choice(rows)
    inj.place(1)
    psn = inj.person(gend="2" if gend == "1" else "1", age=_adult(inj))
    enc = inj.visit(psn, inj.inst(inj.choice(("1", "2"))), 0, [Line(CONSULT)], diags=_diags(inj, _diag_code(prefix)),
                    hhmm=inj.hhmm())
    inj.label("A03", enc.mdtrt_id, Decimal(0), "mdtrt", f"诊断 {prefix} 限{gend}")


def inject_a04(inj: Injector, k: int) -> None:
    """A04: a diagnosis with an age band on a person outside it (1–15 years, or turning max + 1 on the
    encounter day / turning min the day after: the smallest violation); amount 0."""
    rows = sorted((r["diag_prefix"], r["min_age"], r["max_age"]) for r in inj.kn.diag_rows("kb_diag_age"))
    prefix, lo, hi = inj.choice(rows)
    code = _diag_code(prefix)
    inj.place(2)
    edge = inj.chance(0.5)
    if hi is not None and hi < 80 and (not lo or inj.chance(0.5)):
        age = hi + (1 if edge else inj.ri(1, 15))
        born_on = 0 if edge else None
    else:
        lo = lo or 1
        age = lo if edge else max(0, lo - inj.ri(1, 10))
        born_on = 1 if edge else None
    if born_on is not None and inj.day(born_on).month == 2 and inj.day(born_on).day == 29:
        born_on, age = None, (age if born_on == 0 else age - 1)
    genders = inj.kn.diag_gender(code)
    psn = inj.person(gend=sorted(genders)[0] if genders else _sex(inj), age=age, born_on=born_on)
    enc = inj.visit(psn, inj.inst(inj.choice(("1", "2"))), 0, [Line(CONSULT)], diags=_diags(inj, code),
                    hhmm=inj.hhmm())
    inj.label("A04", enc.mdtrt_id, Decimal(0), "mdtrt", f"诊断 {prefix} 年龄 {age if born_on != 1 else age - 1}")


def inject_a05(inj: Injector, k: int) -> None:
    """A05: an indication-limited item billed to the fund with none of its diagnoses, not approved."""
    item = inj.pick("kb_item_indication",
                    lambda i: inj.only("indications", "drug_days")(i) and "indications" in i.attribute_restrictions()
                    and not any(GENERIC_DIAG[0].startswith(p) for p in i.indications), k, key="A05")
    inj.place(1)
    enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inj.inst(inj.choice(("1", "2"))), 0,
                    [inj.line(item)], hhmm=inj.hhmm())
    inj.label("A05", enc.sns[0], enc.amounts[0], "line", f"{item.name} 无适应症诊断 ×{enc.lines[0].cnt}")


def inject_a06(inj: Injector, k: int) -> None:
    """A06: an item allowed only from a level up, billed by an institution of any lower level (一级, or
    二级 for items limited to 三级)."""
    item = inj.pick("kb_item_medins_lv", lambda i: inj.only("max_lv", "drug_days")(i) and i.max_lv in ("1", "2"), k, key="A06")
    level = inj.choice(("2", "3")) if item.max_lv == "1" else "3"
    inj.place(1)
    enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inj.inst(level), 0, [inj.line(item)], hhmm=inj.hhmm())
    inj.label("A06", enc.sns[0], enc.amounts[0], "line", f"{item.name} 限{item.max_lv}级，机构{level}级")


def inject_a07(inj: Injector, k: int) -> None:
    """A07: an inpatient-only item billed on an outpatient visit (11 general or 14 chronic; 13 emergency
    too when the item is not allowed in emergencies)."""
    item = inj.pick("kb_item_setting", inj.only("setting", "drug_days"), k, key="A07")
    med_type = inj.choice(("11", "14") if item.setting == "inpatient_or_emergency" else ("11", "13", "14"))
    inj.place(1)
    enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inj.inst(inj.choice(("1", "2"))), 0,
                    [inj.line(item)], med_type=med_type, hhmm=inj.hhmm())
    inj.label("A07", enc.sns[0], enc.amounts[0], "line", f"{item.name} 限{item.setting}，就医{med_type}")


def inject_a09(inj: Injector, k: int) -> None:
    """A09: an item limited by doctor title ordered by any doctor of a lower title."""
    item = inj.pick("kb_item_title", lambda i: inj.only("max_profttl", "drug_days")(i) and i.max_profttl in ("1", "2", "3"), k, key="A09")
    lower = str(int(item.max_profttl) + 1)
    w = inj.world
    # hospitals of the case's region with a doctor below the limit (titles are drawn: one may lack them)
    insts = [int(i) for i in w.by(inj.region, ("1", "2"))
             if any(lower <= w.doc_title[d] <= "4" for d in range(int(w.doc_start[i]), int(w.doc_start[i] + w.doc_count[i])))]
    if not insts:
        raise LookupError(f"no doctor below title {item.max_profttl}")
    inst = inj.choice(insts)
    doctor = inj.doctor(inst, "4", lower)
    title = inj.world.doc_title[inj.world.doc_codes.index(doctor)]
    inj.place(1)
    enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inst, 0, [inj.line(item)], doctor=doctor,
                    hhmm=inj.hhmm())
    inj.label("A09", enc.sns[0], enc.amounts[0], "line", f"{item.name} 限职称{item.max_profttl}，医师{title}")


def inject_a10(inj: Injector, k: int) -> None:
    """A10: a work-injury/maternity-only item billed to basic insurance (310 or 390) on a general or
    chronic visit."""
    item = inj.pick("kb_item_insutype", inj.only("insutype", "gend"), k, key="A10")
    gend = item.gend or _sex(inj)
    insutype = inj.choice(("310", "390"))
    med_type = inj.choice(("11", "14"))
    inj.place(1)
    enc = inj.visit(inj.person(gend=gend, age=inj.ri(20, 55), insutype=insutype), inj.inst(inj.choice(("1", "2"))), 0,
                    [inj.line(item)], med_type=med_type, hhmm=inj.hhmm())
    inj.label("A10", enc.sns[0], enc.amounts[0], "line", f"{item.name} 限险种{item.insutype}，参保{insutype}")


# ---- B. charging -----------------------------------------------------------------------------------------


def _plain(inj: Injector, item: Item) -> bool:
    return not item.attribute_restrictions() and not item.is_drug and item.chrgitm_type not in ("01", "07")


def _priced_plain(inj: Injector) -> list[Item]:
    def build() -> list[Item]:
        items = [inj.kn.item(r["hilist_code"]) for r in inj.kn.hilist_rows() if r["pric_uplmt_amt"] is not None]
        return sorted((i for i in items if _plain(inj, i)), key=lambda i: i.code)

    return inj.memo("priced_plain", build)


def inject_b01(inj: Injector, k: int) -> None:
    """B01: a price above the ceiling, 1–5 units; amount = (pric − ceiling) × cnt. The excess is the
    smallest one flagged (0.0051, four-decimal prices; or 0.01) or up to half the ceiling."""
    item = inj.choice(_priced_plain(inj))
    cents = int(item.ceiling * 100)
    excess = inj.choice((Decimal("0.0051"), Decimal("0.01"), Decimal(inj.ri(1, max(1, cents // 2))) / 100))
    price = item.ceiling + excess
    cnt = inj.ri(1, 5)
    inj.place(1)
    enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inj.inst(inj.choice(("1", "2", "3"))), 0,
                    [Line(item.code, cnt=cnt, price=price)], hhmm=inj.hhmm())
    inj.label("B01", enc.sns[0], (price - item.ceiling) * cnt, "line", f"{item.name} 超限价 {excess} ×{cnt}")


def _split(inj: Injector, total: int, parts: int) -> list[int]:
    """`total` units as `parts` positive counts (fewer when total is small)."""
    parts = max(1, min(parts, total))
    cuts = sorted(inj.rng.choice(np.arange(1, total), parts - 1, replace=False).tolist()) if parts > 1 else []
    edges = [0, *cuts, total]
    return [b - a for a, b in zip(edges, edges[1:], strict=False)]


def _times(inj: Injector, n: int) -> list[str]:
    """`n` increasing clock times of one day, in different clock hours."""
    hours = sorted(inj.rng.choice(np.arange(7, 20), n, replace=False).tolist())
    return [f"{h:02d}:{inj.ri(0, 59):02d}" for h in hours]


def inject_b02(inj: Injector, k: int) -> None:
    """B02, one of two shapes: (a) an item with a per-day limit L billed L + e units (e = 1–3) on one day
    over 1–3 lines in different hours, the last line holding at least e units → e × pric on that line;
    (b) an unlimited item billed on 2–3 identical lines (quantity, price, time) → every line after the
    first, each its own amount."""
    inj.place(1)
    psn = inj.person(gend=_sex(inj), age=_adult(inj))
    inst = inj.inst(inj.choice(("1", "2")))
    if inj.chance(0.5):
        item = inj.pick("kb_item_limit", lambda i: set(i.limits) == {"day"} and i.attribute_restrictions() == {"limits"}
                        and i.chrgitm_type not in ("01", "07"), k, key="B02")
        lim = item.limits["day"]
        e = 1 if inj.chance(0.4) else inj.ri(1, 3)
        last = inj.ri(e, lim + e)
        counts = (_split(inj, lim + e - last, inj.ri(1, 2)) if lim + e - last else []) + [last]
        price = inj.price(item)
        times = _times(inj, len(counts))
        lines = [Line(item.code, cnt=c, price=price, at=t) for c, t in zip(counts, times, strict=True)]
        enc = inj.visit(psn, inst, 0, lines, hhmm=times[0])
        inj.label("B02", enc.sns[-1], e * price, "line", f"{item.name} 每日限{lim}，共{lim + e}")
    else:
        item = inj.choice(_priced_plain(inj))
        n, cnt, price, at = inj.ri(2, 3), inj.ri(1, 3), inj.price(item), inj.hhmm()
        enc = inj.visit(psn, inst, 0, [Line(item.code, cnt=cnt, price=price, at=at) for _ in range(n)], hhmm=at)
        for i in range(1, n):
            inj.label("B02", enc.sns[i], enc.amounts[i], "line", f"{item.name} 重复收费 第{i + 1}条")


def inject_b03(inj: Injector, k: int) -> None:
    """B03: a bundle's main item and one of its parts (either first) in the same clock hour; amount = the
    part line (1–3 units within its limits)."""
    main, part = inj.choice(inj.memo("B03", lambda: _bundle_pairs(inj)))
    hour = inj.ri(7, 19)
    m1, m2 = sorted(inj.rng.choice(np.arange(60), 2, replace=False).tolist())
    part_first = inj.chance(0.5)
    cap = min([3, *part.limits.values()])
    main_line = Line(main.code, price=inj.price(main), at=f"{hour:02d}:{m2 if part_first else m1:02d}")
    part_line = Line(part.code, cnt=inj.ri(1, cap), price=inj.price(part), at=f"{hour:02d}:{m1 if part_first else m2:02d}")
    inj.place(1)
    enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inj.inst(inj.choice(("1", "2"))), 0,
                    [main_line, part_line], hhmm=f"{hour:02d}:00")
    inj.label("B03", enc.sns[1], enc.amounts[1], "line", f"{main.name} 已含 {part.name} ×{part_line.cnt}")


def _bundle_pairs(inj: Injector) -> list[tuple[Item, Item]]:
    rows = sorted((r["bundle_code"], r["part_code"]) for r in inj.kn.tables["kb_bundle"].to_pylist())
    usable = []
    for main, part in rows:
        if main.endswith("*") or part.endswith("*") or not (inj.kn.has(main) and inj.kn.has(part)):
            continue
        a, b = inj.kn.item(main), inj.kn.item(part)
        if a.chrgitm_type in ("01", "07") or b.chrgitm_type in ("01", "07"):
            continue
        if a.attribute_restrictions() - {"limits"} or b.attribute_restrictions() - {"limits"} or a.is_drug or b.is_drug:
            continue
        ex = inj.kn.exclusive_partners(main) | inj.kn.exclusive_partners(part)
        if part in ex or main in ex:
            continue
        usable.append((a, b))
    return usable


def inject_b04(inj: Injector, k: int) -> None:
    """B04: both items of an exclusive pair (in either order) on one visit, the same number of units
    each; the line of the lower unit price is flagged."""
    ia, ib = inj.choice(inj.memo("B04", lambda: _exclusive_pairs(inj)))
    pa_, pb_ = inj.price(ia), inj.price(ib)
    if pa_ == pb_:
        pa_, pb_ = ia.price, ib.price
    cap = min([3, *ia.limits.values(), *ib.limits.values()])
    n = inj.ri(1, cap)
    lines = [Line(ia.code, cnt=n, price=pa_), Line(ib.code, cnt=n, price=pb_)]
    if inj.chance(0.5):
        lines.reverse()
    inj.place(1)
    enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inj.inst(inj.choice(("1", "2"))), 0, lines,
                    hhmm=inj.hhmm())
    cheap = 0 if lines[0].price < lines[1].price else 1
    inj.label("B04", enc.sns[cheap], enc.amounts[cheap], "line", f"{ia.name} 与 {ib.name} 互斥 ×{n}")


def _exclusive_pairs(inj: Injector) -> list[tuple[Item, Item]]:
    pairs = []
    for r in sorted(inj.kn.tables["kb_exclusive"].to_pylist(), key=lambda r: (r["hilist_code_a"], r["hilist_code_b"])):
        a, b = r["hilist_code_a"], r["hilist_code_b"]
        if a.endswith("*") or b.endswith("*") or not (inj.kn.has(a) and inj.kn.has(b)):
            continue
        ia, ib = inj.kn.item(a), inj.kn.item(b)
        if not (_plain(inj, ia) or ia.attribute_restrictions() == {"limits"}):
            continue
        if not (_plain(inj, ib) or ib.attribute_restrictions() == {"limits"}):
            continue
        if ia.chrgitm_type in ("01", "07") or ib.chrgitm_type in ("01", "07") or ia.price == ib.price:
            continue
        if b in inj.kn.bundle_parts(a) or a in inj.kn.bundle_parts(b):
            continue
        pairs.append((ia, ib))
    return pairs


def inject_b05(inj: Injector, k: int) -> None:
    """B05: an item limited per encounter billed L + e units (e = 1–3) over 2–3 lines of one visit, the
    last line holding at least e units; that line is flagged for e × pric."""
    item = inj.pick("kb_item_limit", lambda i: set(i.limits) == {"mdtrt"} and i.attribute_restrictions() == {"limits"}
                    and not i.is_drug, k, key="B05")
    lim = item.limits["mdtrt"]
    e = 1 if inj.chance(0.4) else inj.ri(1, 3)
    last = inj.ri(e, lim + e - 1)
    counts = _split(inj, lim + e - last, inj.ri(1, 2)) + [last]
    price = inj.price(item)
    times = _times(inj, len(counts))
    inj.place(1)
    enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inj.inst(inj.choice(("1", "2"))), 0,
                    [Line(item.code, cnt=c, price=price, at=t) for c, t in zip(counts, times, strict=True)],
                    hhmm=times[0])
    inj.label("B05", enc.sns[-1], e * price, "line", f"{item.name} 每次就诊限{lim}，共{lim + e}")


def _bed_nurse(inj: Injector, rule: str, code: str) -> None:
    """B06/B07: a stay of L days (L = 1–12; discharge date − admission date) with the fee `code` charged
    once a day on L + 1 calendar days (admission day to discharge day): one day too many."""
    los = inj.ri(1, 12)
    item = inj.kn.item(code)
    other = NURSE if code == BED else BED
    price = inj.price(item)
    lines = [Line(code, price=price, day=d, at="08:00") for d in range(los + 1)] + [Line(other, day=d) for d in range(los)]
    lines += [Line(INP_CONSULT, day=d) for d in range(los + 1)]
    inj.place(los + 1, key=los)
    enc = inj.stay(inj.person(gend=_sex(inj), age=inj.ri(18, 85)), inj.inst(inj.choice(("1", "2", "3"))), 0, los,
                   lines, daily=False, hhmm=inj.hhmm(7, 11))
    name = "床位费" if code == BED else "护理"
    inj.label(rule, enc.mdtrt_id, price, "mdtrt", f"{name} {los + 1} 日，住院 {los} 日")


def inject_b06(inj: Injector, k: int) -> None:
    """B06: bed fees on one day more than the stay's length (see `_bed_nurse`); amount = one bed-day's fee."""
    _bed_nurse(inj, "B06", BED)


def inject_b07(inj: Injector, k: int) -> None:
    """B07: nursing on one day more than the stay's length (see `_bed_nurse`); amount = one day's nursing."""
    _bed_nurse(inj, "B07", NURSE)


def inject_b09(inj: Injector, k: int) -> None:
    """B09: 2–3 operations of one group on one day of a stay, each at its full catalog price (the
    ceiling), the dearest first; every later line is flagged for pric × cnt − 50% × ceiling × cnt."""
    group, items = inj.choice(inj.memo("B09", lambda: _oprn_groups(inj)))
    n = inj.ri(2, min(3, len(items)))
    chosen = sorted(inj.rng.choice(len(items), n, replace=False).tolist())
    ops = [items[i] for i in chosen]
    los = inj.ri(3, 10)
    op_day = inj.ri(0, los - 1)
    hour = inj.ri(8, 15)
    inst = inj.inst("1")
    lines = [Line(op.code, day=op_day, at=f"{hour:02d}:{i:02d}") for i, op in enumerate(ops)]
    lines += [Line(CBC, day=d, at="07:30") for d in range(los)]
    inj.place(los + 1, key=op_day)
    enc = inj.stay(inj.person(gend=_sex(inj), age=inj.ri(40, 80)), inst, 0, los, lines,
                   doctor=inj.doctor(inst, "1", "1"), diags=(("C15.900", "食管恶性肿瘤"),))
    inj.rows["oprn"] += [
        {"mdtrt_id": enc.mdtrt_id, "oprn_srt_no": 1, "oprn_oprt_code": "42.4100x001", "oprn_date": inj.at(op_day, f"{hour - 1:02d}:30")},
        {"mdtrt_id": enc.mdtrt_id, "oprn_srt_no": 2, "oprn_oprt_code": "42.8500", "oprn_date": inj.at(op_day, f"{hour - 1:02d}:30")},
    ]
    for i in range(1, n):
        inj.label("B09", enc.sns[i], ops[i].price - money(ops[i].ceiling * Decimal("0.5")), "line",
                  f"{group} 第{i + 1}台手术未折价")


def _oprn_groups(inj: Injector) -> list[tuple[str, list[Item]]]:
    groups: dict[str, list[Item]] = {}
    for r in sorted(inj.kn.tables["kb_oprn_group"].to_pylist(), key=lambda r: r["hilist_code"]):
        code = r["hilist_code"]
        if code.endswith("*") or not inj.kn.has(code):
            continue
        item = inj.kn.item(code)
        if item.ceiling is not None and item.attribute_restrictions() <= {"oprn_group", "max_profttl"}:
            groups.setdefault(r["group_name"], []).append(item)
    return sorted((g, sorted(v, key=lambda i: (-i.price, i.code))) for g, v in groups.items() if len(v) >= 2)


def inject_b10(inj: Injector, k: int) -> None:
    """B10: an item of kb_item_cycle billed max_cnt + e times (e = 1–2) on distinct days inside one
    cycle_days window (often the first and last exactly cycle_days − 1 apart: the widest window); every
    line after the max_cnt-th is flagged with its amount."""
    item = inj.pick("kb_item_cycle", lambda i: i.attribute_restrictions() == {"cycle"} and i.cycle[1] > i.cycle[0] + 1, k, key="B10")
    max_cnt, cycle = item.cycle
    n = max_cnt + (1 if inj.chance(0.6) else 2)
    n = min(n, cycle)
    if inj.chance(0.5):
        inner = inj.rng.choice(np.arange(1, cycle - 1), n - 2, replace=False).tolist() if n > 2 else []
        days = sorted([0, cycle - 1, *inner])
    else:
        days = sorted([0, *inj.rng.choice(np.arange(1, cycle), n - 1, replace=False).tolist()])
    inj.place(cycle, key=days[-1])
    psn = inj.person(gend=_sex(inj), age=inj.ri(30, 80))
    inst = inj.inst(inj.choice(("1", "2")))
    price = inj.price(item)
    encs = [inj.visit(psn, inst, d, [Line(item.code, price=price)], hhmm=inj.hhmm()) for d in days]
    for i in range(max_cnt, n):
        inj.label("B10", encs[i].sns[0], encs[i].amounts[0], "line",
                  f"{item.name} {cycle}日内限{max_cnt}次，第{i + 1}次 第{days[i]}日")


def inject_b11(inj: Injector, k: int) -> None:
    """B11: a course-limited service used at gaps of 5–29 days (one course: gaps under 30), the in-course
    uses on days ≤ max_days − 2, then 1–2 uses more than max_days days after the first (often exactly
    max_days + 1: the smallest violation); each of those is flagged in full. Uses stay clear of the
    boundary offsets max_days − 1 / max_days so either day count agrees."""
    item = inj.pick("kb_item_course", lambda i: i.attribute_restrictions() == {"course"} and not i.is_drug
                    and i.course[1] is None and i.course[0] <= 90, k, key="B11")
    max_days = item.course[0]
    days = [0]
    while days[-1] + 5 <= max_days - 2 and (inj.chance(0.7) or max_days + 1 - days[-1] > 29):
        days.append(days[-1] + inj.ri(5, min(29, max_days - 2 - days[-1])))
    first_beyond = max(max_days + 1, days[-1] + 5)
    beyond = [first_beyond if inj.chance(0.5) else inj.ri(first_beyond, days[-1] + 29)]
    if inj.chance(0.3):
        beyond.append(beyond[-1] + inj.ri(5, 29))
    days += beyond
    inj.place(days[-1] + 1, key=days[-1])
    psn = inj.person(gend=_sex(inj), age=inj.ri(20, 80))
    inst = inj.inst(inj.choice(("1", "2")))
    price = inj.price(item)
    encs = [inj.visit(psn, inst, d, [Line(item.code, price=price)], hhmm=inj.hhmm()) for d in days]
    for i in range(len(days) - len(beyond), len(days)):
        inj.label("B11", encs[i].sns[0], encs[i].amounts[0], "line", f"{item.name} 疗程 {max_days} 日，第{days[i]}日")


# ---- C. drugs -------------------------------------------------------------------------------------------


def _plain_drug(inj: Injector, k: int, *, days_ok: Callable[[Item], bool] | None = None, trac: bool = False) -> Item:
    """A drug with no restriction but (when `days_ok` accepts it) a kb_drug_days entry."""

    def build() -> list[Item]:
        rows = sorted(r["hilist_code"] for r in inj.kn.hilist_rows() if r["hilist_code"][:1] in ("X", "Z"))
        pool = []
        for code in rows:
            item = inj.kn.item(code)
            if not item.is_drug or (trac and not item.trac_prefix):
                continue
            if item.attribute_restrictions() - {"drug_days"}:
                continue
            if (days_ok is None and item.drug_days) or (days_ok is not None and not days_ok(item)):
                continue
            pool.append(item)
            if len(pool) >= 50:
                break
        return pool

    key = f"drug:{days_ok.__qualname__ if days_ok else ''}:{trac}"
    return inj.choice(inj.memo(key, build))


LIMIT_DAYS = {"11": 7, "13": 7, "41": 7, "14": 30}


def _outpatient(inj: Injector, med_types: tuple[str, ...] = ("11", "14", "41")) -> tuple[str, int]:
    """A med_type and an institution for it (a pharmacy for 41, else a hospital or primary care)."""
    med_type = inj.choice(med_types)
    return med_type, inj.inst("9" if med_type == "41" else inj.choice(("1", "2", "3")))


def _dose(inj: Injector, item: Item) -> int:
    mdc = item.max_daily_cnt
    return inj.ri(1, min(3, int(mdc) if mdc is not None else 3))


def inject_c01(inj: Injector, k: int) -> None:
    """C01: a drug without kb_drug_days supplied for limit + e days (limit 7 on general visits and at
    pharmacies, 30 on chronic visits; e = 1–10, often 1); amount = line × e / prd_days."""
    item = _plain_drug(inj, k)
    med_type, inst = _outpatient(inj)
    lim = LIMIT_DAYS[med_type]
    e = 1 if inj.chance(0.4) else inj.ri(1, 10)
    prd = lim + e
    inj.place(1)
    enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inst, 0,
                    [Line(item.code, cnt=_dose(inj, item) * prd, prd=prd, price=inj.price(item, fine=True))],
                    med_type=med_type, hhmm=inj.hhmm())
    inj.label("C01", enc.sns[0], enc.amounts[0] * e / prd, "line", f"{item.name} {prd} 日，限 {lim} 日")


def inject_c02(inj: Injector, k: int) -> None:
    """C02: two supplies of one drug (general/pharmacy ≤ 7 days, chronic ≤ 30) bought g ≥ 1 days apart so
    that they overlap by o = 6.. days (6, the smallest violation, often); amount = later line × o / prd."""
    item = _plain_drug(inj, k)
    while True:
        mt1, inst1 = _outpatient(inj)
        mt2, inst2 = _outpatient(inj)
        p1 = inj.ri(7, LIMIT_DAYS[mt1])
        p2 = inj.ri(6, LIMIT_DAYS[mt2])
        if min(p2, p1 - 1) >= 6:
            break
    o = 6 if inj.chance(0.4) else inj.ri(6, min(p2, p1 - 1))
    g = p1 - o
    inj.place(g + p2, key=g)
    psn = inj.person(gend=_sex(inj), age=_adult(inj))
    price = inj.price(item, fine=True)
    inj.visit(psn, inst1, 0, [Line(item.code, cnt=_dose(inj, item) * p1, prd=p1, price=price)], med_type=mt1,
              hhmm=inj.hhmm())
    enc = inj.visit(psn, inst2, g, [Line(item.code, cnt=_dose(inj, item) * p2, prd=p2, price=price)], med_type=mt2,
                    hhmm=inj.hhmm())
    inj.label("C02", enc.sns[0], enc.amounts[0] * o / p2, "line", f"{item.name} 供药期重叠 {o} 日")


def inject_c03(inj: Injector, k: int) -> None:
    """C03: one drug on 4–5 distinct days within 30 (often the first and last exactly 29 days apart),
    at clinics or pharmacies, supplies of 1–5 days (no overlap above 5); amount 0."""
    item = _plain_drug(inj, k)
    n = inj.ri(4, 5)
    if inj.chance(0.5):
        days = sorted([0, 29, *inj.rng.choice(np.arange(1, 29), n - 2, replace=False).tolist()])
    else:
        days = sorted([0, *inj.rng.choice(np.arange(1, 30), n - 1, replace=False).tolist()])
    inj.place(days[-1] + 1, key=days[-1])
    psn = inj.person(gend=_sex(inj), age=_adult(inj))
    for d in days:
        med_type, inst = _outpatient(inj, ("11", "41"))
        prd = inj.ri(1, 5)
        inj.visit(psn, inst, d, [Line(item.code, cnt=_dose(inj, item) * prd, prd=prd, price=inj.price(item, fine=True))],
                  med_type=med_type, hhmm=inj.hhmm())
    inj.label("C03", f"{psn[0]}|{item.code}", Decimal(0), "psn", f"{item.name} {days[-1] + 1} 日内 {n} 天开药")


def inject_c04(inj: Injector, k: int) -> None:
    """C04: a drug with max_daily_cnt m supplied for p days (within its max_prd_days and the visit's
    limit) with p·m + e units (e = 1..max(m, 1), often 1); amount = e × pric."""
    item = _plain_drug(inj, k, days_ok=lambda i: i.max_daily_cnt is not None and (i.max_prd_days or 99) >= 5
                       and i.max_daily_cnt == int(i.max_daily_cnt))
    m = int(item.max_daily_cnt)
    med_type, inst = _outpatient(inj, ("11", "14"))
    prd = inj.ri(1, min(LIMIT_DAYS[med_type], item.max_prd_days or 99))
    e = 1 if inj.chance(0.4) else inj.ri(1, max(m, 1))
    price = inj.price(item)
    inj.place(1)
    enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inst, 0,
                    [Line(item.code, cnt=prd * m + e, prd=prd, price=price)], med_type=med_type, hhmm=inj.hhmm())
    inj.label("C04", enc.sns[0], e * price, "line", f"{item.name} {prd} 日 {prd * m + e}，日剂量限 {m}")


# (fills, supply days per fill) that give more than 120 supply days with every fee date inside 90 days,
# gaps of at least 10 days (at most 3 purchase days in any 30: no C03) and overlaps of at most 5 (no C02)
C05_SHAPES = [(9, 14), (9, 15), (9, 16), (8, 16), (8, 17), (7, 18), (7, 19), (6, 21), (6, 22), (5, 25), (5, 26), (5, 27)]


def inject_c05(inj: Injector, k: int) -> None:
    """C05: n chronic refills of p days (n·p > 120) at gaps of at least max(10, p − 5) days, all within 90
    days of the first. Amount: the supply beyond the first 90 days in fee order, each fill prorated by
    its days beyond (at most one fill is partly beyond, so rounding per fill or in total agree)."""
    item = _plain_drug(inj, k, days_ok=lambda i: (i.max_prd_days or 30) >= 27 and (i.max_daily_cnt or 1) >= 1)
    n, p = inj.choice(C05_SHAPES)
    gmin = max(10, p - 5)
    gaps = [gmin] * (n - 1)
    for _ in range(89 - gmin * (n - 1)):
        if inj.chance(0.5):
            gaps[inj.ri(0, n - 2)] += 1
    days = [0]
    for g in gaps:
        days.append(days[-1] + g)
    inj.place(days[-1] + p, key=days[-1])
    psn = inj.person(gend=_sex(inj), age=inj.ri(45, 85))
    inst = inj.inst(inj.choice(("1", "2", "3")))
    dose = _dose(inj, item)
    price = inj.price(item, fine=True)
    encs = [inj.visit(psn, inst, d, [Line(item.code, cnt=dose * p, prd=p, price=price)], med_type="14",
                      hhmm=inj.hhmm()) for d in days]
    total = Decimal(0)
    for i, e in enumerate(encs):
        beyond = min(p, max(0, (i + 1) * p - 90))
        total += money(e.amounts[0] * beyond / p)
    inj.label("C05", f"{psn[0]}|{item.code}", total, "psn", f"{item.name} 90 日内供药 {n * p} 日")


def inject_c06(inj: Injector, k: int) -> None:
    """C06: one traceability code sold 2–3 times (to different persons, at any institutions, 0–30 days
    apart, in increasing fee time); every sale after the first is flagged in full."""
    item = _plain_drug(inj, k, days_ok=lambda i: (i.max_prd_days or 7) >= 3 and (i.max_daily_cnt or 1) >= 1, trac=True)
    code = inj.trac_code(item)
    n = inj.ri(2, 3)
    days = sorted(inj.ri(0, 30) for _ in range(n))
    times = _times(inj, n)
    inj.place(days[-1] + 1, key=days[-1])
    for i, (d, t) in enumerate(zip(days, times, strict=True)):
        med_type, inst = _outpatient(inj, ("11", "41"))
        enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inst, d, [inj.line(item, trac=code)],
                        med_type=med_type, hhmm=t)
        if i:
            inj.label("C06", enc.sns[0], enc.amounts[0], "line", f"{item.name} 追溯码 {code} 第{i + 1}次销售")


def inject_c07(inj: Injector, k: int) -> None:
    """C07: a drug line whose traceability code belongs to another product; amount = the line."""
    prefixes = sorted(inj.kn.product_prefixes().items())
    billed = _plain_drug(inj, k)
    start = inj.ri(0, len(prefixes) - 1)
    other_code, prefix = next((c, p) for c, p in prefixes[start:] + prefixes if c != billed.code)
    trac = f"{prefix}8{inj.seed % 1000:03d}{k:09d}"
    med_type, inst = _outpatient(inj, ("11", "41"))
    inj.place(1)
    enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inst, 0, [inj.line(billed, trac=trac)],
                    med_type=med_type, hhmm=inj.hhmm())
    inj.label("C07", enc.sns[0], enc.amounts[0], "line", f"{billed.code} 追溯码属 {other_code}")


def inject_c08(inj: Injector, k: int) -> None:
    """C08: a course-limited drug (max_days M, 8–20) first supplied on day 0, maybe again in between, and
    last on day M + e − p for p days, so that its supply runs e days (1..p, often 1) past the course; the
    earlier supplies end within the course, overlap by at most 5 days and fall on at most 3 days.
    Amount = last line × e / p."""
    item = inj.pick("kb_item_course", lambda i: i.is_drug and i.attribute_restrictions() == {"course"}
                    and i.course[1] is None and 8 <= i.course[0] <= 20, k, key="C08")
    m = item.course[0]
    p = inj.ri(1, 7)
    e = 1 if inj.chance(0.4) else inj.ri(1, p)
    last = m + e - p
    p0 = inj.ri(1, 7)
    supplies = [(0, p0)]
    if last >= 2 and inj.chance(0.5):
        mid = inj.ri(1, last - 1)
        pm = inj.ri(1, min(7, m - mid))
        if p0 - mid <= 5 and mid + pm - last <= 5:
            supplies.append((mid, pm))
    supplies.append((last, p))
    inj.place(last + p, key=last + p - 1)
    psn = inj.person(gend=_sex(inj), age=inj.ri(20, 80))
    inst = inj.inst(inj.choice(("1", "2")))
    price = inj.price(item, fine=True)
    encs = [inj.visit(psn, inst, d, [Line(item.code, cnt=_dose(inj, item) * q, prd=q, price=price)], hhmm=inj.hhmm())
            for d, q in supplies]
    inj.label("C08", encs[-1].sns[0], encs[-1].amounts[0] * e / p, "line", f"{item.name} 疗程 {m} 日，超 {e} 日")


# ---- D. visits and stays -------------------------------------------------------------------------------


def _clinic_line(inj: Injector, inst: int) -> Line:
    """The consultation fee fitting the institution's level (一般诊疗费 at primary care), at a drawn price."""
    code = "001102000070000" if inj.world.lv[inst] == "3" else CONSULT
    return Line(code, price=inj.price(inj.kn.item(code)))


def _daily(inj: Injector, los: int) -> list[Line]:
    """Bed, nursing and ward-round fees on days 0..los − 1, each at a price drawn once for the stay."""
    prices = {code: inj.price(inj.kn.item(code)) for code in (BED, NURSE, INP_CONSULT)}
    return [Line(code, day=d, price=prices[code]) for d in range(los) for code in (BED, NURSE, INP_CONSULT)]


def inject_d01(inj: Injector, k: int) -> None:
    """D01: 8–10 outpatient encounters (general, emergency or chronic) on distinct days within 30 (often
    exactly 8 with the first and last 29 days apart), at institutions of the person's region; amount 0."""
    n = 8 if inj.chance(0.5) else inj.ri(8, 10)
    if inj.chance(0.5):
        days = sorted([0, 29, *inj.rng.choice(np.arange(1, 29), n - 2, replace=False).tolist()])
    else:
        days = sorted([0, *inj.rng.choice(np.arange(1, 30), n - 1, replace=False).tolist()])
    inj.place(days[-1] + 1, key=days[-1])
    psn = inj.person(gend=_sex(inj), age=inj.ri(20, 90))
    for d in days:
        med_type = inj.choice(("11", "13", "14"))
        inst = inj.inst(inj.choice(("1", "2")) if med_type == "13" else inj.choice(("1", "2", "3")))
        inj.visit(psn, inst, d, [_clinic_line(inj, inst)], med_type=med_type, hhmm=inj.hhmm())
    inj.label("D01", psn[0], Decimal(0), "psn", f"{days[-1] + 1} 日内门诊 {n} 次")


def inject_d02(inj: Injector, k: int) -> None:
    """D02: outpatient visits (general or chronic) at 3–4 distinct institutions of one region on one day;
    amount 0."""
    n = inj.ri(3, 4)
    pool = [int(i) for i in inj.world.by(inj.region, ("1", "2", "3"))]
    insts = [pool[i] for i in sorted(inj.rng.choice(len(pool), n, replace=False).tolist())]
    times = _times(inj, n)
    inj.place(1)
    psn = inj.person(gend=_sex(inj), age=inj.ri(20, 90))
    for inst, t in zip(insts, times, strict=True):
        inj.visit(psn, inst, 0, [_clinic_line(inj, inst)], med_type=inj.choice(("11", "14")), hhmm=t)
    inj.label("D02", f"{psn[0]}|{inj.day(0).isoformat()}", Decimal(0), "psn", f"同日 {n} 家机构门诊")


def inject_d03(inj: Injector, k: int) -> None:
    """D03: an outpatient or pharmacy encounter on a day strictly inside a stay of 2–10 days (day 1 to
    the day before discharge, often the first or last such day); amount = its fund payment."""
    los = inj.ri(2, 10)
    day = inj.choice((1, los - 1)) if inj.chance(0.5) else inj.ri(1, los - 1)
    inj.place(los + 1, key=day)
    psn = inj.person(gend=_sex(inj), age=inj.ri(20, 85))
    stay_inst = inj.inst(inj.choice(("1", "2")))
    inj.stay(psn, stay_inst, 0, los, _daily(inj, los), daily=False, hhmm=inj.hhmm(7, 11))
    med_type, inst = _outpatient(inj, ("11", "14", "41"))
    while inst == stay_inst:  # another institution: nothing reads as a visit around the stay (E03)
        med_type, inst = _outpatient(inj, ("11", "14", "41"))
    if med_type == "41":
        lines = [inj.line(_plain_drug(inj, k))]
    else:
        lines = [_clinic_line(inj, inst), Line(CBC, price=inj.price(inj.kn.item(CBC)))]
    enc = inj.visit(psn, inst, day, lines, med_type=med_type, hhmm=inj.hhmm())
    inj.label("D03", enc.mdtrt_id, enc.hifp, "mdtrt", f"住院第 {day} 日{med_type}结算")


def inject_d04(inj: Injector, k: int) -> None:
    """D04: 1–2 encounters 1–30 days after the recorded death (often the next day), maybe one on the day
    of death itself (not flagged); each later one is flagged for its fund payment."""
    death = inj.ri(0, 20)
    after = sorted({death + (1 if inj.chance(0.4) else inj.ri(1, 30)) for _ in range(inj.ri(1, 2))})
    inj.place(after[-1] + 1, key=after[0])
    psn = inj.person(age=inj.ri(60, 95), gend=_sex(inj), death=death)
    inst = inj.inst(inj.choice(("1", "2", "3")))
    inj.visit(psn, inst, inj.ri(0, death), [_clinic_line(inj, inst)], hhmm=inj.hhmm(7, 9))
    for d in after:
        inst = inj.inst(inj.choice(("1", "2", "3")))
        enc = inj.visit(psn, inst, d, [_clinic_line(inj, inst), Line(CBC, price=inj.price(inj.kn.item(CBC)))],
                        med_type=inj.choice(("11", "14")), hhmm=inj.hhmm())
        inj.label("D04", enc.mdtrt_id, enc.hifp, "mdtrt", f"死亡后 {d - death} 日就医")


READMIT_DIAGS = {
    "J18": (("J18.900", "肺炎"), ("J18.000", "支气管肺炎")),
    "I63": (("I63.900", "脑梗死"), ("I63.400", "脑栓塞引起的脑梗死")),
    "K29": (("K29.700", "慢性胃炎"), ("K29.500", "慢性胃炎")),
}


def inject_d05(inj: Injector, k: int) -> None:
    """D05: readmission to the same hospital 0–15 days after a discharge (often exactly 15; 0 = admitted
    later on the discharge day) that was not a transfer, main diagnoses of one category (maybe different
    codes); amount = the later stay's fund payment."""
    cat = inj.choice(sorted(READMIT_DIAGS))
    d1, d2 = inj.choice(READMIT_DIAGS[cat]), inj.choice(READMIT_DIAGS[cat])
    los1, los2 = inj.ri(2, 10), inj.ri(2, 10)
    gap = inj.choice((0, 15)) if inj.chance(0.5) else inj.ri(0, 15)
    inj.place(los1 + gap + los2 + 1, key=los1 + gap)
    psn = inj.person(gend=_sex(inj), age=inj.ri(40, 90))
    inst = inj.inst(inj.choice(("1", "2")))
    inj.stay(psn, inst, 0, los1, _daily(inj, los1), daily=False, diags=(d1,), dscg_way=inj.choice(("1", "4")),
             hhmm=inj.hhmm(7, 11))
    enc = inj.stay(psn, inst, los1 + gap, los2, _daily(inj, los2), daily=False, diags=(d2,),
                   hhmm="11:00" if gap == 0 else inj.hhmm(7, 11))
    inj.label("D05", enc.mdtrt_id, enc.hifp, "mdtrt", f"{gap} 日内同病种再入院")


def inject_d06(inj: Injector, k: int) -> None:
    """D06: a stay of L = 3–12 days charged only bed and nursing on E of its L days (E from half of L,
    rounded up: the smallest share flagged, to all of them; days are the stay's calendar days from
    admission to the day before discharge); amount = hifp × E / L."""
    los = inj.ri(3, 12)
    half = (los + 1) // 2
    empty = half if inj.chance(0.5) else inj.ri(half, los)
    empties = set(inj.rng.choice(los, empty, replace=False).tolist())
    lines = [Line(BED, day=d) for d in range(los)] + [Line(NURSE, day=d) for d in range(los)]
    for d in range(los):
        if d not in empties:
            lines += [Line(INP_CONSULT, day=d), Line(CBC, day=d, price=inj.price(inj.kn.item(CBC)))]
    inj.place(los + 1)
    enc = inj.stay(inj.person(gend=_sex(inj), age=inj.ri(40, 90)), inj.inst(inj.choice(("1", "2", "3"))), 0, los,
                   lines, daily=False, hhmm=inj.hhmm(7, 11))
    inj.label("D06", enc.mdtrt_id, enc.hifp * empty / los, "mdtrt", f"{los} 日中 {empty} 日仅床位护理")


def inject_d07(inj: Injector, k: int) -> None:
    """D07: a stay at a second hospital admitted on day a of a first stay of L1 days (1 ≤ a ≤ L1 − 1: an
    overlap of at least one full day; a = L1 − 1 is the smallest); amount = the later stay's fund payment."""
    los1 = inj.ri(2, 10)
    a = los1 - 1 if inj.chance(0.4) else inj.ri(1, los1 - 1)
    los2 = inj.ri(1, 10)
    inj.place(max(los1, a + los2) + 1, key=a)
    psn = inj.person(gend=_sex(inj), age=inj.ri(40, 90))
    first, second = (int(i) for i in inj.rng.choice(inj.world.by(inj.region, ("1", "2")), 2, replace=False))
    inj.stay(psn, first, 0, los1, _daily(inj, los1), daily=False, hhmm=inj.hhmm(7, 9))
    enc = inj.stay(psn, second, a, los2, _daily(inj, los2), daily=False, hhmm=inj.hhmm(7, 9))
    inj.label("D07", enc.mdtrt_id, enc.hifp, "mdtrt", f"住院重叠 {los1 - a} 日")


def inject_d08(inj: Injector, k: int) -> None:
    """D08: a stay of 2–10 days with daily presence checks, one or two of them a different face;
    amount = its fund payment."""
    los = inj.ri(2, 10)
    inj.place(los + 1)
    enc = inj.stay(inj.person(gend=_sex(inj), age=inj.ri(20, 90)), inj.inst(inj.choice(("1", "2", "3"))), 0, los,
                   _daily(inj, los), daily=False, hhmm=inj.hhmm(7, 9))
    days = list(range(1, los))
    bad = set(inj.rng.choice(days, min(len(days), inj.ri(1, 2)), replace=False).tolist())
    inj.rows["checkin"] += [
        {"mdtrt_id": enc.mdtrt_id, "chk_time": inj.at(d, inj.hhmm(9, 11)), "result": "3" if d in bad else "1"}
        for d in days
    ]
    inj.label("D08", enc.mdtrt_id, enc.hifp, "mdtrt", f"签到人脸不符 {len(bad)} 次")


def inject_d09(inj: Injector, k: int) -> None:
    """D09: visits in two regions whose start times are 1–119 minutes apart (119, the smallest violation,
    often; the pair may straddle midnight); key psn_no|later mdtrt_id, amount 0."""
    gap = 119 if inj.chance(0.4) else inj.ri(1, 119)
    start = inj.ri(7 * 60, 23 * 60 + 59)
    later = start + gap
    inj.place(2, key=later // 1440)
    r2 = (inj.region + inj.ri(1, len(REGIONS) - 1)) % len(REGIONS)
    psn = inj.person(gend=_sex(inj), age=inj.ri(20, 80))
    i1, i2 = inj.inst(inj.choice(("1", "2"))), inj.inst(inj.choice(("1", "2")), region=r2)
    inj.visit(psn, i1, 0, [_clinic_line(inj, i1)], hhmm=f"{start // 60:02d}:{start % 60:02d}")
    enc = inj.visit(psn, i2, later // 1440, [_clinic_line(inj, i2)],
                    hhmm=f"{later % 1440 // 60:02d}:{later % 60:02d}")
    inj.label("D09", f"{psn[0]}|{enc.mdtrt_id}", Decimal(0), "psn", f"异地 {gap} 分钟内就医")


# ---- E. DRG ---------------------------------------------------------------------------------------------


def _drg(inj: Injector, ok: Callable[[dict], bool], k: int) -> dict:
    groups = [g for _, g in sorted(inj.kn.drg.items()) if ok(g)]
    if not groups:
        raise LookupError("no DRG group fits")
    return inj.choice(groups)


def _daily_cost(inj: Injector, los: int) -> Decimal:
    return sum((inj.kn.item(c).price for c in (BED, NURSE, INP_CONSULT)), Decimal(0)) * los


def _drg_stay(inj: Injector, psn, inst: int, day: int, los: int, cost: Decimal, group: str, dscg_way: str = "1"):
    """A stay of `los` days whose total is exactly `cost`: daily fees plus one drug line priced to fit."""
    base = _daily_cost(inj, los)
    rest = cost - base
    if rest <= 0:
        raise ValueError("cost below the daily fees")
    filler = _plain_drug(inj, 0)
    price = (rest / 10).quantize(CENT, rounding=ROUND_DOWN)
    lines = [Line(filler.code, cnt=10, price=price, prd=1)]
    diff = cost - base - price * 10
    if diff:
        lines.append(Line(CBC, cnt=1, price=diff, day=0))  # cents left over (≤ 0.09), below CBC's ceiling
    return inj.stay(psn, inst, day, los, lines, drg=group, dscg_way=dscg_way, hhmm=inj.hhmm(7, 11))


def _cost_below(inj: Injector, avg: Decimal, share: Decimal, floor: Decimal) -> Decimal:
    """A stay cost below `share` × avg: often the largest such cent (the smallest violation), else down
    to 40% of it; never below `floor` (the daily fees plus a margin)."""
    top = (avg * share).quantize(CENT, rounding=ROUND_DOWN)
    if top == avg * share:
        top -= CENT
    if inj.chance(0.4):
        return top
    lo = max(floor, (top * Decimal("0.4")).quantize(CENT))
    return Decimal(inj.ri(int(lo * 100), int(top * 100))) / 100


def _los_for(inj: Injector, lo: int, hi: int, cost_cap: Decimal) -> int:
    """A length of stay in [lo, hi] whose daily fees leave room (50 yuan at least) under `cost_cap`."""
    options = [d for d in range(lo, hi + 1) if _daily_cost(inj, d) + 50 < cost_cap]
    if not options:
        raise LookupError("no length of stay fits the cost")
    return inj.choice(options)


def inject_e01(inj: Injector, k: int) -> None:
    """E01: a low-risk group, a stay of 1–2 days (not below 30% of avg_los, so not E04), cost below 30% of
    the group's average (often by one cent); amount = fund payment."""
    g = _drg(inj, lambda g: g["is_low_risk"] and g["drg_code"][-1] not in "13" and 2 >= float(g["avg_los"]) * 0.3, k)
    avg = Decimal(g["avg_cost"])
    los = inj.choice([d for d in (1, 2) if d >= float(g["avg_los"]) * 0.3])
    cost = _cost_below(inj, avg, Decimal("0.30"), _daily_cost(inj, los) + 50)
    inj.place(los + 1)
    enc = _drg_stay(inj, inj.person(gend=_sex(inj), age=inj.ri(20, 80)), inj.inst(inj.choice(("1", "2"))), 0, los, cost,
                    g["drg_code"], dscg_way=inj.choice(("1", "4")))
    inj.label("E01", enc.mdtrt_id, enc.hifp, "mdtrt", f"{g['drg_code']} 低标入院 {cost}")


def inject_e02(inj: Injector, k: int) -> None:
    """E02: a complicated group (code ends 1/3), cost below 50% of its average (often by one cent; when
    below 30%, the stay is long enough not to be E04); amount = min(avg − cost, hifp)."""
    g = _drg(inj, lambda g: not g["is_low_risk"] and g["drg_code"][-1] in "13", k)
    avg = Decimal(g["avg_cost"])
    los = _los_for(inj, 3, 10, avg * Decimal("0.3"))
    cost = _cost_below(inj, avg, Decimal("0.50"), _daily_cost(inj, los) + 50)
    if cost < avg * Decimal("0.3") and los < float(g["avg_los"]) * 0.3:
        cost = _cost_below(inj, avg, Decimal("0.50"), max(avg * Decimal("0.3"), _daily_cost(inj, los) + 50))
    inj.place(los + 1)
    enc = _drg_stay(inj, inj.person(gend=_sex(inj), age=inj.ri(40, 85)), inj.inst(inj.choice(("1", "2"))), 0, los, cost,
                    g["drg_code"])
    inj.label("E02", enc.mdtrt_id, min(avg - cost, enc.hifp), "mdtrt", f"{g['drg_code']} 高套 {cost}")


def inject_e03(inj: Injector, k: int) -> None:
    """E03: a drug visit to the same hospital 1–7 days before admission or after discharge whose cost
    exceeds 30% of the stay's cost (often by the least a whole number of units allows); amount = that
    visit's cost (all of it is drug)."""
    g = _drg(inj, lambda g: not g["is_low_risk"] and g["drg_code"][-1] not in "13", k)
    avg = Decimal(g["avg_cost"])
    los = inj.ri(3, 10)
    stay_cost = money(avg * Decimal(inj.ri(60, 120)) / 100)
    drug = _plain_drug(inj, 1)
    units = inj.ri(1, 7)
    share = Decimal("0.30") if inj.chance(0.4) else Decimal(inj.ri(31, 60)) / 100
    price = (stay_cost * share / units).quantize(CENT, rounding=ROUND_DOWN) + CENT
    gap = 7 if inj.chance(0.3) else inj.ri(1, 7)
    before = inj.chance(0.5)
    visit_day, admit = (0, gap) if before else (los + gap, 0)
    inj.place(max(visit_day, admit + los) + 1, key=visit_day)
    psn = inj.person(gend=_sex(inj), age=inj.ri(40, 85))
    inst = inj.inst(inj.choice(("1", "2")))
    enc = _drg_stay(inj, psn, inst, admit, los, stay_cost, g["drg_code"])
    visit = inj.visit(psn, inst, visit_day, [Line(drug.code, cnt=units, price=price, prd=units)], hhmm=inj.hhmm())
    where = "入院前" if before else "出院后"
    inj.label("E03", enc.mdtrt_id, visit.medfee, "mdtrt", f"{where} {gap} 日门诊药品费转嫁 {visit.mdtrt_id}")


def inject_e04(inj: Injector, k: int) -> None:
    """E04: a group that is neither low-risk nor complicated, a stay shorter than 30% of avg_los costing
    below 30% of the average (often by one cent), discharged on advice; amount 0."""
    g = _drg(inj, lambda g: not g["is_low_risk"] and g["drg_code"][-1] not in "13" and float(g["avg_los"]) * 0.3 > 2, k)
    avg = Decimal(g["avg_cost"])
    max_los = max(d for d in range(1, 100) if d < float(g["avg_los"]) * 0.3)
    los = _los_for(inj, 1, max_los, avg * Decimal("0.3"))
    cost = _cost_below(inj, avg, Decimal("0.30"), _daily_cost(inj, los) + 50)
    inj.place(los + 1)
    enc = _drg_stay(inj, inj.person(gend=_sex(inj), age=inj.ri(40, 85)), inj.inst(inj.choice(("1", "2"))), 0, los, cost,
                    g["drg_code"])
    inj.label("E04", enc.mdtrt_id, Decimal(0), "mdtrt", f"{g['drg_code']} 服务不足 住院 {los} 日")


INJECTIONS: dict[str, Callable[[Injector, int], None]] = {
    name[len("inject_"):].upper(): fn for name, fn in sorted(globals().items()) if name.startswith("inject_")
}
