"""Code matching of knowledge entries: an exact code beats a prefix (`XG02B*`), a longer prefix beats a shorter.

One rule, two implementations that the tests hold identical: `resolved_sql` for the batch engines
(portable SQL: substr, length, CASE, rank() — it transpiles to Spark with SQLGlot) and `CodeMatcher`
for the real-time evaluator (dictionary lookups, prefixes resolved once at load). Every kb row of the
winning specificity is kept, since one code may have several rows (bundle parts, indications).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from fundguard.kb.tables import KB_CODE_COLUMN, KB_TABLES

PREFIX_MARK = "*"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Exact matches rank above any prefix: no code is this long.
_EXACT_RANK = 1_000_000


def _identifier(name: str, what: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{what} must be an identifier, got {name!r}")
    return name


def resolved_sql(kb_table: str, codes_relation: str, code_col: str = "hilist_code", *,
                 kb_code_col: str | None = None) -> str:
    """SQL returning `(code, <kb_table columns…>)`: for each distinct code of `codes_relation.code_col`,
    the rows of `kb_table` that match it with the highest specificity (exact, else the longest prefix).

    `codes_relation` is a table or view name; `kb_code_col` defaults to the table's code column
    (`hilist_code`, `bundle_code` for kb_bundle, `hilist_code_a` for kb_exclusive).
    """
    if kb_table not in KB_TABLES:
        raise ValueError(f"unknown kb table {kb_table!r}")
    key = _identifier(kb_code_col or KB_CODE_COLUMN.get(kb_table, "hilist_code"), "kb_code_col")
    if key not in dict(KB_TABLES[kb_table]):
        raise ValueError(f"{kb_table} has no column {key!r}")
    relation = _identifier(codes_relation, "codes_relation")
    code = _identifier(code_col, "code_col")
    columns = [c for c, _ in KB_TABLES[kb_table]]
    kb_cols = ", ".join(f"m.{c}" for c in columns)
    out_cols = ", ".join(f"r.{c}" for c in columns)
    return f"""WITH kb_m AS (
  SELECT k.*,
    CASE WHEN substr(k.{key}, length(k.{key}), 1) = '{PREFIX_MARK}' THEN 1 ELSE 0 END AS kb_is_prefix,
    CASE WHEN substr(k.{key}, length(k.{key}), 1) = '{PREFIX_MARK}'
         THEN substr(k.{key}, 1, length(k.{key}) - 1) ELSE k.{key} END AS kb_match_key
  FROM {kb_table} k
),
codes_d AS (
  SELECT DISTINCT {code} AS code FROM {relation} WHERE {code} IS NOT NULL
),
cand AS (
  SELECT c.code, {kb_cols}, {_EXACT_RANK} AS kb_specificity
  FROM codes_d c JOIN kb_m m ON m.kb_is_prefix = 0 AND c.code = m.kb_match_key
  UNION ALL
  SELECT c.code, {kb_cols}, length(m.kb_match_key) AS kb_specificity
  FROM codes_d c JOIN kb_m m
    ON m.kb_is_prefix = 1 AND length(c.code) >= length(m.kb_match_key)
   AND substr(c.code, 1, length(m.kb_match_key)) = m.kb_match_key
),
ranked AS (
  SELECT cand.*, rank() OVER (PARTITION BY code ORDER BY kb_specificity DESC) AS kb_rank FROM cand
)
SELECT r.code, {out_cols} FROM ranked r WHERE r.kb_rank = 1"""


class CodeMatcher:
    """In-memory matcher over a kb table's rows with the same precedence as `resolved_sql`."""

    def __init__(self, rows: Iterable[Mapping], code_col: str = "hilist_code"):
        self.code_col = code_col
        self._exact: dict[str, list[dict]] = {}
        self._prefix: dict[str, list[dict]] = {}
        for row in rows:
            key = row[code_col]
            if key is None:
                continue
            if key.endswith(PREFIX_MARK):
                self._prefix.setdefault(key[:-1], []).append(dict(row))
            else:
                self._exact.setdefault(key, []).append(dict(row))
        # Longest first, so the first hit is the most specific prefix.
        self._lengths = sorted({len(p) for p in self._prefix}, reverse=True)

    @classmethod
    def for_table(cls, table, kb_table: str, code_col: str | None = None) -> CodeMatcher:
        """Build from a pyarrow table (e.g. `edition.tables[kb_table]`)."""
        return cls(table.to_pylist(), code_col or KB_CODE_COLUMN.get(kb_table, "hilist_code"))

    def lookup(self, code: str | None) -> list[dict]:
        """The winning rows for a code (exact, else longest prefix), or [] when nothing matches."""
        if code is None:
            return []
        rows = self._exact.get(code)
        if rows is not None:
            return rows
        for length in self._lengths:
            if length <= len(code):
                rows = self._prefix.get(code[:length])
                if rows is not None:
                    return rows
        return []

    def __contains__(self, code: str) -> bool:
        return bool(self.lookup(code))
