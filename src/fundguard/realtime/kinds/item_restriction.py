"""Kind `item_restriction` in Python: a billed item restricted by a knowledge table against an attribute
of the line's person, encounter, institution or doctor (twin of engine/kinds/item_restriction.py)."""

from __future__ import annotations

from typing import Any

from fundguard.realtime.kinds._common import item_name, label, range_text

NAME = "item_restriction"


def _passes(config, line: dict, k: dict) -> bool:
    s = line.get(config.subject) if config.subject else None
    if config.test == "differs":
        kv = k.get(config.kb_column)
        if s is None or kv is None:
            return False
        if config.valid_values and (s not in config.valid_values or kv not in config.valid_values):
            return False
        return s != kv
    if config.test == "outside_range":
        if s is None:
            return False
        lo, hi = k.get(config.kb_min), k.get(config.kb_max)
        return (lo is not None and s < lo) or (hi is not None and s > hi)
    if config.test == "rank_above":
        a, b = config.ranks.get(s), config.ranks.get(k.get(config.kb_column))
        return a is not None and b is not None and a > b
    if config.test == "not_allowed":
        kv = k.get(config.kb_column)
        if kv not in config.allowed or s is None:
            return False
        return s not in config.allowed[kv]
    return True


def _filtered(config, line: dict) -> bool:
    for field, filters, keep in (("only_if", config.only_if, True), ("unless", config.unless, False)):
        for col, vals in filters.items():
            if col not in line:  # a misspelt column would silently never (or always) match
                raise RuntimeError(f"with.{field} 的列 {col!r} 不是费用明细 (fee_lines) 的列")
            if (line[col] in vals) != keep:
                return False
    return True


def evaluate(rule: Any, config, params: dict, frame, kb) -> list[dict]:
    out = []
    kb_cols = [c for c in (config.kb_column, config.kb_min, config.kb_max) if c]
    for line in frame.focus_lines:
        if not _filtered(config, line):
            continue
        for k in kb.match(config.kb_table, line["hilist_code"]):
            if not _passes(config, line, k):
                continue
            row = {
                "feedetl_sn": line["feedetl_sn"],
                "vola_amt": line["net_amt"],
                "hilist_code": line["hilist_code"],
                "item_name": item_name(line, k),
                "ev_kb_code": k["hilist_code"],
                "ev_kb_source": k.get("source"),
            }
            for c in kb_cols:
                row[f"ev_kb_{c}"] = k.get(c)
            if config.test == "outside_range":
                row["ev_kb_range"] = range_text(k.get(config.kb_min), k.get(config.kb_max), config.range_unit)
            if config.subject:
                row[f"ev_{config.subject}"] = line.get(config.subject)
            for col in sorted(set(config.only_if) | set(config.unless)):
                if col != config.subject:
                    row[f"ev_{col}"] = line.get(col)
            for col in config.labels:
                if col == config.subject or col in config.only_if or col in config.unless:
                    row[f"ev_{col}_label"] = label(config.labels, col, line.get(col))
                if col in kb_cols:
                    row[f"ev_kb_{col}_label"] = label(config.labels, col, k.get(col))
            out.append(row)
            break
    return out
