"""D04 in Python (twin of D04_visit_after_death.sql): an encounter starting after the person's date of
death (the day of death itself is not flagged); amount the fund payment."""

from __future__ import annotations

from typing import Any

from fundguard.realtime.custom._common import med_type_label
from fundguard.realtime.frame import days_between


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    out = []
    for m in frame.focus_mdtrts:
        death = m.get("death_date")
        if death is None or not m["begn_date"] > death:
            continue
        out.append(
            {
                "mdtrt_id": m["mdtrt_id"],
                "vola_amt": m["hifp_pay"],
                "ev_death_date": death.isoformat(),
                "ev_begn_date": m["begn_date"].isoformat(),
                "ev_days_after_death": days_between(death, m["begn_date"]),
                "ev_med_type": m["med_type"],
                "ev_med_type_label": med_type_label(m["med_type"]),
                "ev_hifp_pay": m["hifp_pay"],
            }
        )
    return out
