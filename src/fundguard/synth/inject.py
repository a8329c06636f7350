"""Injected violations: one small documented function per catalog rule, each on fresh persons.

Every case creates the flags of its rule that its labels list and nothing else: it uses new persons (so
no history interferes), items whose only restriction is the one being broken (picked from the edition),
and settlements with fund payment. `vola_amt` follows rule-catalog.md, computed from the drawn values:
cents, rounded half away from zero. Where the catalog leaves a reading open, the function's docstring
says which reading the label uses.

Each case draws its free choices from its own stream, PCG64([seed, CASE_STREAM, rule, k]): the item, the
day (anywhere in the period where the case fits, often a calendar edge), the region, institution and
doctor, quantities, prices (at or below any ceiling), supply days, gaps, lengths of stay and how far past
the threshold it goes (often the smallest violating step), and which branch of the rule it takes (B03's
scopes, B04's cheaper side, B06/B07's shapes, C06's refunds, D06's empty or absent days, maternity med_types
51/52 where a rule counts them). Same seed → same bytes; another seed → other shapes.

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
    refund_of: str | int | None = None  # the refunded line: its feedetl_sn, or its index among the encounter's lines


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
                    "orig_feedetl_sn": sns[ln.refund_of] if isinstance(ln.refund_of, int) else ln.refund_of,
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


DAILY = (BED, NURSE, INP_CONSULT)
LEVEL_CARE = ("00120100003", "00120100004", "00120100005")  # Ⅰ级 / Ⅱ级 / Ⅲ级护理 and their sub-items  # the fees `Injector.stay` bills on every day of a stay
MATERNITY_DIAGS = (("O80.000", "单胎顺产"), ("O82.000", "剖宫产术分娩"))
ANTENATAL = "003112010230000"  # 产前检查 (women only)


def _clock(minute: int) -> tuple[int, str]:
    """(day, "HH:MM") of a time given in minutes from the case's day 0 at 00:00."""
    return minute // 1440, f"{minute % 1440 // 60:02d}:{minute % 60:02d}"


def _inpatient(inj: Injector, maternity: bool, gend: str | None = None, age: tuple[int, int] = (18, 85)):
    """A fresh person for a stay with the stay's med_type and diagnoses: a maternity stay (52, a woman of
    22–38, a delivery diagnosis) or a general one (21, pneumonia)."""
    if maternity:
        return inj.person(gend="2", age=inj.ri(22, 38)), "52", (inj.choice(MATERNITY_DIAGS),)
    return inj.person(gend=gend or _sex(inj), age=inj.ri(*age)), "21", (("J18.900", "肺炎"),)


def _exclusive(inj: Injector, a: str, b: str) -> bool:
    """True when `a` and `b` form a kb_exclusive pair (in some scope; `*` entries match by prefix)."""

    def hit(code: str, patterns: set[str]) -> bool:
        return any(code == p or (p.endswith("*") and code.startswith(p[:-1])) for p in patterns)

    return hit(b, inj.kn.exclusive_partners(a)) or hit(a, inj.kn.exclusive_partners(b))


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


def _diags(inj: Injector, code: str, name: str | None) -> tuple:
    """The case's diagnosis (named as the knowledge entry names it) alone, or after the generic one (any
    diagnosis of the encounter counts)."""
    named = (code, name or code)
    return (named,) if inj.chance(0.5) else (GENERIC_DIAG, named)


def inject_a03(inj: Injector, k: int) -> None:
    """A03: a diagnosis limited to one sex on an encounter of the other sex (main or secondary); amount 0."""
    rows = sorted((r["diag_prefix"], r["gend"], r.get("diag_name")) for r in inj.kn.diag_rows("kb_diag_gender"))
    rows = [r for r in rows if inj.kn.diag_age(_diag_code(r[0])) == (0, 200)]
    prefix, gend, name = inj.choice(rows)
    inj.place(1)
    psn = inj.person(gend="2" if gend == "1" else "1", age=_adult(inj))
    enc = inj.visit(psn, inj.inst(inj.choice(("1", "2"))), 0, [Line(CONSULT)], diags=_diags(inj, _diag_code(prefix), name),
                    hhmm=inj.hhmm())
    inj.label("A03", enc.mdtrt_id, Decimal(0), "mdtrt", f"诊断 {prefix} 限{gend}")


