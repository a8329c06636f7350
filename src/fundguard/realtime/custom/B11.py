"""B11 in Python (twin of B11_item_beyond_course.sql): uses of a course-limited item on days more than
`max_days` after the first day of its course (uses less than `course_gap_days` apart form a course), or
sooner than `min_interval_days` after the previous use day; every line on such a day, with its amount.
The person's use days include the history's."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fundguard.realtime.custom._common import is_drug, matches


def _bad_days(days: list, k: dict, gap_days: int) -> dict:
    """{use day: (course start, previous day, reason)} for the days of one person and entry."""
    max_days, min_interval = k.get("max_days"), k.get("min_interval_days")
    out = {}
    prev = None
    start = None
    for day in days:
        if prev is None or (day - prev).days >= gap_days:
            start = day
        since_start = (day - start).days
        beyond = max_days is not None and since_start > max_days
        too_soon = min_interval is not None and prev is not None and (day - prev).days < min_interval
        if beyond:
            out[day] = (start, prev, f"疗程限 {max_days} 天，疗程自 {start} 起，首日后第 {since_start} 天仍收费")
        elif too_soon:
            out[day] = (start, prev, f"两次使用最少间隔 {min_interval} 天，距上次 {prev} 仅 {(day - prev).days} 天")
        prev = day
    return out


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    focus = [f for f in frame.focus_lines if not is_drug(f) and kb.match("kb_item_course", f["hilist_code"])]
    if not focus:
        return []
    gap_days = params["course_gap_days"]
    known = matches(kb, "kb_item_course", frame.lines)
    wanted = {(f["psn_no"], known[f["hilist_code"]][0]["hilist_code"]) for f in focus}
    days: dict[tuple, set] = defaultdict(set)
    day_lines: dict[tuple, list[str]] = defaultdict(list)  # (person, entry, day) -> its lines
    for f in frame.lines:
        if is_drug(f):
            continue
        entries = known.get(f["hilist_code"])
        if entries and (f["psn_no"], entries[0]["hilist_code"]) in wanted:
            days[(f["psn_no"], entries[0]["hilist_code"])].add(f["fee_date"])
            day_lines[(f["psn_no"], entries[0]["hilist_code"], f["fee_date"])].append(f["feedetl_sn"])
    bad: dict[tuple, dict] = {}
    out = []
    for f in focus:
        for k in known[f["hilist_code"]]:
            key = (f["psn_no"], k["hilist_code"])
            found = bad.get(key)
            if found is None:
                found = bad[key] = _bad_days(sorted(days[key]), k, gap_days)
            hit = found.get(f["fee_date"])
            if hit is None:
                continue
            start, prev, reason = hit
            out.append(
                {
                    "feedetl_sn": f["feedetl_sn"],
                    "vola_amt": f["net_amt"],
                    "hilist_code": f["hilist_code"],
                    "item_name": f["item_name"],
                    "ev_course_start": start,
                    "ev_prev_date": prev,
                    "ev_kb_max_days": k.get("max_days"),
                    "ev_kb_min_interval_days": k.get("min_interval_days"),
                    "ev_reason": reason,
                    "ev_kb_code": k["hilist_code"],
                    "ev_kb_source": k.get("source"),
                    # the lines on the course's first day and the previous use day
                    "_involved": [*day_lines[(*key, start)], *(day_lines[(*key, prev)] if prev is not None else ())],
                }
            )
    return out
