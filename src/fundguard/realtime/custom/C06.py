"""C06 in Python (twin of C06_trace_code_resold.sql): every active sale of a traceability code after its
first sale by (`fee_ocur_time`, `feedetl_sn`); one flag per sale line, amount the line's net amount.
Reads the frame's `drug_trac` rows (those of the request and of whatever history carries them) and, in a
3101/3102, the history store's other sales of the request's codes (`frame.trace_sales`, any person): a box
already sold and settled elsewhere makes the request's sale a later one."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fundguard.realtime.custom._common import order_key, ts_text


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    if not frame.drug_trac:
        return []
    sales: dict[str, set[str]] = defaultdict(set)  # code → selling lines (active after refunds)
    for t in frame.drug_trac:
        code = t.get("drug_trac_codg")
        if code is not None and t["feedetl_sn"] in frame.line_by_sn:
            sales[code].add(t["feedetl_sn"])
    stored: dict[str, dict] = {}  # sales known from the history store only (fee time and id suffice)
    for s in frame.trace_sales:
        if s["drug_trac_codg"] in sales:
            sales[s["drug_trac_codg"]].add(s["feedetl_sn"])  # the person's own history line is in the frame too
            if s["feedetl_sn"] not in frame.line_by_sn:
                stored[s["feedetl_sn"]] = s
    later: dict[str, list[tuple[str, dict]]] = defaultdict(list)  # line → [(code, first sale)]
    for code, sns in sales.items():
        if len(sns) < 2:
            continue
        ranked = sorted((frame.line_by_sn.get(s) or stored[s] for s in sns), key=order_key)
        for line in ranked[1:]:
            later[line["feedetl_sn"]].append((code, ranked[0]))
    out = []
    for sn, dups in later.items():
        line = frame.line_by_sn.get(sn)
        if line is None:  # a stored sale: not this request's finding
            continue
        if not frame.in_focus(line["mdtrt_id"]):
            continue
        code, first = min(dups, key=lambda d: d[0])
        out.append(
            {
                "feedetl_sn": sn,
                "vola_amt": line["net_amt"],
                "feedetl_sns": sorted({sn, *(f["feedetl_sn"] for _, f in dups)}),
                "hilist_code": line["hilist_code"],
                "item_name": line["item_name"],
                "ev_trac_code": code,
                "ev_first_feedetl_sn": first["feedetl_sn"],
                "ev_first_fee_time": ts_text(first["fee_ocur_time"]),
                "ev_dup_code_count": len(dups),
                "ev_trac_codes": sorted(c for c, _ in dups),
                "_line_amts": {sn: line["net_amt"]},
            }
        )
    return out
