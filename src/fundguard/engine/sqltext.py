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


def range_text(lo: str, hi: str, unit: str) -> str:
    """SQL for a range as a reader expects it, either end possibly open: `0~17 岁`, `60 岁及以上`,
    `17 岁及以下`, `0 岁` (both ends equal); NULL when both ends are open."""
    u = quote_text(f" {unit}" if unit else "")
    a, b = f"{{{{ num_text({lo}) }}}}", f"{{{{ num_text({hi}) }}}}"
    return (
        f"CASE WHEN {lo} = {hi} THEN concat({a}, {u}) "
        f"WHEN {lo} IS NOT NULL AND {hi} IS NOT NULL THEN concat({a}, '~', {b}, {u}) "
        f"WHEN {lo} IS NOT NULL THEN concat({a}, {u}, '及以上') "
        f"WHEN {hi} IS NOT NULL THEN concat({b}, {u}, '及以下') END"
    )


def case_ranks(expr: str, ranks: dict[str, int]) -> str:
    whens = " ".join(f"WHEN {quote_text(k)} THEN {int(v)}" for k, v in sorted(ranks.items()))
    return f"(CASE {expr} {whens} END)"
