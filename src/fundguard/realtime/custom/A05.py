"""A05 in Python (twin of A05_item_outside_indication.sql): a restricted-payment item billed to the fund
on an encounter with none of its indication diagnoses and no hospital approval."""

from __future__ import annotations

from typing import Any

from fundguard.realtime.kinds._common import item_name


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    out = []
    for line in frame.focus_lines:
        if not line["hifp_pay"] > 0 or line["hosp_appr_flag"] is not False:
            continue
        entries = kb.match("kb_item_indication", line["hilist_code"])
        if not entries:
            continue
        prefixes = sorted({k["diag_prefix"] for k in entries if k.get("diag_prefix") is not None})
        diags = frame.diag_by_mdtrt.get(line["mdtrt_id"], ())
        if any(d["diag_code"].startswith(p) for d in diags for p in prefixes):
            continue
        names = [k["item_name"] for k in entries if k.get("item_name") is not None]
        out.append(
            {
                "feedetl_sn": line["feedetl_sn"],
                "vola_amt": line["net_amt"],
                "hilist_code": line["hilist_code"],
                "item_name": item_name(line, {"item_name": max(names) if names else None}),
                "ev_kb_code": entries[0]["hilist_code"],
                "ev_indication_count": len(prefixes),
                "ev_kb_diag_prefix_example": prefixes[0] if prefixes else None,
                "ev_kb_sources": sorted({k["source"] for k in entries if k.get("source") is not None}),
                "ev_hifp_pay": line["hifp_pay"],
            }
        )
    return out
