"""Helpers shared by the custom twins: drug lines, supply periods, pro-rata amounts, SQL text forms.

Not a rule (the leading underscore keeps `custom_rules()` from loading it as one).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

#: `med_chrgitm_type` of drug lines (西药, 中药饮片, 中成药)
DRUG_TYPES = frozenset({"09", "10", "11"})
INPATIENT_MED_TYPES = frozenset({"21", "52"})
CENT = Decimal("0.01")
_ONE = Decimal(1)


def is_drug(line: dict) -> bool:
    """A drug line as the rules count them: drug charge type and `prd_days` present."""
    return line["med_chrgitm_type"] in DRUG_TYPES and line.get("prd_days") is not None


def supplied_days(line: dict) -> int:
    """The days a drug line still supplies after refunds: `prd_days`, or for a partly refunded line
    `prd_days` × `net_cnt` ÷ `cnt` in whole days (in double arithmetic with the batch SQL's 1e-6, so both
    give the same whole number)."""
    if line["net_cnt"] >= line["cnt"]:
        return line["prd_days"]
    return math.floor(float(line["prd_days"]) * float(line["net_cnt"]) / float(line["cnt"]) + 0.000001)


def supply_end(line: dict, days: int | None = None) -> dt.date:
    """The (excluded) end of the line's supply period [fee date, fee date + days), `days` by default
    `prd_days` (C02 passes `supplied_days`)."""
    return line["fee_date"] + dt.timedelta(days=line["prd_days"] if days is None else days)


def pro_rata(net_amt: Decimal, part: int, whole: int) -> Decimal:
    """`CAST(ROUND(CAST(net_amt * 100 AS BIGINT) * part / whole, 0) AS DECIMAL(18,0)) * 0.01`: the share in
    whole cents, half away from zero (exact here; the batch division is a double, which gives the same
    cents: a true half is exactly representable and nothing else lies within 1/whole of one)."""
    cents = (net_amt * 100).quantize(_ONE, ROUND_HALF_UP)
    share = (cents * part / whole).quantize(_ONE, ROUND_HALF_UP)
    return share * CENT


def med_type_label(code: str | None) -> str | None:
    """The medical type's Chinese name as the rules' messages write it (the code when unknown)."""
    from fundguard.contract.tables import MED_TYPE

    return MED_TYPE[code].split(" ")[0] if code in MED_TYPE else code


def ts_text(value: dt.datetime | None) -> str | None:
    """A timestamp as the batch backend's `CAST(ts AS VARCHAR)` writes it (fractional seconds trimmed)."""
    if value is None:
        return None
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def num_text(value: Decimal) -> str:
    """A quantity as the batch `num_text` macro writes it: rounded to 4 places, no trailing zeros
    (2.0000 -> 2, 1.50 -> 1.5)."""
    return format(Decimal(value).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP).normalize(), "f")


def date_text(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def exact_index(kb, table: str, column: str) -> dict[str, list[dict]]:
    """Rows of a knowledge table by the exact value of `column` (tables the batch SQL joins on equality),
    built once per knowledge edition."""
    cache = kb.__dict__.setdefault("_exact_index", {})
    index = cache.get((table, column))
    if index is None:
        index = {}
        for row in kb.tables.get(table) or ():
            if row.get(column) is not None:
                index.setdefault(row[column], []).append(row)
        cache[(table, column)] = index
    return index


def order_key(line: dict) -> tuple:
    """(`fee_ocur_time`, `feedetl_sn`): the order every rule takes lines in."""
    return (line["fee_ocur_time"], line["feedetl_sn"])


def matches(kb, table: str, lines) -> dict[str, list[dict]]:
    """{billed code: the knowledge rows that apply to it} for the codes of `lines` that have any (one
    `kb.match` per distinct code, not per line)."""
    out: dict[str, list[dict]] = {}
    seen: set[str] = set()
    for f in lines:
        code = f["hilist_code"]
        if code not in seen:
            seen.add(code)
            rows = kb.match(table, code)
            if rows:
                out[code] = rows
    return out
