"""B04 in Python (twin of B04_mutually_exclusive_items.sql): both items of an exclusive pair within its
scope; the cheaper side's lines are flagged with their amount."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

_NO_DAY = dt.date(1900, 1, 1)


def evaluate(rule: Any, params: dict, frame, kb) -> list[dict]:
    out = []
    for mdtrt_id in sorted({line["mdtrt_id"] for line in frame.focus_lines}):
        sides = []  # (pair, side, other_code, bucket, line)
        for f in frame.lines_by_mdtrt.get(mdtrt_id, ()):
            for column, side in (("hilist_code_a", "a"), ("hilist_code_b", "b")):
                for k in kb.match("kb_exclusive", f["hilist_code"], column):
                    pair = (k["hilist_code_a"], k["hilist_code_b"], k["scope"])
                    bucket = f["fee_date"] if k["scope"] == "day" else _NO_DAY
                    other = k["hilist_code_b"] if side == "a" else k["hilist_code_a"]
                    sides.append((pair, side, other, bucket, f, k))
        totals: dict[tuple, dict[str, list]] = defaultdict(lambda: {"a": [Decimal(0), [], []], "b": [Decimal(0), [], []]})
        for pair, side, _, bucket, f, _ in sides:
            t = totals[(pair, bucket)][side]
            t[0] += f["net_amt"]
            t[1].append(f["feedetl_sn"])
            t[2].append(f["item_name"])
        best: dict[str, tuple] = {}
        for pair, side, other, bucket, f, k in sides:
            t = totals[(pair, bucket)]
            if not t["a"][1] or not t["b"][1]:
                continue
            if side != ("a" if t["a"][0] < t["b"][0] else "b"):
                continue
            opposite = t["b" if side == "a" else "a"]
            names = [n for n in opposite[2] if n is not None]
            cand = (pair[0], pair[1], other, pair[2], opposite[0], list(opposite[1]), min(names) if names else other, k)
            cur = best.get(f["feedetl_sn"])
            if cur is None or cand[:2] < cur[:2]:
                best[f["feedetl_sn"]] = cand
        for sn, (code_a, code_b, other, scope, other_amt, involved, other_name, entry) in best.items():
            f = frame.line_by_sn[sn]
            out.append(
                {
                    "feedetl_sn": sn,
                    "vola_amt": f["net_amt"],
                    "hilist_code": f["hilist_code"],
                    "item_name": f["item_name"],
                    "ev_other_code": other,
                    "ev_other_name": other_name,
                    "ev_kb_scope": scope,
                    "ev_scope_label": "同一天" if scope == "day" else "同一就诊",
                    "ev_other_amt": other_amt,
                    "ev_kb_code_a": code_a,
                    "ev_kb_code_b": code_b,
                    "ev_kb_source": entry.get("source"),
                    "_involved": involved,
                }
            )
    return out