def inject_a04(inj: Injector, k: int) -> None:
    """A04: a diagnosis with an age band on a person outside it (1–15 years above or 1–10 below,
    or turning max + 1 on the encounter day / turning min the day after: the smallest violation); amount 0."""
    rows = sorted((r["diag_prefix"], r["min_age"], r["max_age"], r.get("diag_name")) for r in inj.kn.diag_rows("kb_diag_age"))
    prefix, lo, hi, name = inj.choice(rows)
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
    enc = inj.visit(psn, inj.inst(inj.choice(("1", "2"))), 0, [Line(CONSULT)], diags=_diags(inj, code, name),
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


SCOPE_NAMES = {"hour": "同一钟点", "6h": "6小时内", "day": "同一天", "mdtrt": "同一就诊"}


def inject_b03(inj: Injector, k: int) -> None:
    """B03: a bundle's main item and one of its parts (1–3 units within its limits) inside the pair's
    scope, for every scope the edition's usable pairs have (one drawn evenly, then a pair of it):
    `hour` on a visit, both in one clock hour (often hh:00 and hh:59); `day` on a visit (often from its
    start to 23:59) or on an inner day of a stay (often 00:00 and 23:59); `6h` on a stay, the part up to
    6 hours before or after the main item (often exactly 6 hours, maybe across midnight; the edition's
    6h pairs are delivery items: a maternity stay 52); `mdtrt` on a stay, anywhere from admission to the
    discharge morning (often on the first and the last day). About a third of the hour cases, 6h cases and
    day cases on a stay bill the part once more just outside the scope (the next clock hour, 6 h 1 min or
    more away, the day before or after), which is not flagged. Amount = the in-scope part line."""
    scope, pairs = inj.choice(inj.memo("B03", lambda: _bundle_pairs(inj)))
    main, part = inj.choice(pairs)
    gend = main.gend or part.gend
    budget = min([3, *part.limits.values()])  # units of the part over the whole case: within every limit
    cnt = inj.ri(1, budget)
    outside = budget > cnt and scope != "mdtrt" and inj.chance(0.35)
    daily_ok = not any(inj.kn.conflicts(x.code, d) for x in (main, part) for d in DAILY)
    on_stay = scope in ("6h", "mdtrt") or (scope == "day" and daily_ok and inj.chance(0.5))
    edge = inj.chance(0.4)
    t_out = None
    if not on_stay:
        # a visit on day 0; times in minutes of that day
        if scope == "hour":
            h = inj.ri(7, 19)
            begin = h * 60
            m1, m2 = (0, 59) if edge else sorted(inj.rng.choice(60, 2, replace=False).tolist())
            t_main, t_part = (begin + m1, begin + m2) if inj.chance(0.5) else (begin + m2, begin + m1)
            t_out = (h + 1) * 60 + (0 if edge else inj.ri(0, 59))
        else:
            begin = inj.ri(7 * 60, 19 * 60 + 59)
            a, b = (begin, 1439) if edge else sorted(inj.rng.choice(np.arange(begin, 1440), 2, replace=False).tolist())
            t_main, t_part = (a, b) if inj.chance(0.5) else (b, a)
    else:
        los = inj.ri(1, 8) if scope == "mdtrt" else inj.ri(2, 6)
        begin = inj.ri(7 * 60, 9 * 60 + 59)
        lo, hi = begin, los * 1440 + 9 * 60 + 59  # admission .. the discharge morning (discharge at 10:00)
        if scope == "day":
            d = inj.ri(1, los - 1)
            a, b = (0, 1439) if edge else sorted(inj.rng.choice(1440, 2, replace=False).tolist())
            t_main, t_part = (d * 1440 + a, d * 1440 + b) if inj.chance(0.5) else (d * 1440 + b, d * 1440 + a)
            if inj.chance(0.5):
                t_out = (d - 1) * 1440 + (1439 if edge else inj.ri(lo if d == 1 else 0, 1439))
            else:
                t_out = (d + 1) * 1440 + (0 if edge else inj.ri(0, 1439 if d + 1 < los else 9 * 60 + 59))
        elif scope == "6h":
            t_main = inj.ri(1, los - 1) * 1440 + inj.ri(0, 1439)
            t_part = t_main + (inj.choice((-360, 360)) if edge else inj.ri(-360, 360))
            gap = 361 if edge else inj.ri(361, 720)
            options = [t for t in (t_main - gap, t_main + gap) if lo <= t <= hi]
            t_out = inj.choice(options) if options else None
        else:
            if edge:
                first, last = inj.ri(lo, lo + 120), inj.ri(los * 1440, hi)
                t_main, t_part = (first, last) if inj.chance(0.5) else (last, first)
            else:
                t_main, t_part = (int(t) for t in inj.rng.choice(np.arange(lo, hi + 1), 2, replace=False))
    price = inj.price(part)
    (dm, am), (dp, ap) = _clock(t_main), _clock(t_part)
    lines = [Line(main.code, price=inj.price(main), day=dm, at=am), Line(part.code, cnt=cnt, price=price, day=dp, at=ap)]
    if outside and t_out is not None:
        do, ao = _clock(t_out)
        lines.append(Line(part.code, cnt=inj.ri(1, budget - cnt), price=price, day=do, at=ao))
    if on_stay:
        psn, med_type, diags = _inpatient(inj, gend == "2" and (scope == "6h" or inj.chance(0.5)), gend=gend)
        inj.place(los + 1, key=dp)
        enc = inj.stay(psn, inj.inst(inj.choice(("1", "2"))), 0, los, lines, med_type=med_type, diags=diags,
                       hhmm=_clock(begin)[1])
    else:
        inj.place(1)
        enc = inj.visit(inj.person(gend=gend or _sex(inj), age=_adult(inj)), inj.inst(inj.choice(("1", "2"))), 0,
                        lines, hhmm=_clock(begin)[1])
    where = f"住院第{dp}日 {ap}" if on_stay else ap
    inj.label("B03", enc.sns[1], enc.amounts[1], "line",
              f"{main.name} 已含 {part.name}（{SCOPE_NAMES[scope]}）{where} ×{cnt}")


def _bundle_pairs(inj: Injector) -> list[tuple[str, list[tuple[Item, Item]]]]:
    """Usable kb_bundle pairs by scope: no drug and no bed or nursing fee (B06/B07), neither item
    restricted beyond unit limits and one sex (the same for both), main and part neither exclusive nor
    each other's part; pairs of the scopes billed on a stay (6h, mdtrt) also clear of the daily bed,
    nursing and ward-round fees."""
    by_scope: dict[str, list[tuple[Item, Item]]] = {}
    rows = sorted((r["scope"], r["bundle_code"], r["part_code"]) for r in inj.kn.tables["kb_bundle"].to_pylist())
    for scope, main, part in rows:
        if main.endswith("*") or part.endswith("*") or not (inj.kn.has(main) and inj.kn.has(part)):
            continue
        a, b = inj.kn.item(main), inj.kn.item(part)
        if a.chrgitm_type in ("01", "07") or b.chrgitm_type in ("01", "07") or a.is_drug or b.is_drug:
            continue
        if a.attribute_restrictions() - {"limits", "gend"} or b.attribute_restrictions() - {"limits", "gend"}:
            continue
        if a.gend and b.gend and a.gend != b.gend:
            continue
        if _exclusive(inj, main, part) or main in inj.kn.bundle_parts(part):
            continue
        if scope in ("6h", "mdtrt") and any(inj.kn.conflicts(x, d) for x in (main, part) for d in DAILY):
            continue
        by_scope.setdefault(scope, []).append((a, b))
    return sorted(by_scope.items())


def inject_b04(inj: Injector, k: int) -> None:
    """B04: both items of an exclusive pair in one bucket of its scope — a visit, or (a `day` pair of
    examinations, sometimes) one day of a stay with one side billed once more on another day, outside
    the bucket. Each side is billed at one drawn unit price (at or below its ceiling) over one or two
    lines: 1–3 units, within its limits; often the side of the lower unit price gets just enough units
    for the larger amount (up to 24, within its limits), sometimes both sides have the same price and
    units (a tie). The side with the smaller total in the bucket is flagged (ties: side b), each of its
    lines for its amount."""
    ia, ib, scope = inj.choice(inj.memo("B04", lambda: _exclusive_pairs(inj)))
    items = (ia, ib)
    caps = [min(i.limits.values()) if i.limits else None for i in items]
    prices = [inj.price(ia), inj.price(ib)]
    units = [inj.ri(1, min(3, c or 3)) for c in caps]
    shape = inj.rng.random()
    if shape < 0.15:
        prices = [min(prices)] * 2  # at or below both ceilings
        units = [inj.ri(1, min(3, caps[0] or 3, caps[1] or 3))] * 2
    elif shape < 0.65 and prices[0] != prices[1]:
        lo = 0 if prices[0] < prices[1] else 1
        hi = 1 - lo
        units[hi] = inj.ri(1, min(2, caps[hi] or 2))
        top = min(caps[lo] or 4, 24)
        need = next((u for u in range(1, top + 1) if money(u * prices[lo]) > money(units[hi] * prices[hi])), None)
        if need is not None:
            units[lo] = need if inj.chance(0.5) else inj.ri(need, min(top, need + 2))
    parts = [_split(inj, u, 2 if u > 1 and inj.chance(0.35) else 1) for u in units]
    bucket = [(side, c) for side in (0, 1) for c in parts[side]]
    bucket = [bucket[i] for i in inj.rng.permutation(len(bucket))]
    stay_ok = scope == "day" and all(i.chrgitm_type != "02" for i in items) and not any(
        inj.kn.conflicts(i.code, d) for i in items for d in DAILY)
    if stay_ok and inj.chance(0.3):
        los = inj.ri(2, 8)
        day = inj.ri(0, los - 1)
        minutes = sorted(inj.rng.choice(np.arange(10 * 60, 22 * 60), len(bucket), replace=False).tolist())
        lines = [Line(items[s].code, cnt=c, price=prices[s], day=day, at=_clock(m)[1])
                 for (s, c), m in zip(bucket, minutes, strict=True)]
        # one side again on another day: a bucket of its own, without the other side
        sides = [s for s in (0, 1) if units[s] + 1 <= items[s].limits.get("mdtrt", 10**9)]
        if sides and inj.chance(0.6):
            s = inj.choice(sides)
            other_day = inj.choice([d for d in range(los) if d != day])
            lines.append(Line(items[s].code, cnt=1, price=prices[s], day=other_day, at=_clock(inj.ri(600, 1319))[1]))
        inj.place(los + 1, key=day)
        psn, med_type, diags = _inpatient(inj, False)
        enc = inj.stay(psn, inj.inst(inj.choice(("1", "2"))), 0, los, lines, med_type=med_type, diags=diags,
                       hhmm=inj.hhmm(7, 9))
        where = f"住院第{day}日"
    else:
        lines = [Line(items[s].code, cnt=c, price=prices[s]) for s, c in bucket]
        inj.place(1)
        enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inj.inst(inj.choice(("1", "2"))), 0, lines,
                        hhmm=inj.hhmm())
        where = "同次门诊"
    totals = [sum((enc.amounts[i] for i, (s, _) in enumerate(bucket) if s == side), Decimal(0)) for side in (0, 1)]
    flagged = 0 if totals[0] < totals[1] else 1
    for i, (s, _) in enumerate(bucket):
        if s == flagged:
            inj.label("B04", enc.sns[i], enc.amounts[i], "line",
                      f"{items[s].name} 与 {items[1 - s].name} 互斥（{where}），{totals[s]} 对 {totals[1 - s]}")


