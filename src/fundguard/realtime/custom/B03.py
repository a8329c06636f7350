"""B03 in Python (twin of B03_bundled_part_charged.sql): a part line billed with its bundle's main item
on one encounter within the pair's scope; amount the part line's."""

from __future__ import annotations

from typing import Any

_SCOPE_LABEL = {"hour": "同一钟点", "6h": "6小时", "day": "同一天"}


def _in_scope(scope: str, m: dict, p: dict) -> bool:
    if scope == "mdtrt":
        return True
    if scope == "day":
        return m["fee_date"] == p["fee_date"]
    if scope == "hour":
        return m["fee_ocur_time"].replace(minute=0, second=0) == p["fee_ocur_time"].replace(minute=0, second=0)
    if scope == "6h":
        return abs((p["fee_ocur_time"] - m["fee_ocur_time"]).total_seconds()) <= 21600
    return False


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    out = []
    for p in frame.focus_lines:
        bundles = kb.match("kb_bundle", p["hilist_code"], "part_code")
        if not bundles:
            continue
        hit = None
        for m in frame.lines_by_mdtrt.get(p["mdtrt_id"], ()):  # (fee_ocur_time, feedetl_sn) order
            if m["feedetl_sn"] == p["feedetl_sn"]:
                continue
            main_code = kb.winning_code("kb_bundle", m["hilist_code"], "bundle_code")
            if main_code is None:
                continue
            for k in bundles:
                if k["bundle_code"] == main_code and _in_scope(k["scope"], m, p):
                    hit = (m, k)
                    break
            if hit:
                break
        if hit is None:
            continue
        m, k = hit
        out.append(
            {
                "feedetl_sn": p["feedetl_sn"],
                "vola_amt": p["net_amt"],
                "hilist_code": p["hilist_code"],
                "item_name": p["item_name"],
                "ev_main_feedetl_sn": m["feedetl_sn"],
                "ev_main_hilist_code": m["hilist_code"],
                "ev_main_item_name": k.get("bundle_name") or m["hilist_code"],
                "ev_kb_bundle_code": k["bundle_code"],
                "ev_kb_part_code": k["part_code"],
                "ev_kb_source": k.get("source"),
                "ev_kb_scope": k["scope"],
                "ev_scope_label": _SCOPE_LABEL.get(k["scope"], "同一就诊"),
                "_involved": [m["feedetl_sn"]],
            }
        )
    return out
