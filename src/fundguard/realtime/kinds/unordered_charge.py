"""Kind `unordered_charge` in Python (real-time only): a billed line with no order in the request's
orders (`fsi_order_dtos`), matched on `match_on` fields; one flag per line, its amount."""

from __future__ import annotations

from typing import Any

NAME = "unordered_charge"


def evaluate(rule: Any, config, params: dict, frame, kb) -> list[dict]:
    fields = tuple(config.match_on)
    ordered_any = set()
    ordered_by_mdtrt: dict[str, set] = {}
    for o in frame.orders:
        key = tuple(o.get(f) for f in fields)
        if o.get("mdtrt_id") is None:
            ordered_any.add(key)
        else:
            ordered_by_mdtrt.setdefault(o["mdtrt_id"], set()).add(key)
    out = []
    for line in frame.focus_lines:
        key = tuple(line.get(f) for f in fields)
        if key in ordered_any or key in ordered_by_mdtrt.get(line["mdtrt_id"], ()):
            continue
        out.append(
            {
                "feedetl_sn": line["feedetl_sn"],
                "vola_amt": line["net_amt"],
                "hilist_code": line["hilist_code"],
                "item_name": line["item_name"],
            }
        )
    return out