def _exclusive_pairs(inj: Injector) -> list[tuple[Item, Item, str]]:
    """Usable kb_exclusive pairs (a, b, scope): plain items or items with unit limits only, no bed or
    nursing fee (B06/B07), not in a bundle with each other. Pairs of equal catalog prices are kept: the
    rule flags side b on a tie."""
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
        if ia.chrgitm_type in ("01", "07") or ib.chrgitm_type in ("01", "07"):
            continue
        if b in inj.kn.bundle_parts(a) or a in inj.kn.bundle_parts(b):
            continue
        pairs.append((ia, ib, r["scope"]))
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


def _day_fees(inj: Injector, code: str) -> tuple[list[Item], list[Item]]:
    """Other fees of the same kind as `code` (beds 001109…, levels of nursing 0012010000…; no newborn
    fees, unit limits at most): (those exclusive with `code`, those billable beside it). None of them is
    in a bundle or exclusive pair with the other daily fees."""

    def build() -> list[tuple[list[Item], list[Item]]]:
        base = inj.kn.item(code)
        # beds: any 001109…; nursing: the daily levels of care only (Ⅰ/Ⅱ/Ⅲ级护理, what B07 counts as nursing
        # days; 特级护理 is billed by the hour, special and per-procedure nursing beside them are not days)
        prefixes = ("001109",) if code == BED else LEVEL_CARE
        exclusive, beside = [], []
        for c in sorted(r["hilist_code"] for r in inj.kn.hilist_rows()):
            if c == code or not c.startswith(prefixes):
                continue
            it = inj.kn.item(c)
            if it.chrgitm_type != base.chrgitm_type or it.attribute_restrictions() - {"limits"} or "新生儿" in it.name:
                continue
            if any(inj.kn.conflicts(c, d) for d in DAILY if d != code):
                continue
            if c in inj.kn.bundle_parts(code) or code in inj.kn.bundle_parts(c):
                continue
            (exclusive if _exclusive(inj, c, code) else beside).append(it)
        return [(exclusive, beside)]

    return inj.memo(f"day_fees:{code}", build)[0]


