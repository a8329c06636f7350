"""Kind `diag_restriction` in Python: a diagnosis restricted by a prefix-keyed knowledge table against
the encounter's person (twin of engine/kinds/diag_restriction.py). One flag per encounter, amount 0."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fundguard.realtime.kinds._common import label, range_text

NAME = "diag_restriction"


def _passes(config, s, k: dict) -> bool:
    if config.test == "differs":
        kv = k.get(config.kb_column)
        if s is None or kv is None:
            return False
        if config.valid_values and (s not in config.valid_values or kv not in config.valid_values):
            return False
        return s != kv
    if s is None:
        return False
    lo, hi = k.get(config.kb_min), k.get(config.kb_max)
    return (lo is not None and s < lo) or (hi is not None and s > hi)


def evaluate(rule: Any, config, params: dict, frame, kb) -> list[dict]:
    out = []
    cols = [config.kb_column] if config.test == "differs" else [config.kb_min, config.kb_max]
    for m in frame.focus_mdtrts:
        s = m.get(config.subject)
        hit = None
        for d in frame.diag_by_mdtrt.get(m["mdtrt_id"], ()):
            for k in kb.diag_matches(config.kb_table, d["diag_code"]):
                if _passes(config, s, k):
                    hit = (d, k)
                    break
            if hit:
                break
        if hit is None:
            continue
        d, k = hit
        row = {
            "mdtrt_id": m["mdtrt_id"],
            "vola_amt": Decimal("0.00"),
            "ev_diag_code": d["diag_code"],
            "ev_diag_name": d["diag_name"],
            "ev_kb_diag_prefix": k["diag_prefix"],
            "ev_kb_source": k.get("source"),
        }
        for c in cols:
            row[f"ev_kb_{c}"] = k.get(c)
        if config.test == "outside_range":
            row["ev_kb_range"] = range_text(k.get(config.kb_min), k.get(config.kb_max), config.range_unit)
        row[f"ev_{config.subject}"] = s
        for col in config.labels:
            if col == config.subject:
                row[f"ev_{col}_label"] = label(config.labels, col, s)
            if col in cols:
                row[f"ev_kb_{col}_label"] = label(config.labels, col, k.get(col))
        out.append(row)
    return out
