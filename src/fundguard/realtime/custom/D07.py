"""D07 in Python (twin of D07_overlapping_stays.sql): an inpatient stay overlapping an earlier stay of
the same person (any institution, history included) by `min_overlap_days` or more calendar days, or
lying wholly inside it; the later stay (by begntime, then mdtrt_id) is flagged with its fund payment."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fundguard.realtime.custom._common import INPATIENT_MED_TYPES, date_text


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    by_psn: dict[str, list[dict]] = defaultdict(list)
    for m in frame.mdtrt.values():
        if m["med_type"] in INPATIENT_MED_TYPES:
            by_psn[m["psn_no"]].append(m)
    min_days = params["min_overlap_days"]
    out = []
    for psn_no in sorted(by_psn):
        stays = sorted(by_psn[psn_no], key=lambda m: (m["begntime"], m["mdtrt_id"]))
        for i, b in enumerate(stays):
            pairs = []  # (overlap days, earlier stay)
            for a in stays[:i]:
                nested = b["endtime"] <= a["endtime"]  # wholly inside the earlier stay
                if not (a["end_date"] > b["begn_date"] or nested):
                    continue
                overlap = ((a["end_date"] if a["end_date"] < b["end_date"] else b["end_date"]) - b["begn_date"]).days
                if overlap >= min_days or nested:
                    pairs.append((overlap, a))
            if not pairs:
                continue
            ids = sorted({b["mdtrt_id"], *(a["mdtrt_id"] for _, a in pairs)})
            if frame.focus is not None and not any(frame.in_focus(x) for x in ids):
                continue
            overlap, e = min(pairs, key=lambda p: (-p[0], p[1]["begntime"], p[1]["mdtrt_id"]))
            out.append(
                {
                    "mdtrt_id": b["mdtrt_id"],
                    "vola_amt": b["hifp_pay"],
                    "ev_earlier_mdtrt_id": e["mdtrt_id"],
                    "ev_earlier_fixmedins_code": e["fixmedins_code"],
                    "ev_earlier_begn_date": date_text(e["begn_date"]),
                    "ev_earlier_end_date": date_text(e["end_date"]),
                    "ev_fixmedins_code": b["fixmedins_code"],
                    "ev_begn_date": date_text(b["begn_date"]),
                    "ev_end_date": date_text(b["end_date"]),
                    "ev_overlap_days": overlap,
                    "ev_overlap_text": "重叠（本次住院完全落在其期间之内）" if overlap < min_days else f"重叠 {overlap} 天（标准 {min_days} 天）",
                    "ev_hifp_pay": b["hifp_pay"],
                    "mdtrt_ids": ids,
                }
            )
    return out
