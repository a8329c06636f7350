"""C07 in Python (twin of C07_trace_code_product_mismatch.sql): a sold box whose traceability code's
product (first 7 digits → `kb_drug_product`) is not the billed `hilist_code`; one flag per line, amount
the line's net amount. Reads the frame's `drug_trac` rows."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fundguard.realtime.custom._common import exact_index


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    if not frame.drug_trac:
        return []
    products = exact_index(kb, "kb_drug_product", "trac_prefix")
    if not products:
        return []
    mismatched: dict[str, list[str]] = defaultdict(list)
    for t in frame.drug_trac:
        code = t.get("drug_trac_codg")
        line = frame.line_by_sn.get(t["feedetl_sn"])
        if code is None or line is None or not frame.in_focus(line["mdtrt_id"]):
            continue
        entries = products.get(code[:7])
        if entries and not any(k.get("hilist_code") == line["hilist_code"] for k in entries):
            mismatched[t["feedetl_sn"]].append(code)
    out = []
    for sn, codes in mismatched.items():
        line = frame.line_by_sn[sn]
        shown = min(codes)
        prefix = shown[:7]
        product = min(products[prefix], key=lambda k: (k.get("hilist_code") is None, k.get("hilist_code") or ""))
        name = product.get("item_name")
        out.append(
            {
                "feedetl_sn": sn,
                "vola_amt": line["net_amt"],
                "hilist_code": line["hilist_code"],
                "item_name": line["item_name"],
                "ev_trac_code": shown,
                "ev_trac_prefix": prefix,
                "ev_product_hilist_code": product.get("hilist_code"),
                "ev_product_name": name if name is not None else product.get("hilist_code"),
                "ev_kb_source": product.get("source"),
                "ev_mismatched_code_count": len(codes),
                "ev_trac_codes": sorted(set(codes)),
            }
        )
    return out
