"""The knowledge edition seen from the generator: what restricts an item or a diagnosis, resolved once.

Every code and limit the generator uses comes from the edition (through `fundguard.kb`), so the data
and the rules see the same knowledge; prefix entries (`XG02B*`) resolve with the kb's own matcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, cached_property

import pyarrow as pa

from fundguard.kb import CodeMatcher, Edition, default_edition_path

ITEM_TABLES = (
    "kb_item_gender",
    "kb_item_age",
    "kb_item_indication",
    "kb_item_medins_lv",
    "kb_item_setting",
    "kb_item_insutype",
    "kb_item_limit",
    "kb_item_cycle",
    "kb_item_course",
    "kb_item_title",
    "kb_drug_days",
    "kb_oprn_group",
)

DRUG_TYPES = ("09", "10", "11")

#: unit prices (yuan) for catalog items that carry no ceiling; anything else falls back by charge type
UNIT_PRICES = {
    "XJ01CAA040E001010100001": "0.45",
    "XA10BAE046A001010100001": "0.30",
    "XC08CAA102A001010100001": "1.20",
    "XC10AAA067A001010100001": "1.80",
    "XB01ACA056A012010100001": "0.20",
    "XJ01DCT070A001010100001": "2.10",
    "XA02BCA080E002010100001": "0.90",
    "XC08CAX099A010010100001": "1.10",
    "XM01AEB083E003010100001": "0.60",
    "XJ01MAZ061A001010100001": "2.50",
    "XJ01DDT076B001010100001": "12.50",
    "XB03BAJ046A001010100001": "0.80",
    "XA10BJA085B002010106474": "95.00",
    "XA10BXD360A001010100648": "6.80",
    "XG02BAZ061Z007010279543": "1280.00",
    "XG02ADD082D003010179504": "260.00",
    "XG03DAH124B002010103315": "8.50",
    "XJ07BGR030B001010101119": "65.00",
    "XN07XXT050B002010100239": "18.00",
    "XL02BBA326A001010102180": "110.00",
    "ZA01BAX0341010100166": "1.50",
    "ZA07AAA0061010100166": "380.00",
    "ZC01AAA0042010105549": "32.00",
    "ZA04CAE0023010100166": "3.20",
    "T000700200": "0.35",
}
TYPE_PRICES = {
    "01": "40.00", "02": "10.00", "03": "80.00", "04": "15.00", "05": "30.00", "06": "1200.00",
    "07": "20.00", "08": "5.00", "09": "2.00", "10": "0.50", "11": "2.00", "12": "10.00",
    "13": "1.00", "14": "5.00",
}


def infer_chrgitm_type(code: str, list_type: str | None = None) -> str:
    """Charge type of a catalog code that the edition lists without one (national-only rows)."""
    if code.startswith("X"):
        return "09"
    if code.startswith("Z"):
        return "11"
    if code.startswith("T") or list_type == "102":
        return "10"
    if code.startswith("C") or list_type == "301":
        return "08"
    if code.startswith("001109"):
        return "01"
    if code.startswith("0012"):
        return "07"
    if code.startswith("0011"):
        return "02"
    if code.startswith("0025") or code.startswith("0026"):
        return "04"
    if code.startswith("002"):
        return "03"
    if code.startswith("0033") or code.startswith("0032"):
        return "06"
    return "05"


@dataclass
class Item:
    """One catalog item with every restriction the edition puts on it (exact beats prefix)."""

    code: str
    name: str
    chrgitm_type: str
    ceiling: Decimal | None
    price: Decimal
    gend: str | None = None
    min_age: int | None = None
    max_age: int | None = None
    indications: tuple[str, ...] = ()
    max_lv: str | None = None
    setting: str | None = None
    insutype: str | None = None
    limits: dict[str, int] = field(default_factory=dict)
    cycle: tuple[int, int] | None = None  # (max_cnt, cycle_days)
    course: tuple[int, int | None] | None = None  # (max_days, min_interval_days)
    max_profttl: str | None = None
    drug_days: tuple[int | None, Decimal | None] | None = None  # (max_prd_days, max_daily_cnt)
    oprn_group: str | None = None
    trac_prefix: str | None = None

    @property
    def is_drug(self) -> bool:
        return self.chrgitm_type in DRUG_TYPES

    @property
    def max_prd_days(self) -> int | None:
        return self.drug_days[0] if self.drug_days else None

    @property
    def max_daily_cnt(self) -> Decimal | None:
        return self.drug_days[1] if self.drug_days else None

    def attribute_restrictions(self) -> set[str]:
        """Names of the restrictions this item carries (for picking isolated injection items)."""
        out = set()
        for name in ("gend", "indications", "max_lv", "setting", "insutype", "cycle", "course",
                     "max_profttl", "drug_days", "oprn_group"):
            if getattr(self, name):
                out.add(name)
        if self.min_age is not None or self.max_age is not None:
            out.add("age")
        if self.limits:
            out.add("limits")
        return out


class Knowledge:
    """Lookups over one edition: items (`item(code)`), diagnosis bands, pairs, DRG groups."""

    def __init__(self, tables: dict[str, pa.Table]):
        self.tables = tables
        self._matchers = {t: CodeMatcher.for_table(tables[t], t) for t in ITEM_TABLES}
        self._hilist = {r["hilist_code"]: r for r in tables["kb_hilist"].to_pylist()}
        self._diag_gender = [(r["diag_prefix"], r["gend"]) for r in tables["kb_diag_gender"].to_pylist()]
        self._diag_age = [(r["diag_prefix"], r["min_age"], r["max_age"]) for r in tables["kb_diag_age"].to_pylist()]
        self._exclusive_a = CodeMatcher.for_table(tables["kb_exclusive"], "kb_exclusive", "hilist_code_a")
        self._exclusive_b = CodeMatcher.for_table(tables["kb_exclusive"], "kb_exclusive", "hilist_code_b")
        self._bundle_main = CodeMatcher.for_table(tables["kb_bundle"], "kb_bundle", "bundle_code")
        self._bundle_part = CodeMatcher.for_table(tables["kb_bundle"], "kb_bundle", "part_code")
        self._items: dict[str, Item] = {}
        product = {}
        for r in sorted(tables["kb_drug_product"].to_pylist(), key=lambda r: r["trac_prefix"]):
            product.setdefault(r["hilist_code"], r["trac_prefix"])
        self._trac_prefix = product

    @classmethod
    def default(cls) -> Knowledge:
        """The built-in edition's knowledge (opened once per process: editions never change in place)."""
        return _open_default(str(default_edition_path()))

    # ---- items ----------------------------------------------------------------------------------

    def has(self, code: str) -> bool:
        return code in self._hilist

    def is_priced(self, code: str) -> bool:
        row = self._hilist.get(code)
        return row is not None and row.get("pric_uplmt_amt") is not None

    def hilist_rows(self) -> list[dict]:
        return list(self._hilist.values())

    def item(self, code: str) -> Item:
        cached = self._items.get(code)
        if cached is not None:
            return cached
        row = self._hilist.get(code) or {}
        ctype = row.get("med_chrgitm_type") or infer_chrgitm_type(code, row.get("list_type"))
        ceiling = row.get("pric_uplmt_amt")
        price = Decimal(ceiling) if ceiling is not None else Decimal(UNIT_PRICES.get(code, TYPE_PRICES[ctype]))
        item = Item(code=code, name=row.get("hilist_name") or code, chrgitm_type=ctype, ceiling=ceiling, price=price)
        m = self._matchers
        for r in m["kb_item_gender"].lookup(code):
            item.gend = r["gend"]
        for r in m["kb_item_age"].lookup(code):
            item.min_age, item.max_age = r["min_age"], r["max_age"]
        item.indications = tuple(sorted({r["diag_prefix"] for r in m["kb_item_indication"].lookup(code)}))
        for r in m["kb_item_medins_lv"].lookup(code):
            item.max_lv = r["max_medins_lv"]
        for r in m["kb_item_setting"].lookup(code):
            item.setting = r["setting"]
        for r in m["kb_item_insutype"].lookup(code):
            item.insutype = r["insutype"]
        for r in m["kb_item_limit"].lookup(code):
            item.limits[r["per"]] = min(int(r["max_cnt"]), item.limits.get(r["per"], 10**9))
        for r in m["kb_item_cycle"].lookup(code):
            item.cycle = (int(r["max_cnt"]), int(r["cycle_days"]))
        for r in m["kb_item_course"].lookup(code):
            item.course = (int(r["max_days"]), r["min_interval_days"])
        for r in m["kb_item_title"].lookup(code):
            item.max_profttl = r["max_profttl"]
        for r in m["kb_drug_days"].lookup(code):
            item.drug_days = (r["max_prd_days"], r["max_daily_cnt"])
        for r in m["kb_oprn_group"].lookup(code):
            item.oprn_group = r["group_name"]
        item.trac_prefix = self._trac_prefix.get(code)
        self._items[code] = item
        return item

    def exclusive_partners(self, code: str) -> set[str]:
        """Codes (or `*` prefixes) that may not be billed with `code` in some scope."""
        out = {r["hilist_code_b"] for r in self._exclusive_a.lookup(code)}
        out |= {r["hilist_code_a"] for r in self._exclusive_b.lookup(code)}
        return out

    def bundle_parts(self, code: str) -> set[str]:
        return {r["part_code"] for r in self._bundle_main.lookup(code)}

    def bundle_mains(self, code: str) -> set[str]:
        return {r["bundle_code"] for r in self._bundle_part.lookup(code)}

    def conflicts(self, a: str, b: str) -> bool:
        """True when billing both `a` and `b` in one encounter could trip B03 or B04."""

        def hit(code: str, patterns: set[str]) -> bool:
            return any(code == p or (p.endswith("*") and code.startswith(p[:-1])) for p in patterns)

        return (
            hit(b, self.exclusive_partners(a))
            or hit(a, self.exclusive_partners(b))
            or hit(b, self.bundle_parts(a))
            or hit(a, self.bundle_parts(b))
        )

    # ---- diagnoses -------------------------------------------------------------------------------

    def diag_gender(self, diag_code: str) -> set[str]:
        return {g for p, g in self._diag_gender if diag_code.startswith(p)}

    def diag_age(self, diag_code: str) -> tuple[int, int]:
        lo, hi = 0, 200
        for p, a, b in self._diag_age:
            if diag_code.startswith(p):
                lo = max(lo, a if a is not None else 0)
                hi = min(hi, b if b is not None else 200)
        return lo, hi

    def diag_rows(self, table: str) -> list[dict]:
        return self.tables[table].to_pylist()

    # ---- groups and products -----------------------------------------------------------------------

    @cached_property
    def drg(self) -> dict[str, dict]:
        return {r["drg_code"]: r for r in self.tables["kb_drg"].to_pylist()}

    def product_prefixes(self) -> dict[str, str]:
        """hilist_code → one traceability prefix of its product."""
        return dict(self._trac_prefix)


@cache
def _open_default(path: str) -> Knowledge:
    return Knowledge(Edition.open(path).tables)
