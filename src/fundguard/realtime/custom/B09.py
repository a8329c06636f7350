"""B09 in Python (twin of B09_operation_not_discounted.sql): the second and later full-price operations of
one `kb_oprn_group` group on one encounter and day, ranked by catalog price (highest first: the main
operation), then fee time and line; amount (price − catalog price × ratio) × units, one
flag per line (an operation in several groups: the first-named group it comes second or later in)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fundguard.realtime.custom._common import exact_index, num_text


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    max_ratio = params["max_discounted_ratio"]
    full_ratio = params["full_price_ratio"]
    groups = exact_index(kb, "kb_oprn_group", "hilist_code")
    if not groups:
        return []
    out = []
    for mdtrt_id in sorted({line["mdtrt_id"] for line in frame.focus_lines}):
        lines = frame.lines_by_mdtrt.get(mdtrt_id, ())  # (fee_ocur_time, feedetl_sn) order
        members: dict[tuple, list] = defaultdict(list)  # (group, day) -> [(catalog price, time order, line)]
        for at, f in enumerate(lines):
            entries = groups.get(f["hilist_code"])
            h = kb.hilist.get(f["hilist_code"])
            if not entries or h is None:
                continue
            catalog = h.get("pric_uplmt_amt")
            if catalog is None or not catalog > 0 or not f["pric"] >= catalog * full_ratio:
                continue
            for g in entries:
                members[(g["group_name"], f["fee_date"])].append((catalog, at, f))
        # the main operation of a group and day has the highest catalog price (ties: fee time, line)
        # units after the first of the main line (one line billing a bilateral or repeated operation) are
        # second operations too; a line first in one group and later in another: where more units come later
        later: dict[str, list] = defaultdict(list)
        for (group_name, _), ops in members.items():
            ranked = sorted(ops, key=lambda o: (-o[0], o[1]))
            main = ranked[0][2]
            if main["net_cnt"] > 1:
                later[main["feedetl_sn"]].append((main["net_cnt"] - 1, group_name, 1, []))
            for seq, (_, _, f) in enumerate(ranked[1:], start=2):
                later[f["feedetl_sn"]].append((f["net_cnt"], group_name, seq, [o[2]["feedetl_sn"] for o in ranked[: seq - 1]]))
        for f in lines:
            if f["feedetl_sn"] not in later:
                continue
            catalog = kb.hilist[f["hilist_code"]]["pric_uplmt_amt"]
            if not f["pric"] > catalog * max_ratio:
                continue
            # one flag per line: where most of its units come later, then the group named first
            units, group_name, seq, before = min(later[f["feedetl_sn"]], key=lambda x: (-x[0], x[1]))
            out.append(
                {
                    "feedetl_sn": f["feedetl_sn"],
                    "vola_amt": (f["pric"] - catalog * max_ratio) * units,
                    "hilist_code": f["hilist_code"],
                    "item_name": f["item_name"],
                    "ev_kb_group_name": group_name,
                    "ev_kb_group_source": next(g.get("source") for g in groups[f["hilist_code"]] if g["group_name"] == group_name),
                    "ev_catalog_pric": catalog,
                    "ev_kb_pric_source": kb.hilist[f["hilist_code"]].get("source"),
                    "ev_pric": f["pric"],
                    "ev_seq": seq,
                    "ev_discounted_cnt": units,
                    "ev_discount_pct": num_text(max_ratio * 100),
                    "_involved": before,
                }
            )
    return out
