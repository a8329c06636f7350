"""B10 in Python (twin of B10_over_cycle_frequency.sql): units of a cycle-limited item beyond `max_cnt`
in the `cycle_days`-day window ending at each line, counted for the person across encounters and
institutions (history included); amount units beyond × unit price."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from fundguard.realtime.custom._common import matches, order_key


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    focus = frame.focus_lines
    if not matches(kb, "kb_item_cycle", focus):
        return []
    known = matches(kb, "kb_item_cycle", frame.lines)
    # every line of the person under each knowledge entry (a `*` entry pools the codes it covers)
    by_entry: dict[tuple, list[tuple[dict, int]]] = defaultdict(list)
    for f in frame.lines:  # (fee_ocur_time, feedetl_sn) order
        entries = known.get(f["hilist_code"])
        if entries:
            by_entry[(f["psn_no"], entries[0]["hilist_code"])].append((f, len(entries)))
    out = []
    for a in focus:
        entries = known.get(a["hilist_code"])
        if not entries:
            continue
        group = by_entry[(a["psn_no"], entries[0]["hilist_code"])]
        key_a = order_key(a)
        for k in entries:
            if k.get("max_cnt") is None or k.get("cycle_days") is None:
                continue
            start = a["fee_date"] + dt.timedelta(days=1 - k["cycle_days"])
            window_cnt = Decimal(0)
            window_start = None
            involved = []
            for b, times in group:
                if order_key(b) > key_a:
                    break
                if b["fee_date"] < start:
                    continue
                window_cnt += b["net_cnt"] * times
                if window_start is None or b["fee_date"] < window_start:
                    window_start = b["fee_date"]
                if b is not a:
                    involved.append(b["feedetl_sn"])
            over = window_cnt - k["max_cnt"]
            if not over > 0:
                continue
            beyond = a["net_cnt"] if over >= a["net_cnt"] else over
            out.append(
                {
                    "feedetl_sn": a["feedetl_sn"],
                    "vola_amt": beyond * a["pric"],
                    "hilist_code": a["hilist_code"],
                    "item_name": a["item_name"],
                    "ev_kb_code": k["hilist_code"],
                    "ev_kb_source": k.get("source"),
                    "ev_kb_max_cnt": k["max_cnt"],
                    "ev_kb_cycle_days": k["cycle_days"],
                    "ev_window_cnt": window_cnt,
                    "ev_window_start": window_start,
                    "_involved": involved,
                }
            )
    return out
