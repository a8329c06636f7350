"""D01 in Python (twin of D01_frequent_outpatient_visits.sql): `min_encounters` or more outpatient
encounters (med_type 11, 13, 14) of a person in some `window_days`-day window, the history's included;
one flag per person resting on the encounters of every qualifying window; amount 0."""

from __future__ import annotations

import bisect
from collections import defaultdict
from decimal import Decimal
from typing import Any

OUTPATIENT = frozenset({"11", "13", "14"})
ZERO = Decimal("0.00")


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    min_n = params["min_encounters"]
    span = params["window_days"] - 1
    by_psn: dict[str, list[dict]] = defaultdict(list)
    for m in frame.mdtrt.values():
        if m["med_type"] in OUTPATIENT:
            by_psn[m["psn_no"]].append(m)
    out = []
    for psn_no in sorted(by_psn):
        encs = sorted(by_psn[psn_no], key=lambda m: m["begn_date"])
        if len(encs) < min_n or (frame.focus is not None and not any(frame.in_focus(m["mdtrt_id"]) for m in encs)):
            continue
        dates = [m["begn_date"] for m in encs]
        windows = []  # (start, encounters)
        for start in sorted(set(dates)):
            lo = bisect.bisect_left(dates, start)
            hi = lo
            while hi < len(dates) and (dates[hi] - start).days <= span:
                hi += 1
            if hi - lo >= min_n:
                windows.append((start, lo, hi))
        if not windows:
            continue
        members = sorted({encs[i]["mdtrt_id"] for _, lo, hi in windows for i in range(lo, hi)})
        out.append(
            {
                "psn_no": psn_no,
                "vola_amt": ZERO,
                "ev_max_encounters": max(hi - lo for _, lo, hi in windows),
                "ev_first_window_start": windows[0][0].isoformat(),
                "ev_windows": len(windows),
                "mdtrt_ids": members,
                "ev_encounters": len(members),
            }
        )
    return out
