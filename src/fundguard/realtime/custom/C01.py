"""C01 in Python (twin of C01_drug_days_over_limit.sql): drug lines supplied for more days than allowed
(`kb_drug_days.max_prd_days`, else the setting's default; never above the absolute cap); amount the
excess days' share in whole cents."""

from __future__ import annotations

from typing import Any

from fundguard.realtime.custom._common import is_drug, pro_rata


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    default_days = params["default_max_prd_days"]
    chronic_days = params["chronic_max_prd_days"]
    cap = params["absolute_max_prd_days"]
    out = []
    for line in frame.focus_lines:
        if not is_drug(line):
            continue
        days = line["prd_days"]
        for k in kb.match("kb_drug_days", line["hilist_code"]) or [None]:
            kb_days = None if k is None else k.get("max_prd_days")
            if kb_days is not None:
                base = kb_days
            elif line["med_type"] == "14":
                base = chronic_days
            else:
                base = default_days
            if base > cap:
                limit, source = cap, "任何情形最长"
            elif kb_days is not None:
                limit, source = base, "知识库限定"
            elif line["med_type"] == "14":
                limit, source = base, "门诊慢特病默认"
            else:
                limit, source = base, "默认"
            if not days > limit:
                continue
            out.append(
                {
                    "feedetl_sn": line["feedetl_sn"],
                    "vola_amt": pro_rata(line["net_amt"], days - limit, days),
                    "hilist_code": line["hilist_code"],
                    "item_name": line["item_name"],
                    "ev_prd_days": days,
                    "ev_limit_days": limit,
                    "ev_limit_source": source,
                    "ev_kb_max_prd_days": kb_days,
                    "ev_kb_code": None if kb_days is None else k["hilist_code"],
                    "ev_kb_source": None if kb_days is None else k.get("source"),
                    "ev_excess_days": days - limit,
                    "ev_net_amt": line["net_amt"],
                }
            )
    return out
