"""C08 in Python (twin of C08_drug_beyond_course.sql): supply of a course-limited drug on days beyond
`max_days` from the first use of its course (a course breaks after `course_gap_days` or more from the
last day supplied so far), the person's history included; amount those days' share in whole cents."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from fundguard.realtime.custom._common import is_drug, pro_rata, supply_end


def _entry(kb, line: dict) -> dict | None:
    if not is_drug(line) or not line["prd_days"] > 0:
        return None
    for k in kb.match("kb_item_course", line["hilist_code"]):
        if k.get("max_days") is not None:
            return k
    return None


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    wanted = set()
    for f in frame.focus_lines:
        k = _entry(kb, f)
        if k is not None:
            wanted.add((f["psn_no"], k["hilist_code"]))
    if not wanted:
        return []
    gap_days = params["course_gap_days"]
    groups: dict[tuple, list[tuple[dict, dict]]] = defaultdict(list)
    for f in frame.lines:  # (fee_ocur_time, feedetl_sn) order
        k = _entry(kb, f)
        if k is not None and (f["psn_no"], k["hilist_code"]) in wanted:
            groups[(f["psn_no"], k["hilist_code"])].append((f, k))
    out = []
    for group in groups.values():
        courses: list[list[tuple[dict, dict]]] = []
        prev_end = None
        for f, k in group:
            if prev_end is None or (f["fee_date"] - prev_end).days + 1 >= gap_days:
                courses.append([])
            courses[-1].append((f, k))
            end = supply_end(f)
            prev_end = end if prev_end is None or end > prev_end else prev_end
        for course in courses:
            start = min(f["fee_date"] for f, _ in course)
            for f, k in course:
                if not frame.in_focus(f["mdtrt_id"]):
                    continue
                course_end = start + dt.timedelta(days=k["max_days"])
                end = supply_end(f)
                if not end > course_end:
                    continue
                beyond = (end - (f["fee_date"] if f["fee_date"] > course_end else course_end)).days
                out.append(
                    {
                        "feedetl_sn": f["feedetl_sn"],
                        "vola_amt": pro_rata(f["net_amt"], beyond, f["prd_days"]),
                        "hilist_code": f["hilist_code"],
                        "item_name": f["item_name"],
                        "ev_kb_hilist_code": k["hilist_code"],
                        "ev_kb_source": k.get("source"),
                        "ev_kb_max_days": k["max_days"],
                        "ev_course_start": start,
                        "ev_course_last_day": course_end - dt.timedelta(days=1),
                        "ev_fee_date": f["fee_date"],
                        "ev_prd_days": f["prd_days"],
                        "ev_beyond_days": beyond,
                        "_involved": [c["feedetl_sn"] for c, _ in course if c["fee_date"] == start],
                    }
                )
    return out