def _bed_nurse(inj: Injector, rule: str, code: str) -> None:
    """B06/B07: a stay of L days (L = 1–12; discharge date − admission date; sometimes a maternity stay
    52) billed more units of the charge type of `code` (bed 01 / nursing 07) than L, one of three ways,
    never above a fee's own per-day limit:
    - `code` once on each of the L + 1 calendar days from admission to discharge (1 unit too many);
    - a change of level: a fee exclusive with `code` (监护病房床位费, Ⅰ级护理…) on the first days and `code`
      on the rest, or the other way round, never both on one day (1 too many, on the discharge day);
    - double billing: `code` on L or L + 1 days and a fee billable beside it (单人间床位费…; for nursing there is none: the levels of care exclude one another) on
      some days, or on one line of several units when it has no per-day limit (1–4 units too many).
    Amount: the units taken in (fee time, line) order, what goes beyond L falls on the latest lines, each
    valued at its own unit price (a line may be partly beyond)."""
    los = inj.ri(1, 12)
    item = inj.kn.item(code)
    other = NURSE if code == BED else BED
    exclusive, beside = _day_fees(inj, code)
    price = inj.price(item)
    shape = inj.choice([s for s, pool in (("one", [0]), ("change", exclusive), ("double", beside)) if pool])
    fees: list[tuple[int, str, Item, int, Decimal]] = []  # (day, "HH:MM", item, units, unit price)
    if shape == "one":
        fees = [(d, "08:00", item, 1, price) for d in range(los + 1)]
    elif shape == "change":
        second = inj.choice(exclusive)
        first_fee, later_fee = (second, inj.price(second)), (item, price)
        if inj.chance(0.5):
            first_fee, later_fee = later_fee, first_fee
        switch = inj.ri(1, los)
        for d in range(los + 1):
            fee, p = first_fee if d < switch else later_fee
            fees.append((d, "08:00", fee, 1, p))
    else:
        second = inj.choice(beside)
        p2 = inj.price(second)
        days = los + 1 if inj.chance(0.5) else los
        fees = [(d, "08:00", item, 1, price) for d in range(days)]
        extra = inj.ri(1, 4 - (days - los))
        if not second.limits and inj.chance(0.4):
            fees.append((los, _clock(inj.ri(8 * 60 + 30, 9 * 60 + 59))[1], second, extra, p2))
        else:
            for d in sorted(inj.rng.choice(los + 1, min(extra, los + 1), replace=False).tolist()):
                hi = 9 * 60 + 59 if d == los else 21 * 60 + 59
                fees.append((d, _clock(inj.ri(8 * 60 + 1, hi))[1], second, 1, p2))
    cum, amount = 0, Decimal(0)
    for i in sorted(range(len(fees)), key=lambda i: (fees[i][0], fees[i][1], i)):
        cnt, p = fees[i][3], fees[i][4]
        cum += cnt
        amount += min(cnt, max(0, cum - los)) * p
    lines = [Line(it.code, cnt=cnt, price=p, day=d, at=at) for d, at, it, cnt, p in fees]
    lines += [Line(other, day=d) for d in range(los)] + [Line(INP_CONSULT, day=d) for d in range(los + 1)]
    inj.place(los + 1, key=los)
    psn, med_type, diags = _inpatient(inj, inj.chance(0.2))
    enc = inj.stay(psn, inj.inst(inj.choice(("1", "2", "3"))), 0, los, lines, daily=False, med_type=med_type,
                   diags=diags, hhmm=inj.hhmm(7, 7))
    name = "床位费" if code == BED else "护理"
    billed = sum(f[3] for f in fees)
    inj.label(rule, enc.mdtrt_id, amount, "mdtrt", f"{name} {billed} 日（{shape}），住院 {los} 日")


