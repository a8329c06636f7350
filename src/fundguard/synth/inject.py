"""Injected violations: one small documented function per catalog rule, each on fresh persons.

Every case creates exactly one flag of its rule and nothing else: it uses new persons (so no history
interferes), items whose only restriction is the one being broken (picked from the edition), and
settlements with fund payment. `vola_amt` follows rule-catalog.md: cents, rounded half away from zero.
Where the catalog leaves a reading open, the function's docstring says which reading the label uses.

Not injected: A08 (needs a complete catalog; the default edition declares it incomplete, so the rule
is skipped), B08 (real-time only: needs the HIS orders), M01–M04 (screening models, not verdicts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

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

    # ---- building blocks -----------------------------------------------------------------------------

    def inst(self, level: str, region: int = 0, k: int = 0) -> int:
        found = self.world.by(region, (level,))
        return int(found[k % len(found)])

    def doctor(self, inst: int, max_title: str = "9", min_title: str = "1") -> str:
        """A practitioner of `inst` with title between `min_title` (higher) and `max_title` (lower)."""
        w = self.world
        rank = {"1": 1, "2": 2, "3": 3, "4": 4, "9": 5}
        for d in range(int(w.doc_start[inst]), int(w.doc_start[inst] + w.doc_count[inst])):
            if rank[min_title] <= rank[w.doc_title[d]] <= rank[max_title]:
                return w.doc_codes[d]
        raise LookupError(f"no practitioner with title {min_title}..{max_title} at {w.codes[inst]}")

    def person(self, gend: str = "1", age: int = 45, insutype: str = "310", death: int | None = None,
               region: int = 0) -> tuple[str, int]:
        self.counters.psn += 1
        psn_no = f"P{self.counters.psn:08d}"
        # birthday 150 days before the anchor's anniversary: the age holds for the next 200 days
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
             daily: bool = True) -> Enc:
        """An inpatient stay of `los` days; `daily` adds bed, nursing and ward-round fees on days 0..los-1."""
        begin = self.at(day, "08:30")
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

        pool = self.memo(key, build)
        return pool[(k * 7919) % len(pool)]

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


def inject_a01(inj: Injector, k: int) -> None:
    """A01: an item limited to one sex billed to a person of the other sex; amount = the line."""
    item = inj.pick("kb_item_gender", inj.only("gend"), k, key="A01")
    psn = inj.person(gend="2" if item.gend == "1" else "1", age=40)
    enc = inj.visit(psn, inj.inst("1"), 0, [inj.drug_line(item)])
    inj.label("A01", enc.sns[0], enc.amounts[0], "line", f"{item.name} 限{item.gend}")


def inject_a02(inj: Injector, k: int) -> None:
    """A02: an item with an age band billed outside it (a children's item for an adult); amount = the line."""
    item = inj.pick("kb_item_age", inj.only("age", "drug_days"), k, key="A02")
    age = item.max_age + 20 if item.max_age is not None else max(0, (item.min_age or 1) - 1)
    psn = inj.person(gend="1", age=age)
    dose = 1
    enc = inj.visit(psn, inj.inst("1"), 0, [inj.drug_line(item, dose=dose)])
    inj.label("A02", enc.sns[0], enc.amounts[0], "line", f"{item.name} 年龄 {age}")


def _diag_code(prefix: str) -> str:
    if len(prefix) == 1:
        return prefix + "99.900"
    if len(prefix) == 3:
        return prefix + ".900"
    return (prefix + "0000")[:7]


def inject_a03(inj: Injector, k: int) -> None:
    """A03: a diagnosis limited to one sex on an encounter of the other sex; amount 0."""
    rows = sorted((r["diag_prefix"], r["gend"]) for r in inj.kn.diag_rows("kb_diag_gender"))
    rows = [r for r in rows if inj.kn.diag_age(_diag_code(r[0])) == (0, 200)]
    prefix, gend = rows[(k * 7) % len(rows)]
    psn = inj.person(gend="2" if gend == "1" else "1", age=45)
    enc = inj.visit(psn, inj.inst("1"), 0, [Line(CONSULT)], diags=((_diag_code(prefix), "诊断"),))
    inj.label("A03", enc.mdtrt_id, Decimal(0), "mdtrt", f"诊断 {prefix} 限{gend}")


def inject_a04(inj: Injector, k: int) -> None:
    """A04: a diagnosis with an age band on a person outside it; amount 0."""
    rows = sorted((r["diag_prefix"], r["min_age"], r["max_age"]) for r in inj.kn.diag_rows("kb_diag_age"))
    prefix, lo, hi = rows[(k * 5) % len(rows)]
    code = _diag_code(prefix)
    age = hi + 15 if hi is not None and hi < 80 else max(0, (lo or 1) - 10)
    genders = inj.kn.diag_gender(code)
    psn = inj.person(gend=sorted(genders)[0] if genders else "1", age=age)
    enc = inj.visit(psn, inj.inst("1"), 0, [Line(CONSULT)], diags=((code, "诊断"),))
    inj.label("A04", enc.mdtrt_id, Decimal(0), "mdtrt", f"诊断 {prefix} 年龄 {age}")


def inject_a05(inj: Injector, k: int) -> None:
    """A05: an indication-limited item billed to the fund with none of its diagnoses, not approved."""
    item = inj.pick("kb_item_indication",
                    lambda i: inj.only("indications", "drug_days")(i) and "indications" in i.attribute_restrictions()
                    and not any(GENERIC_DIAG[0].startswith(p) for p in i.indications), k, key="A05")
    enc = inj.visit(inj.person(age=50), inj.inst("1"), 0, [inj.drug_line(item)])
    inj.label("A05", enc.sns[0], enc.amounts[0], "line", f"{item.name} 无适应症诊断")


def inject_a06(inj: Injector, k: int) -> None:
    """A06: an item allowed only from a level up, billed by a primary (一级) institution."""
    item = inj.pick("kb_item_medins_lv", lambda i: inj.only("max_lv", "drug_days")(i) and i.max_lv in ("1", "2"), k, key="A06")
    enc = inj.visit(inj.person(age=50), inj.inst("3"), 0, [inj.drug_line(item)])
    inj.label("A06", enc.sns[0], enc.amounts[0], "line", f"{item.name} 限{item.max_lv}级及以上")


def inject_a07(inj: Injector, k: int) -> None:
    """A07: an inpatient-only item billed on a general outpatient visit (med_type 11)."""
    item = inj.pick("kb_item_setting", inj.only("setting", "drug_days"), k, key="A07")
    enc = inj.visit(inj.person(age=50), inj.inst("1"), 0, [inj.drug_line(item)])
    inj.label("A07", enc.sns[0], enc.amounts[0], "line", f"{item.name} 限{item.setting}")


def inject_a09(inj: Injector, k: int) -> None:
    """A09: an item limited by doctor title ordered by a resident (初级, title 4)."""
    item = inj.pick("kb_item_title", lambda i: inj.only("max_profttl", "drug_days")(i) and i.max_profttl in ("1", "2", "3"), k, key="A09")
    inst = inj.inst("1")
    enc = inj.visit(inj.person(age=50), inst, 0, [inj.drug_line(item)], doctor=inj.doctor(inst, "4", "4"))
    inj.label("A09", enc.sns[0], enc.amounts[0], "line", f"{item.name} 限职称{item.max_profttl}")


def inject_a10(inj: Injector, k: int) -> None:
    """A10: a work-injury/maternity-only item billed to basic insurance (310) on a general visit."""
    item = inj.pick("kb_item_insutype", inj.only("insutype", "gend"), k, key="A10")
    gend = item.gend or "1"
    enc = inj.visit(inj.person(gend=gend, age=35, insutype="310"), inj.inst("1"), 0, [inj.drug_line(item)])
    inj.label("A10", enc.sns[0], enc.amounts[0], "line", f"{item.name} 限险种{item.insutype}")


# ---- B. charging -----------------------------------------------------------------------------------------


def _plain(inj: Injector, item: Item) -> bool:
    return not item.attribute_restrictions() and not item.is_drug and item.chrgitm_type not in ("01", "07")


def _priced_plain(inj: Injector) -> list[Item]:
    def build() -> list[Item]:
        items = [inj.kn.item(r["hilist_code"]) for r in inj.kn.hilist_rows() if r["pric_uplmt_amt"] is not None]
        return sorted((i for i in items if _plain(inj, i)), key=lambda i: i.code)

    return inj.memo("priced_plain", build)


def inject_b01(inj: Injector, k: int) -> None:
    """B01: price 1.50 above the ceiling, 2 units; amount = (pric − ceiling) × cnt = 3.00."""
    items = _priced_plain(inj)
    item = items[(k * 3) % len(items)]
    price = item.ceiling + Decimal("1.50")
    enc = inj.visit(inj.person(age=40), inj.inst("1"), 0, [Line(item.code, cnt=2, price=price)])
    inj.label("B01", enc.sns[0], (price - item.ceiling) * 2, "line", f"{item.name} 超限价")


def inject_b02(inj: Injector, k: int) -> None:
    """B02: (even k) one line 2 units over a per-day limit → 2 × pric on that line;
    (odd k) an unlimited item billed twice with identical quantity, price and time → the second line."""
    if k % 2 == 0:
        item = inj.pick("kb_item_limit", lambda i: set(i.limits) == {"day"} and i.attribute_restrictions() == {"limits"}
                        and i.chrgitm_type not in ("01", "07"), k, key="B02")
        cnt = item.limits["day"] + 2
        enc = inj.visit(inj.person(age=40), inj.inst("1"), 0, [Line(item.code, cnt=cnt)])
        inj.label("B02", enc.sns[0], 2 * item.price, "line", f"{item.name} 每日限{item.limits['day']}")
    else:
        items = _priced_plain(inj)
        item = items[(k * 5) % len(items)]
        lines = [Line(item.code, at="09:05"), Line(item.code, at="09:05")]
        enc = inj.visit(inj.person(age=40), inj.inst("1"), 0, lines)
        inj.label("B02", enc.sns[1], enc.amounts[1], "line", f"{item.name} 重复收费")


def inject_b03(inj: Injector, k: int) -> None:
    """B03: a bundle's main item and one of its parts in the same hour; amount = the part line."""
    usable = inj.memo("B03", lambda: _bundle_pairs(inj))
    main, part = usable[(k * 11) % len(usable)]
    enc = inj.visit(inj.person(age=40), inj.inst("1"), 0, [Line(main.code, at="09:05"), Line(part.code, at="09:10")])
    inj.label("B03", enc.sns[1], enc.amounts[1], "line", f"{main.name} 已含 {part.name}")


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
    """B04: both items of an exclusive pair on one day of one encounter; the cheaper line is flagged."""
    pairs = inj.memo("B04", lambda: _exclusive_pairs(inj))
    ia, ib = pairs[(k * 3) % len(pairs)]
    enc = inj.visit(inj.person(age=40), inj.inst("1"), 0, [Line(ia.code), Line(ib.code)])
    cheap = 0 if ia.price < ib.price else 1
    inj.label("B04", enc.sns[cheap], enc.amounts[cheap], "line", f"{ia.name} 与 {ib.name} 互斥")


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
    """B05: an item limited per encounter billed once more than allowed; the later line, 1 × pric."""
    item = inj.pick("kb_item_limit", lambda i: set(i.limits) == {"mdtrt"} and i.attribute_restrictions() == {"limits"}
                    and not i.is_drug, k, key="B05")
    lim = item.limits["mdtrt"]
    enc = inj.visit(inj.person(age=40), inj.inst("1"), 0, [Line(item.code, cnt=lim, at="09:05"), Line(item.code, cnt=1, at="10:30")])
    inj.label("B05", enc.sns[1], item.price, "line", f"{item.name} 每次就诊限{lim}")


def inject_b06(inj: Injector, k: int) -> None:
    """B06: a 4-day stay (los = discharge date − admission date) with bed fees on 5 days: 1 bed-day too many."""
    bed = inj.kn.item(BED)
    lines = [Line(BED, day=d, at="08:00") for d in range(5)] + [Line(NURSE, day=d) for d in range(4)]
    lines += [Line(INP_CONSULT, day=d) for d in range(5)]
    enc = inj.stay(inj.person(age=60), inj.inst("2"), 0, 4, lines, daily=False)
    inj.label("B06", enc.mdtrt_id, bed.price, "mdtrt", "床位费 5 日，住院 4 日")


def inject_b07(inj: Injector, k: int) -> None:
    """B07: a 4-day stay with nursing charged on 5 days: 1 nursing day too many."""
    nurse = inj.kn.item(NURSE)
    lines = [Line(NURSE, day=d, at="08:00") for d in range(5)] + [Line(BED, day=d) for d in range(4)]
    lines += [Line(INP_CONSULT, day=d) for d in range(5)]
    enc = inj.stay(inj.person(age=60), inj.inst("2"), 0, 4, lines, daily=False)
    inj.label("B07", enc.mdtrt_id, nurse.price, "mdtrt", "护理 5 日，住院 4 日")


def inject_b09(inj: Injector, k: int) -> None:
    """B09: two operations of one group on one day, both at the full catalog price; the second
    (later, cheaper) line is flagged for the amount above 50%: pric × cnt − 50% × ceiling × cnt."""
    usable = inj.memo("B09", lambda: _oprn_groups(inj))
    group, items = usable[k % len(usable)]
    first, second = items[0], items[1]
    inst = inj.inst("1")
    lines = [Line(first.code, day=1, at="10:00"), Line(second.code, day=1, at="10:01")]
    lines += [Line(CBC, day=d, at="07:30") for d in range(5)]
    enc = inj.stay(inj.person(age=60), inst, 0, 5, lines, doctor=inj.doctor(inst, "1", "1"), diags=(("C15.900", "食管恶性肿瘤"),))
    inj.rows["oprn"] += [
        {"mdtrt_id": enc.mdtrt_id, "oprn_srt_no": 1, "oprn_oprt_code": "42.4100x001", "oprn_date": inj.at(1, "09:30")},
        {"mdtrt_id": enc.mdtrt_id, "oprn_srt_no": 2, "oprn_oprt_code": "42.8500", "oprn_date": inj.at(1, "09:30")},
    ]
    sn = enc.sns[1]
    inj.label("B09", sn, second.price - money(second.ceiling * Decimal("0.5")), "line", f"{group} 第二台手术未折价")


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
    """B10: an item of kb_item_cycle billed max_cnt + 1 times within its cycle; the last line is flagged."""
    item = inj.pick("kb_item_cycle", lambda i: i.attribute_restrictions() == {"cycle"} and i.cycle[1] > i.cycle[0] + 1, k, key="B10")
    max_cnt, _ = item.cycle
    psn = inj.person(age=55)
    inst = inj.inst("1")
    encs = [inj.visit(psn, inst, d, [Line(item.code)]) for d in range(max_cnt + 1)]
    inj.label("B10", encs[-1].sns[0], encs[-1].amounts[0], "line", f"{item.name} {item.cycle[1]}日内限{max_cnt}次")


def inject_b11(inj: Injector, k: int) -> None:
    """B11: a course-limited service used every 10 days (gaps under 30, one course), then once
    max_days + 1 days after the first use; only that last line is flagged (full amount)."""
    item = inj.pick("kb_item_course", lambda i: i.attribute_restrictions() == {"course"} and not i.is_drug
                    and i.course[1] is None and i.course[0] <= 90, k, key="B11")
    max_days = item.course[0]
    # uses stay clear of the boundary (offset max_days − 1 / max_days) so either day count agrees
    days = list(range(0, max_days - 1, 10)) + [max_days + 1]
    psn = inj.person(age=50)
    inst = inj.inst("1")
    encs = [inj.visit(psn, inst, d, [Line(item.code)]) for d in days]
    inj.label("B11", encs[-1].sns[0], encs[-1].amounts[0], "line", f"{item.name} 疗程 {max_days} 日")


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
    pool = inj.memo(key, build)
    return pool[(k * 13) % len(pool)]


def inject_c01(inj: Injector, k: int) -> None:
    """C01: a drug without kb_drug_days supplied for 10 days on a general visit (limit 7);
    amount = line × (10 − 7) / 10."""
    item = _plain_drug(inj, k)
    enc = inj.visit(inj.person(age=45), inj.inst("1"), 0, [Line(item.code, cnt=10, prd=10)])
    inj.label("C01", enc.sns[0], enc.amounts[0] * 3 / 10, "line", f"{item.name} 10 日，限 7 日")


def inject_c02(inj: Injector, k: int) -> None:
    """C02: 7-day supplies of one drug bought on two consecutive days (overlap 6 days > 5);
    amount = later line × 6 / 7."""
    item = _plain_drug(inj, k)
    psn = inj.person(age=45)
    inj.visit(psn, inj.inst("1"), 0, [Line(item.code, cnt=7, prd=7)])
    enc = inj.visit(psn, inj.inst("2"), 1, [Line(item.code, cnt=7, prd=7)])
    inj.label("C02", enc.sns[0], enc.amounts[0] * 6 / 7, "line", f"{item.name} 供药期重叠 6 日")


def inject_c03(inj: Injector, k: int) -> None:
    """C03: one drug on 4 distinct days within 30 (days 0, 8, 16, 24; 3-day supplies, no overlap); amount 0."""
    item = _plain_drug(inj, k)
    psn = inj.person(age=45)
    for d in (0, 8, 16, 24):
        inj.visit(psn, inj.inst("1"), d, [Line(item.code, cnt=3, prd=3)])
    inj.label("C03", f"{psn[0]}|{item.code}", Decimal(0), "psn", f"{item.name} 30 日内 4 天开药")


def inject_c04(inj: Injector, k: int) -> None:
    """C04: a drug with max_daily_cnt m supplied for 5 days with 5m + 3 units; amount = 3 × pric."""
    item = _plain_drug(inj, k, days_ok=lambda i: i.max_daily_cnt is not None and (i.max_prd_days or 99) >= 5
                       and i.max_daily_cnt == int(i.max_daily_cnt))
    m = int(item.max_daily_cnt)
    enc = inj.visit(inj.person(age=45), inj.inst("1"), 0, [Line(item.code, cnt=5 * m + 3, prd=5)])
    inj.label("C04", enc.sns[0], 3 * item.price, "line", f"{item.name} 日剂量超 {m}")


def inject_c05(inj: Injector, k: int) -> None:
    """C05: chronic refills of 15 days every 10 days (9 fills on days 0–80, pairwise overlap ≤ 5):
    135 supply days with fee dates in the 90 days from day 0 (> 120). Amount: the supply beyond the
    first 90 days in fee order = the 7th–9th fills in full (reading: supply counted by fee date)."""
    item = _plain_drug(inj, k, days_ok=lambda i: (i.max_prd_days or 30) >= 15 and (i.max_daily_cnt or 1) >= 1)
    psn = inj.person(age=65)
    encs = [inj.visit(psn, inj.inst("1"), d, [Line(item.code, cnt=15, prd=15)], med_type="14") for d in range(0, 81, 10)]
    beyond = sum((e.amounts[0] for e in encs[6:]), Decimal("0"))
    inj.label("C05", f"{psn[0]}|{item.code}", beyond, "psn", f"{item.name} 90 日内供药 135 日")


def inject_c06(inj: Injector, k: int) -> None:
    """C06: one traceability code sold twice (two persons, two days); the later sale is flagged in full."""
    item = _plain_drug(inj, k, days_ok=lambda i: (i.max_prd_days or 7) >= 3 and (i.max_daily_cnt or 1) >= 1, trac=True)
    code = inj.trac_code(item)
    inj.visit(inj.person(age=45), inj.inst("1"), 0, [Line(item.code, cnt=3, prd=3, trac=code)])
    enc = inj.visit(inj.person(age=46), inj.inst("2"), 1, [Line(item.code, cnt=3, prd=3, trac=code)])
    inj.label("C06", enc.sns[0], enc.amounts[0], "line", f"{item.name} 追溯码 {code} 重复销售")


def inject_c07(inj: Injector, k: int) -> None:
    """C07: a drug line whose traceability code belongs to another product; amount = the line."""
    prefixes = sorted(inj.kn.product_prefixes().items())
    billed = _plain_drug(inj, k)
    other_code, prefix = next((c, p) for c, p in prefixes[k % len(prefixes):] + prefixes if c != billed.code)
    trac = f"{prefix}8{inj.seed % 1000:03d}{k:09d}"
    enc = inj.visit(inj.person(age=45), inj.inst("1"), 0, [Line(billed.code, cnt=3, prd=3, trac=trac)])
    inj.label("C07", enc.sns[0], enc.amounts[0], "line", f"{billed.code} 追溯码属 {other_code}")


def inject_c08(inj: Injector, k: int) -> None:
    """C08: a course-limited drug (max_days M, 8–20) in 7-day supplies from day 0, the last bought on day
    M − 4: its supply runs 3 days past the course; amount = last line × 3 / 7."""
    item = inj.pick("kb_item_course", lambda i: i.is_drug and i.attribute_restrictions() == {"course"}
                    and i.course[1] is None and 8 <= i.course[0] <= 20, k, key="C08")
    m = item.course[0]
    days = list(range(0, m - 6, 7)) + [m - 4]
    psn = inj.person(age=55)
    encs = [inj.visit(psn, inj.inst("1"), d, [Line(item.code, cnt=7, prd=7)]) for d in days]
    inj.label("C08", encs[-1].sns[0], encs[-1].amounts[0] * 3 / 7, "line", f"{item.name} 疗程 {m} 日")


# ---- D. visits and stays -------------------------------------------------------------------------------


def inject_d01(inj: Injector, k: int) -> None:
    """D01: 8 general visits in 22 days at one hospital; amount 0."""
    psn = inj.person(age=70)
    for d in range(0, 22, 3):
        inj.visit(psn, inj.inst("1"), d, [Line(CONSULT)])
    inj.label("D01", psn[0], Decimal(0), "psn", "30 日内门诊 8 次")


def inject_d02(inj: Injector, k: int) -> None:
    """D02: visits at 3 institutions of one region on one day; amount 0."""
    psn = inj.person(age=70)
    for lv, hhmm in (("1", "08:30"), ("2", "11:00"), ("3", "15:00")):
        line = Line(CONSULT) if lv != "3" else Line("001102000070000")
        inj.visit(psn, inj.inst(lv), 5, [line], hhmm=hhmm)
    inj.label("D02", f"{psn[0]}|{inj.day(5).isoformat()}", Decimal(0), "psn", "同日 3 家机构门诊")


def inject_d03(inj: Injector, k: int) -> None:
    """D03: a general visit at another hospital on day 3 of a stay (days 0–6); amount = its fund payment."""
    psn = inj.person(age=60)
    inj.stay(psn, inj.inst("1"), 0, 6, [])
    enc = inj.visit(psn, inj.inst("2"), 3, [Line(CONSULT), Line(CBC)])
    inj.label("D03", enc.mdtrt_id, enc.hifp, "mdtrt", "住院期间门诊结算")


def inject_d04(inj: Injector, k: int) -> None:
    """D04: a visit 3 days after the recorded death; amount = its fund payment."""
    psn = inj.person(age=80, death=5)
    inj.visit(psn, inj.inst("1"), 0, [Line(CONSULT)])
    enc = inj.visit(psn, inj.inst("1"), 8, [Line(CONSULT), Line(CBC)])
    inj.label("D04", enc.mdtrt_id, enc.hifp, "mdtrt", "死亡后就医")


def inject_d05(inj: Injector, k: int) -> None:
    """D05: readmission to the same hospital 10 days after a discharge on advice, same diagnosis
    category; amount = the later stay's fund payment."""
    psn = inj.person(age=70)
    inst = inj.inst("2")
    inj.stay(psn, inst, 0, 5, [])
    enc = inj.stay(psn, inst, 15, 5, [])
    inj.label("D05", enc.mdtrt_id, enc.hifp, "mdtrt", "15 日内同病种再入院")


def inject_d06(inj: Injector, k: int) -> None:
    """D06: a 6-day stay charged only bed and nursing on days 1–5 (5 of its 6 days empty; days are the
    stay's calendar days from admission to the day before discharge); amount = hifp × 5 / 6."""
    lines = [Line(BED, day=d) for d in range(6)] + [Line(NURSE, day=d) for d in range(6)]
    lines += [Line(INP_CONSULT, day=0), Line(CBC, day=0)]
    enc = inj.stay(inj.person(age=70), inj.inst("2"), 0, 6, lines, daily=False)
    inj.label("D06", enc.mdtrt_id, enc.hifp * 5 / 6, "mdtrt", "6 日中 5 日仅床位护理")


def inject_d07(inj: Injector, k: int) -> None:
    """D07: a stay at a second hospital admitted during the first (days 3–8 within 0–6);
    amount = the later stay's fund payment."""
    psn = inj.person(age=70)
    inj.stay(psn, inj.inst("1"), 0, 6, [])
    enc = inj.stay(psn, inj.inst("2"), 3, 5, [])
    inj.label("D07", enc.mdtrt_id, enc.hifp, "mdtrt", "住院时间重叠")


def inject_d08(inj: Injector, k: int) -> None:
    """D08: a stay whose presence check on day 2 found a different face; amount = its fund payment."""
    enc = inj.stay(inj.person(age=70), inj.inst("1"), 0, 5, [])
    inj.rows["checkin"] += [
        {"mdtrt_id": enc.mdtrt_id, "chk_time": inj.at(1, "10:00"), "result": "1"},
        {"mdtrt_id": enc.mdtrt_id, "chk_time": inj.at(2, "10:00"), "result": "3"},
    ]
    inj.label("D08", enc.mdtrt_id, enc.hifp, "mdtrt", "签到人脸不符")


def inject_d09(inj: Injector, k: int) -> None:
    """D09: visits in two regions one hour apart; key psn_no|later mdtrt_id, amount 0."""
    psn = inj.person(age=50)
    inj.visit(psn, inj.inst("1", region=0), 2, [Line(CONSULT)], hhmm="09:00")
    enc = inj.visit(psn, inj.inst("1", region=1), 2, [Line(CONSULT)], hhmm="10:00")
    inj.label("D09", f"{psn[0]}|{enc.mdtrt_id}", Decimal(0), "psn", "异地 1 小时内就医")


# ---- E. DRG ---------------------------------------------------------------------------------------------


def _drg(inj: Injector, ok: Callable[[dict], bool], k: int) -> dict:
    groups = [g for _, g in sorted(inj.kn.drg.items()) if ok(g)]
    return groups[k % len(groups)]


def _drg_stay(inj: Injector, psn, inst: int, day: int, los: int, cost: Decimal, group: str, dscg_way: str = "1"):
    """A stay of `los` days whose total is exactly `cost`: daily fees plus one drug line priced to fit."""
    base = sum((inj.kn.item(c).price for c in (BED, NURSE, INP_CONSULT)), Decimal(0)) * los
    rest = cost - base
    if rest <= 0:
        raise ValueError("cost below the daily fees")
    filler = _plain_drug(inj, 0)
    price = (rest / 10).quantize(CENT, rounding=ROUND_DOWN)
    lines = [Line(filler.code, cnt=10, price=price, prd=1)]
    diff = cost - base - price * 10
    if diff:
        lines.append(Line(CBC, cnt=1, price=diff, day=0))  # cents left over (≤ 0.09), below CBC's ceiling
    return inj.stay(psn, inst, day, los, lines, drg=group, dscg_way=dscg_way)


def inject_e01(inj: Injector, k: int) -> None:
    """E01: a low-risk group, 2-day stay, cost 20% of the group's average; amount = fund payment."""
    g = _drg(inj, lambda g: g["is_low_risk"] and g["drg_code"][-1] not in "13" and 2 >= float(g["avg_los"]) * 0.3, k)
    cost = money(g["avg_cost"] * Decimal("0.20"))
    enc = _drg_stay(inj, inj.person(age=50), inj.inst("2"), 0, 2, cost, g["drg_code"])
    inj.label("E01", enc.mdtrt_id, enc.hifp, "mdtrt", f"{g['drg_code']} 低标入院")


def inject_e02(inj: Injector, k: int) -> None:
    """E02: a complicated group (code ends 1/3) with cost 40% of its average; amount = min(avg − cost, hifp)."""
    g = _drg(inj, lambda g: not g["is_low_risk"] and g["drg_code"][-1] in "13", k)
    cost = money(g["avg_cost"] * Decimal("0.40"))
    enc = _drg_stay(inj, inj.person(age=60), inj.inst("1"), 0, 6, cost, g["drg_code"])
    inj.label("E02", enc.mdtrt_id, min(g["avg_cost"] - cost, enc.hifp), "mdtrt", f"{g['drg_code']} 高套")


def inject_e03(inj: Injector, k: int) -> None:
    """E03: exam and drug costs on a visit to the same hospital 3 days before admission, above 30% of
    the stay's cost; amount = that visit's cost (all of it is examination/drug)."""
    g = _drg(inj, lambda g: not g["is_low_risk"] and g["drg_code"][-1] not in "13", k)
    psn = inj.person(age=60)
    inst = inj.inst("1")
    stay_cost = money(g["avg_cost"] * Decimal("0.90"))
    drug = _plain_drug(inj, 1)
    price = money(stay_cost * Decimal("0.40") / 7)
    visit = inj.visit(psn, inst, 0, [Line(drug.code, cnt=7, price=price, prd=7)])
    enc = _drg_stay(inj, psn, inst, 3, 6, stay_cost, g["drg_code"])
    inj.label("E03", enc.mdtrt_id, visit.medfee, "mdtrt", f"入院前 3 日门诊检查药品费转嫁 {visit.mdtrt_id}")


def inject_e04(inj: Injector, k: int) -> None:
    """E04: a group that is neither low-risk nor complicated, a 2-day stay (< 30% of avg_los) costing
    20% of the average, discharged on advice; amount 0."""
    g = _drg(inj, lambda g: not g["is_low_risk"] and g["drg_code"][-1] not in "13" and float(g["avg_los"]) * 0.3 > 2, k)
    cost = money(g["avg_cost"] * Decimal("0.20"))
    enc = _drg_stay(inj, inj.person(age=60), inj.inst("1"), 0, 2, cost, g["drg_code"])
    inj.label("E04", enc.mdtrt_id, Decimal(0), "mdtrt", f"{g['drg_code']} 服务不足")


INJECTIONS: dict[str, Callable[[Injector, int], None]] = {
    name[len("inject_"):].upper(): fn for name, fn in sorted(globals().items()) if name.startswith("inject_")
}
