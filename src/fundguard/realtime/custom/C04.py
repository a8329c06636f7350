"""C04 in Python (twin of C04_daily_dose_over_limit.sql): drug lines whose quantity per supplied day
exceeds `kb_drug_days.max_daily_cnt`; amount the excess share in whole cents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

DRUG_TYPES = frozenset({"09", "10", "11"})


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    out = []
    for line in frame.focus_lines:
        days = line.get("prd_days")
        if line["med_chrgitm_type"] not in DRUG_TYPES or days is None or days <= 0:
            continue
        for k in kb.match("kb_drug_days", line["hilist_code"]):
            if k.get("max_daily_cnt") is None:
                continue
            allowed = k["max_daily_cnt"] * days
            cnt = line["net_cnt"]
            if not cnt > allowed:
                continue
            cents = int(line["net_amt"] * 100)
            share = (Decimal(cents) * int((cnt - allowed) * 10000) / int(cnt * 10000)).quantize(Decimal(1), ROUND_HALF_UP)
            out.append(
                {
                    "feedetl_sn": line["feedetl_sn"],
                    "vola_amt": share * Decimal("0.01"),
                    "hilist_code": line["hilist_code"],
                    "item_name": line["item_name"],
                    "ev_cnt": cnt,
                    "ev_prd_days": days,
                    "ev_daily_cnt": (cnt / days).quantize(Decimal("0.0001"), ROUND_HALF_UP),
                    "ev_kb_max_daily_cnt": k["max_daily_cnt"],
                    "ev_kb_hilist_code": k["hilist_code"],
                    "ev_kb_source": k.get("source"),
                    "ev_excess_cnt": cnt - allowed,
                }
            )
            break
    return out
