"""A08 in Python (twin of A08_item_not_in_catalog.sql): a code missing from a complete catalog, or
marked not covered, settled with fund payment. The evaluator runs it only when the edition says
`hilist_complete` (the rule's `requires_kb_manifest`)."""

from __future__ import annotations

from typing import Any


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    out = []
    for line in frame.focus_lines:
        if not line["hifp_pay"] > 0:
            continue
        h = kb.hilist.get(line["hilist_code"])
        if h is not None and h.get("covered") is not False:
            continue
        out.append(
            {
                "feedetl_sn": line["feedetl_sn"],
                "vola_amt": line["net_amt"],
                "hilist_code": line["hilist_code"],
                "item_name": line["item_name"],
                "ev_reason": "不在医保目录中" if h is None else "在医保目录中标记为不予支付",
                "ev_kb_covered": None if h is None else h.get("covered"),
                "ev_kb_source": None if h is None else h.get("source"),
                "ev_hifp_pay": line["hifp_pay"],
            }
        )
    return out
