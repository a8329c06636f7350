"""Helpers shared by the real-time kinds: SQL's three-valued comparisons, labels, line output."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fundguard.realtime.custom._common import num_text

CENT = Decimal("0.01")


def round_amt(value: Decimal | int) -> Decimal:
    """DECIMAL(16,2) rounding as the engine does (half away from zero)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def label(labels: dict[str, dict[str, str]], column: str, value: Any) -> Any:
    """`CASE col WHEN code THEN label ... ELSE col END`."""
    mapping = labels.get(column)
    if mapping is None or value is None:
        return value
    return mapping.get(str(value), value)


def range_text(lo: Any, hi: Any, unit: str) -> str | None:
    """A range as the batch `range_text` SQL writes it: `0~17 岁`, `60 岁及以上`, `17 岁及以下`, `0 岁`."""
    u = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        return f"{num_text(lo)}{u}" if lo == hi else f"{num_text(lo)}~{num_text(hi)}{u}"
    if lo is not None:
        return f"{num_text(lo)}{u}及以上"
    if hi is not None:
        return f"{num_text(hi)}{u}及以下"
    return None


def item_name(line: dict, kb_row: dict | None) -> str:
    """The line's item name, or the knowledge entry's when the catalog does not name the code."""
    if kb_row is not None and line["item_name"] == line["hilist_code"] and kb_row.get("item_name") is not None:
        return kb_row["item_name"]
    return line["item_name"]
