"""C03 in Python (twin of C03_frequent_drug_prescribing.sql): one drug prescribed to one person outside
inpatient stays on `min_distinct_days` or more days of some `window_days`-day window (history included);
one flag per person and drug, resting on the lines of every qualifying window; amount 0."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from fundguard.realtime.custom._common import INPATIENT_MED_TYPES, is_drug

ZERO = Decimal("0.00")


def _counted(line: dict) -> bool:
    return is_drug(line) and line["med_type"] not in INPATIENT_MED_TYPES


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    wanted = {(f["psn_no"], f["hilist_code"]) for f in frame.focus_lines if _counted(f)}
    if not wanted:
        return []
    min_days = params["min_distinct_days"]
    span = dt.timedelta(days=params["window_days"] - 1)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for f in frame.lines:
        if (f["psn_no"], f["hilist_code"]) in wanted and _counted(f):
            groups[(f["psn_no"], f["hilist_code"])].append(f)
    out = []
    for (psn_no, code), lines in sorted(groups.items()):
        days = sorted({f["fee_date"] for f in lines})
        windows = []  # (start, distinct days)
        for i, start in enumerate(days):
            n = bisect.bisect_right(days, start + span) - i
            if n >= min_days:
                windows.append((start, n))
        if not windows:
            continue
        inside = [f for f in lines if any(s <= f["fee_date"] <= s + span for s, _ in windows)]
        most = max(n for _, n in windows)
        out.append(
            {
                "psn_no": psn_no,
                "flag_detail": code,
                "vola_amt": ZERO,
                "feedetl_sns": sorted({f["feedetl_sn"] for f in inside}),
                "mdtrt_ids": sorted({f["mdtrt_id"] for f in inside}),
                "hilist_code": code,
                "item_name": max(f["item_name"] for f in inside),
                "ev_first_window_start": windows[0][0],
                "ev_busiest_window_start": min(s for s, n in windows if n == most),
                "ev_max_distinct_days": most,
                "ev_fee_dates": sorted({f["fee_date"].isoformat() for f in inside}),
            }
        )
    return out
