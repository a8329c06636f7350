"""D03 in Python (twin of D03_outpatient_during_stay.sql): an outpatient or pharmacy encounter of the
person strictly inside an inpatient stay's days (the day after admission to the day before discharge),
at any institution; the history's encounters included. Amount the outpatient encounter's fund payment."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fundguard.realtime.custom._common import INPATIENT_MED_TYPES, date_text, med_type_label

OUTPATIENT = frozenset({"11", "13", "14", "41", "51"})


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    stays: dict[str, list[dict]] = defaultdict(list)
    visits = []
    for m in frame.mdtrt.values():
        if m["med_type"] in INPATIENT_MED_TYPES:
            stays[m["psn_no"]].append(m)
        elif m["med_type"] in OUTPATIENT:
            visits.append(m)
    if not stays or not visits:
        return []
    out = []
    for o in sorted(visits, key=lambda m: m["mdtrt_id"]):
        inside = [s for s in stays.get(o["psn_no"], ()) if s["begn_date"] < o["begn_date"] < s["end_date"]]
        if not inside:
            continue
        s = min(inside, key=lambda s: (s["begntime"], s["mdtrt_id"]))
        ids = sorted({o["mdtrt_id"], s["mdtrt_id"]})
        if frame.focus is not None and not any(frame.in_focus(x) for x in ids):
            continue
        out.append(
            {
                "mdtrt_id": o["mdtrt_id"],
                "vola_amt": o["hifp_pay"],
                "ev_med_type": o["med_type"],
                "ev_med_type_label": med_type_label(o["med_type"]),
                "ev_visit_date": date_text(o["begn_date"]),
                "ev_visit_fixmedins_code": o["fixmedins_code"],
                "ev_stay_mdtrt_id": s["mdtrt_id"],
                "ev_stay_fixmedins_code": s["fixmedins_code"],
                "ev_stay_begn_date": date_text(s["begn_date"]),
                "ev_stay_end_date": date_text(s["end_date"]),
                "ev_hifp_pay": o["hifp_pay"],
                "mdtrt_ids": ids,
            }
        )
    return out
