"""Kind `units_over_stay` in Python: per-day charges billed for more units than the stay has days
(twin of engine/kinds/units_over_stay.py); the units beyond are taken on the latest lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

NAME = "units_over_stay"


def evaluate(rule: Any, config, params: dict, frame, kb) -> list[dict]:
    types = set(config.med_chrgitm_types)
    prefixes = tuple(config.hilist_code_prefixes or ("",))
    out = []
    for m in frame.focus_mdtrts:
        if not m["is_inpatient"]:
            continue
        lines = [f for f in frame.lines_by_mdtrt.get(m["mdtrt_id"], ()) if f["med_chrgitm_type"] in types and (f["hilist_code"] or "").startswith(prefixes)]
        if not lines:
            continue
        stay = m["stay_days"]
        total = sum((f["net_cnt"] for f in lines), Decimal(0))
        if total <= stay:
            continue
        cum = Decimal(0)
        amount = Decimal(0)
        beyond_lines: dict[str, Decimal] = {}
        for f in lines:
            cum += f["net_cnt"]
            over = cum - stay
            beyond = Decimal(0) if over <= 0 else (f["net_cnt"] if over >= f["net_cnt"] else over)
            if beyond > 0:
                beyond_lines[f["feedetl_sn"]] = beyond * f["pric"]
                amount += beyond * f["pric"]
        out.append(
            {
                "mdtrt_id": m["mdtrt_id"],
                "vola_amt": amount,
                "ev_billed_days": total,
                "ev_stay_days": stay,
                "ev_excess_days": total - stay,
                "feedetl_sns": sorted(beyond_lines),
                "_line_amts": beyond_lines,
                "_involved": [f["feedetl_sn"] for f in lines if f["feedetl_sn"] not in beyond_lines],
            }
        )
    return out
