"""Helpers shared by the real-time kinds: SQL's three-valued comparisons, labels, line output."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

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


def item_name(line: dict, kb_row: dict | None) -> str:
    """The line's item name, or the knowledge entry's when the catalog does not name the code."""
    if kb_row is not None and line["item_name"] == line["hilist_code"] and kb_row.get("item_name") is not None:
        return kb_row["item_name"]
    return line["item_name"]