def inject_b06(inj: Injector, k: int) -> None:
    """B06: more bed units than the stay's days (see `_bed_nurse`); amount = the 1–4 units
    beyond the stay's days, each at its price."""
    _bed_nurse(inj, "B06", BED)


def inject_b07(inj: Injector, k: int) -> None:
    """B07: nursing on one day more than the stay's length (see `_bed_nurse`); amount = the
    unit beyond the stay's days at its price."""
    _bed_nurse(inj, "B07", NURSE)


def inject_b09(inj: Injector, k: int) -> None:
    """B09: operations of one group on one day of a stay, 2 or 3 of them at full price: the catalog price
    (`pric_uplmt_amt`, which is also B01's ceiling, so full price is the ceiling; sometimes a fraction of a
    cent above it, within B01's 0.005 tolerance); the group's priced items, one repeated when there are
    fewer. Often also one operation of the group below full price (at the 50% discount, or partly
    discounted: not ranked, not flagged), one group item without a catalog price (not checked) or a
    full-price operation on another day (alone on its day). Lines are billed in an order drawn apart
    from their times. Ranked by catalog price (highest first: the main operation; ties in time order),
    every full-price line of the day after the first is flagged for (pric − 50% × catalog price) × cnt
    (cnt 1, sometimes 2), and the first for its units after the first (cnt − 1)."""
    group, items = inj.choice(inj.memo("B09", lambda: _oprn_groups(inj)))
    los = inj.ri(3, 10)
    op_day = inj.ri(0, los - 1)
    n_full = 3 if inj.chance(0.35) else 2
    picks = [items[i] for i in inj.rng.permutation(len(items))[:n_full]]
    while len(picks) < n_full:
        picks.append(inj.choice(items))
    ops: list[tuple[Item, int, Decimal, int, bool]] = []  # (item, day, unit price, cnt, at full price)
    for op in picks:
        price = Decimal(op.ceiling) + (Decimal(inj.ri(1, 50)) / 10_000 if inj.chance(0.15) else 0)
        ops.append((op, op_day, price, 2 if inj.chance(0.1) else 1, True))
    if inj.chance(0.3):
        op = inj.choice(items)
        pct = 50 if inj.chance(0.5) else inj.ri(51, 99)
        ops.append((op, op_day, money(Decimal(op.ceiling) * pct / 100), 1, False))
    unpriced = inj.memo("B09:unpriced", lambda: [_oprn_items(inj, priced=False)])[0].get(group, [])
    if unpriced and inj.chance(0.2):
        op = inj.choice(unpriced)
        ops.append((op, op_day, inj.price(op), 1, False))
    if inj.chance(0.2):
        other_day = inj.choice([d for d in range(los) if d != op_day])
        op = inj.choice(items)
        ops.append((op, other_day, Decimal(op.ceiling), 1, True))
    order = inj.rng.permutation(len(ops)).tolist()  # billing order (feedetl_sn) of the operations
    ops = [ops[i] for i in order]
    hour = inj.ri(8, 14)
    same_day = [i for i, o in enumerate(ops) if o[1] == op_day]
    minutes = sorted(inj.rng.choice(240, len(same_day), replace=False).tolist())
    times = {i: hour * 60 + m for i, m in zip([same_day[j] for j in inj.rng.permutation(len(same_day))], minutes,
                                               strict=True)}
    for i, o in enumerate(ops):
        if o[1] != op_day:
            times[i] = inj.ri(8 * 60, 16 * 60)
    lines = [Line(o[0].code, cnt=o[3], price=o[2], day=o[1], at=_clock(times[i])[1]) for i, o in enumerate(ops)]
    lines += [Line(CBC, day=d, at="07:30") for d in range(los)]
    inj.place(los + 1, key=op_day)
    inst = inj.inst("1")
    enc = inj.stay(inj.person(gend=_sex(inj), age=inj.ri(40, 80)), inst, 0, los, lines,
                   doctor=inj.doctor(inst, "1", "1"), diags=(("C15.900", "食管恶性肿瘤"),))
    first = _clock(min(times[i] for i in same_day))[1]
    inj.rows["oprn"] += [
        {"mdtrt_id": enc.mdtrt_id, "oprn_srt_no": 1, "oprn_oprt_code": "42.4100x001", "oprn_date": inj.at(op_day, first)},
        {"mdtrt_id": enc.mdtrt_id, "oprn_srt_no": 2, "oprn_oprt_code": "42.8500", "oprn_date": inj.at(op_day, first)},
    ]
    # the main operation is the one with the highest catalog price (ties: the earlier one)
    full = sorted((i for i in same_day if ops[i][4]), key=lambda i: (-Decimal(ops[i][0].ceiling), times[i], i))
    # every unit after the first is a second operation: all of a later line's, the main line's after its first
    for rank, i in enumerate(full, start=1):
        op, _, price, cnt, _ = ops[i]
        units = cnt if rank >= 2 else cnt - 1
        if units > 0:
            inj.label("B09", enc.sns[i], (price - Decimal(op.ceiling) * Decimal("0.5")) * units, "line",
                      f"{group} 同日按目录价第{rank}项全价手术 {price} ×{units}")


