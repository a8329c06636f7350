"""B02 in Python (twin of B02_duplicate_charge.sql): units beyond an hour/day limit on the later lines;
for items with no limit, identical duplicate lines after the first (the message names the first)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from fundguard.realtime.custom._common import num_text


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    out = []
    for mdtrt_id in sorted({line["mdtrt_id"] for line in frame.focus_lines}):
        lines = frame.lines_by_mdtrt.get(mdtrt_id, ())
        best: dict[str, tuple] = {}
        cum: dict[tuple, Decimal] = defaultdict(Decimal)
        earlier: dict[tuple, list[str]] = defaultdict(list)
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for f in lines:  # in (fee_ocur_time, feedetl_sn) order
            entries = kb.match("kb_item_limit", f["hilist_code"])
            if not entries:
                groups[(f["hilist_code"], f["net_cnt"], f["pric"], f["fee_ocur_time"])].append(f)
                continue
            for k in entries:
                if k["per"] not in ("hour", "day"):
                    continue
                t = f["fee_ocur_time"]
                bucket = t.replace(minute=0, second=0, microsecond=0) if k["per"] == "hour" else f["fee_date"]
                key = (f["hilist_code"], k["hilist_code"], k["per"], bucket)
                cum[key] += f["net_cnt"]
                over = cum[key] - k["max_cnt"]
                if over > 0:
                    beyond = f["net_cnt"] if over >= f["net_cnt"] else over
                    amt = beyond * f["pric"]
                    cand = (amt, k["per"], k["max_cnt"], beyond, list(earlier[key]), k)
                    cur = best.get(f["feedetl_sn"])
                    if cur is None or (-cand[0], cand[1]) < (-cur[0], cur[1]):
                        best[f["feedetl_sn"]] = cand
                earlier[key].append(f["feedetl_sn"])
        for sn, (amt, per, max_cnt, beyond, involved, entry) in best.items():
            f = frame.line_by_sn[sn]
            out.append(
                {
                    "feedetl_sn": sn,
                    "vola_amt": amt,
                    "hilist_code": f["hilist_code"],
                    "item_name": f["item_name"],
                    "ev_kb_code": entry["hilist_code"],
                    "ev_kb_source": entry.get("source"),
                    "ev_kb_per": per,
                    "ev_kb_max_cnt": max_cnt,
                    "ev_beyond_cnt": beyond,
                    "ev_first_feedetl_sn": None,
                    "ev_reason": f"每{'小时' if per == 'hour' else '日'}限 {max_cnt} 单位，本明细超出 {num_text(beyond)} 单位",
                    "_involved": involved,
                }
            )
        for group in groups.values():
            ordered = sorted(group, key=lambda f: f["feedetl_sn"])
            first = ordered[0]["feedetl_sn"]
            for f in ordered[1:]:
                out.append(
                    {
                        "feedetl_sn": f["feedetl_sn"],
                        "vola_amt": f["net_amt"],
                        "hilist_code": f["hilist_code"],
                        "item_name": f["item_name"],
                        "ev_kb_code": None,
                        "ev_kb_source": None,
                        "ev_kb_per": None,
                        "ev_kb_max_cnt": None,
                        "ev_beyond_cnt": None,
                        "ev_first_feedetl_sn": first,
                        "ev_reason": f"与同一就诊中明细 {first} 的数量、单价、收费时间完全相同，重复收费",
                        "_involved": [first],
                    }
                )
    return out
