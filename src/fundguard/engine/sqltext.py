"""Small helpers that write SQL text from a rule file's structural settings (codes, labels, ranks).

Only for structure that is part of a rule's definition (like its SQL text); tunable values are
parameters bound as `$name`, never written into SQL.
"""

from __future__ import annotations


def quote_text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def case_labels(expr: str, labels: dict[str, str]) -> str:
    whens = " ".join(f"WHEN {quote_text(k)} THEN {quote_text(v)}" for k, v in sorted(labels.items()))
    return f"CASE {expr} {whens} ELSE {expr} END"


def case_ranks(expr: str, ranks: dict[str, int]) -> str:
    whens = " ".join(f"WHEN {quote_text(k)} THEN {int(v)}" for k, v in sorted(ranks.items()))
    return f"(CASE {expr} {whens} END)"