def _oprn_items(inj: Injector, priced: bool) -> dict[str, list[Item]]:
    """Items of each operation group with (or without) a catalog price, restricted by nothing but the group
    and the doctor's title (B09 checks the priced ones only)."""
    out: dict[str, list[Item]] = {}
    for r in sorted(inj.kn.tables["kb_oprn_group"].to_pylist(), key=lambda r: r["hilist_code"]):
        code = r["hilist_code"]
        if code.endswith("*") or not inj.kn.has(code):
            continue
        item = inj.kn.item(code)
        if (item.ceiling is not None) == priced and item.attribute_restrictions() <= {"oprn_group", "max_profttl"}:
            out.setdefault(r["group_name"], []).append(item)
    return out


def _oprn_groups(inj: Injector) -> list[tuple[str, list[Item]]]:
    groups = _oprn_items(inj, priced=True)
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
    """C06: one traceability code on 2–4 sales (to different persons, at clinics or pharmacies, 0–30 days
    apart, in increasing fee time). A sale may be refunded on its encounter 30–120 minutes later (a
    negative line with orig_feedetl_sn): in full — often the first sale, the box going back on the shelf
    — so that it is no sale and the next one is the legitimate first; or in part (a partly refunded line
    is still a sale of its codes). Among the active sales, every one after the first is flagged for its
    amount after refunds; at least one is."""
    item = _plain_drug(inj, k, days_ok=lambda i: (i.max_prd_days or 7) >= 3 and (i.max_daily_cnt or 1) >= 1, trac=True)
    code = inj.trac_code(item)
    first_refunded = inj.chance(0.4)
    n = inj.ri(3, 4) if first_refunded else inj.ri(2, 4)
    refunds: list[str | None] = ["full" if first_refunded else None]
    for _ in range(1, n):
        r = inj.rng.random()
        refunds.append("full" if r < 0.15 else "part" if r < 0.35 else None)
    for i in range(n - 1, 0, -1):  # at least two active sales
        if sum(r != "full" for r in refunds) >= 2:
            break
        if refunds[i] == "full":
            refunds[i] = None
    days = sorted(inj.ri(0, 30) for _ in range(n))
    times = _times(inj, n)
    inj.place(days[-1] + 1, key=days[-1])
    active = 0
    for d, t, refund in zip(days, times, refunds, strict=True):
        med_type, inst = _outpatient(inj, ("11", "41"))
        sale = inj.line(item, trac=code)
        lines = [sale]
        if refund == "part" and sale.cnt < 2:
            refund = None
        if refund:
            back = sale.cnt if refund == "full" else inj.ri(1, sale.cnt - 1)
            h, m = (int(x) for x in t.split(":"))
            lines.append(Line(item.code, cnt=-back, price=sale.price, prd=sale.prd, refund_of=0,
                              at=_clock(h * 60 + m + inj.ri(30, 120))[1]))
        enc = inj.visit(inj.person(gend=_sex(inj), age=_adult(inj)), inst, d, lines, med_type=med_type, hhmm=t)
        if refund == "full":
            continue
        active += 1
        if active > 1:
            inj.label("C06", enc.sns[0], sum(enc.amounts, Decimal(0)), "line",
                      f"{item.name} 追溯码 {code} 第{active}次有效销售" + ("（部分退费）" if refund else ""))


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
    """D03: an outpatient or pharmacy encounter (11, 14, 41; for a woman also 51, maternity outpatient) on
    a day strictly inside a stay of 2–10 days (day 1 to the day before discharge, often the first or last
    such day; sometimes a maternity stay 52); amount = its fund payment."""
    los = inj.ri(2, 10)
    day = inj.choice((1, los - 1)) if inj.chance(0.5) else inj.ri(1, los - 1)
    inj.place(los + 1, key=day)
    maternity = inj.chance(0.25)
    gend = "2" if maternity else _sex(inj)
    psn, stay_type, diags = _inpatient(inj, maternity, gend=gend, age=(20, 85))
    stay_inst = inj.inst(inj.choice(("1", "2")))
    inj.stay(psn, stay_inst, 0, los, _daily(inj, los), daily=False, med_type=stay_type, diags=diags,
             hhmm=inj.hhmm(7, 11))
    kinds = ("11", "14", "41", "51") if gend == "2" else ("11", "14", "41")
    med_type, inst = _outpatient(inj, kinds)
    while inst == stay_inst:  # another institution: nothing reads as a visit around the stay (E03)
        med_type, inst = _outpatient(inj, kinds)
    visit_diags = (GENERIC_DIAG,)
    if med_type == "41":
        lines = [inj.line(_plain_drug(inj, k))]
    elif med_type == "51":
        visit_diags = (("Z34.900", "正常妊娠监督"),)
        lines = [_clinic_line(inj, inst), Line(ANTENATAL, price=inj.price(inj.kn.item(ANTENATAL)))]
    else:
        lines = [_clinic_line(inj, inst), Line(CBC, price=inj.price(inj.kn.item(CBC)))]
    enc = inj.visit(psn, inst, day, lines, med_type=med_type, hhmm=inj.hhmm(), diags=visit_diags)
    inj.label("D03", enc.mdtrt_id, enc.hifp, "mdtrt", f"{stay_type}住院第 {day} 日{med_type}结算")


