"""B01 in Python (twin of B01_price_over_ceiling.sql): unit price above the catalog ceiling by more
than the tolerance; amount (price − ceiling) × units."""

from __future__ import annotations

from typing import Any


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    tolerance = params["tolerance"]
    out = []
    for line in frame.focus_lines:
        h = kb.hilist.get(line["hilist_code"])
        if h is None or h.get("pric_uplmt_amt") is None:
            continue
        ceiling = h["pric_uplmt_amt"]
        if not line["pric"] - ceiling > tolerance:
            continue
        out.append(
            {
                "feedetl_sn": line["feedetl_sn"],
                "vola_amt": (line["pric"] - ceiling) * line["net_cnt"],
                "hilist_code": line["hilist_code"],
                "item_name": line["item_name"],
                "ev_kb_pric_uplmt_amt": ceiling,
                "ev_kb_source": h.get("source"),
                "ev_pric": line["pric"],
                "ev_cnt": line["net_cnt"],
            }
        )
    return out
