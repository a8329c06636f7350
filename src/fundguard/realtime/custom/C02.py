"""C02 in Python (twin of C02_overlapping_drug_supply.sql): a drug line whose supply period is already
covered by earlier supply of the same product to the same person (any institution, history included)
for more than `overlap_days` days; amount the overlapping days' share in whole cents."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from fundguard.realtime.custom._common import is_drug, pro_rata, supplied_days, supply_end


def _drug(line: dict) -> bool:
    return is_drug(line) and line["prd_days"] > 0 and supplied_days(line) > 0


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    wanted = {(f["psn_no"], f["hilist_code"]) for f in frame.focus_lines if _drug(f)}
    if not wanted:
        return []
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for f in frame.lines:  # (fee_ocur_time, feedetl_sn) order
        if (f["psn_no"], f["hilist_code"]) in wanted and _drug(f):
            groups[(f["psn_no"], f["hilist_code"])].append(f)
    limit = params["overlap_days"]
    out = []
    for group in groups.values():
        days = [supplied_days(f) for f in group]  # a partly refunded line supplies what remains
        ends = [supply_end(f, d) for f, d in zip(group, days, strict=True)]
        for i, a in enumerate(group):
            if not frame.in_focus(a["mdtrt_id"]):
                continue
            fee_date, end = a["fee_date"], ends[i]
            covering = [j for j in range(i) if ends[j] > fee_date]
            if not covering:
                continue
            prev_end = max(ends[j] for j in covering)
            overlap = ((prev_end if prev_end < end else end) - fee_date).days
            if not overlap > limit:
                continue
            amount = pro_rata(a["net_amt"], overlap, days[i])
            out.append(
                {
                    "feedetl_sn": a["feedetl_sn"],
                    "vola_amt": amount,
                    "feedetl_sns": sorted({a["feedetl_sn"], *(group[j]["feedetl_sn"] for j in covering)}),
                    "hilist_code": a["hilist_code"],
                    "item_name": a["item_name"],
                    "ev_fee_date": fee_date,
                    "ev_prd_days": days[i],
                    "ev_supply_last_day": end - dt.timedelta(days=1),
                    "ev_earlier_supply_last_day": prev_end - dt.timedelta(days=1),
                    "ev_overlap_days": overlap,
                    "ev_net_amt": a["net_amt"],
                    "_line_amts": {a["feedetl_sn"]: amount},
                }
            )
    return out