def inject_d04(inj: Injector, k: int) -> None:
    """D04: 1–2 encounters 1–30 days after the recorded death (often the next day), after one visit on
    a day up to and including the day of death (not flagged); each later one is flagged for its fund payment."""
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
    """D05: readmission to the same hospital 0–15 days after a discharge (half the time 0 or 15, else any; 0 =
    admitted later on the discharge day) that was not a transfer, main diagnoses of one category (maybe different
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
    """D06 by either branch or both, on a stay of L days (calendar days from admission to the day before
    discharge; sometimes a maternity stay 52) with bed and nursing on every day, E of the days with
    nothing else (empty days), and presence check-ins with result 2 (absent) on A distinct dates:
    - empty days: L = 3–12, E from half of L (rounded up: the smallest share flagged) to L, at most one
      absent date;
    - absences: L = 1–12, E below half of L (any E when L < 3), A = 2–4 dates from admission to the
      discharge morning, sometimes the last day and the discharge date (a check-in on the discharge date
      counts for the last day: two dates, one day), sometimes two check-ins on one date;
    - both: L = 3–12, E from half of L, A = 2–4.
    The other days may have a passed check-in (result 1). Amount = hifp × |empty days ∪ absent days| / L
    when the empty days make a finding (L ≥ 3 and E ≥ L / 2), else hifp × |absent days| / L."""
    r = inj.rng.random()
    mode = "empty" if r < 0.4 else "absent" if r < 0.8 else "both"
    if mode == "absent":
        los = inj.ri(1, 12)
        half = (los + 1) // 2
        empty = inj.ri(0, half - 1) if los >= 3 else inj.ri(0, los)
    else:
        los = inj.ri(3, 12)
        half = (los + 1) // 2
        empty = half if inj.chance(0.5) else inj.ri(half, los)
    n_absent = inj.ri(0, 1) if mode == "empty" else inj.ri(2, min(4, los + 1))
    empties = set(inj.rng.choice(los, empty, replace=False).tolist())
    if n_absent >= 2 and inj.chance(0.25):
        rest = min(n_absent - 2, los - 1)
        absent = [los - 1, los] + (inj.rng.choice(los - 1, rest, replace=False).tolist() if rest else [])
    else:
        absent = inj.rng.choice(los + 1, n_absent, replace=False).tolist()
    lines = [Line(BED, day=d) for d in range(los)] + [Line(NURSE, day=d) for d in range(los)]
    for d in range(los):
        if d not in empties:
            lines += [Line(INP_CONSULT, day=d), Line(CBC, day=d, price=inj.price(inj.kn.item(CBC)))]
    inj.place(los + 1)
    psn, med_type, diags = _inpatient(inj, inj.chance(0.2), age=(40, 90))
    enc = inj.stay(psn, inj.inst(inj.choice(("1", "2", "3"))), 0, los, lines, daily=False, med_type=med_type,
                   diags=diags, hhmm=inj.hhmm(7, 9))

    def when(d: int, n: int) -> list[dt.datetime]:
        """`n` distinct check-in times on day `d`, from noon on the admission day to the discharge morning."""
        lo, hi = (12 * 60, 21 * 60 + 59) if d == 0 else (7 * 60, 9 * 60 + 59) if d == los else (8 * 60, 21 * 60 + 59)
        return [inj.at(d, _clock(int(m))[1]) for m in inj.rng.choice(np.arange(lo, hi + 1), n, replace=False)]

    checks = []
    for d in range(los + 1):
        if d in absent:
            checks += [(t, "2") for t in when(d, 2 if inj.chance(0.2) else 1)]
        elif inj.chance(0.4):
            checks += [(t, "1") for t in when(d, 1)]
    inj.rows["checkin"] += [{"mdtrt_id": enc.mdtrt_id, "chk_time": t, "result": res} for t, res in sorted(checks)]
    empty_finding = los >= 3 and empty >= half
    unpaid = (empties if empty_finding else set()) | {min(d, los - 1) for d in absent}
    inj.label("D06", enc.mdtrt_id, enc.hifp * len(unpaid) / los, "mdtrt",
              f"{med_type}住院 {los} 日：{empty} 日仅床位护理，{len(set(absent))} 日不在院，计 {len(unpaid)} 日")


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
