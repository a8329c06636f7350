"""B05 in Python (twin of B05_units_over_encounter_limit.sql): units of an item on one encounter beyond
its per-encounter limit, on the latest lines; amount units beyond × unit price."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    out = []
    for mdtrt_id in sorted({line["mdtrt_id"] for line in frame.focus_lines}):
        cum: dict[tuple, Decimal] = defaultdict(Decimal)
        earlier: dict[tuple, list[str]] = defaultdict(list)
        for f in frame.lines_by_mdtrt.get(mdtrt_id, ()):
            for k in kb.match("kb_item_limit", f["hilist_code"]):
                if k["per"] != "mdtrt":
                    continue
                key = (f["hilist_code"], k["hilist_code"])
                cum[key] += f["net_cnt"]
                over = cum[key] - k["max_cnt"]
                if over > 0:
                    beyond = f["net_cnt"] if over >= f["net_cnt"] else over
                    out.append(
                        {
                            "feedetl_sn": f["feedetl_sn"],
                            "vola_amt": beyond * f["pric"],
                            "hilist_code": f["hilist_code"],
                            "item_name": f["item_name"],
                            "ev_kb_code": k["hilist_code"],
                            "ev_kb_source": k.get("source"),
                            "ev_kb_max_cnt": k["max_cnt"],
                            "ev_cum_cnt": cum[key],
                            "ev_beyond_cnt": beyond,
                            "_involved": list(earlier[key]),
                        }
                    )
                earlier[key].append(f["feedetl_sn"])
    return out
