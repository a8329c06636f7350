"""The knowledge edition held in memory for the real-time evaluator: dictionaries keyed by code.

Item codes match with the same precedence as the batch views (exact beats a `*` prefix, the longest
prefix wins; `fundguard.kb.matching.CodeMatcher`), resolved once per code and cached; diagnosis
prefixes match every prefix a code starts with (as the batch `diag_code_map`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fundguard.kb.matching import CodeMatcher
from fundguard.kb.tables import KB_TABLES, to_arrow


class Knowledge:
    def __init__(self, tables: Mapping[str, list[dict]], *, manifest: Mapping | None = None, content_hash: str = "",
                 arrow: Mapping[str, Any] | None = None):
        self.tables = {name: list(tables.get(name) or []) for name in KB_TABLES}
        #: the same tables as Arrow (the edition's own, else built when first asked for): rules run by
        #: their SQL in real time read them in DuckDB
        self._arrow = dict(arrow) if arrow is not None else None
        self.manifest = dict(manifest or {})
        self.content_hash = content_hash
        self._matchers: dict[tuple[str, str], CodeMatcher] = {}
        self._cache: dict[tuple[str, str, str], list[dict]] = {}
        self.hilist: dict[str, dict] = {r["hilist_code"]: r for r in self.tables["kb_hilist"] if r.get("hilist_code")}
        self._prefix_rows: dict[str, dict[str, list[dict]]] = {}
        self._prefix_lengths: dict[str, list[int]] = {}

    @classmethod
    def from_edition(cls, edition) -> Knowledge:
        return cls(
            {name: table.to_pylist() for name, table in edition.tables.items()},
            manifest=edition.manifest,
            content_hash=edition.content_hash,
            arrow=edition.tables,
        )

    @classmethod
    def from_rows(cls, given: Mapping[str, list[dict]], *, manifest: Mapping | None = None, content_hash: str = "") -> Knowledge:
        """Knowledge from plain rows (rule examples): typed as the edition's Parquet columns."""
        arrow = {}
        for name in KB_TABLES:
            rows = [{"source": "example", **r} for r in given.get(name) or []]
            if rows:
                arrow[name] = to_arrow(name, rows)
        return cls({name: t.to_pylist() for name, t in arrow.items()}, manifest=manifest, content_hash=content_hash,
                   arrow=arrow)

    @property
    def arrow(self) -> dict[str, Any]:
        """Every knowledge table as Arrow with its edition types (empty tables left out)."""
        if self._arrow is None:
            self._arrow = {name: to_arrow(name, rows) for name, rows in self.tables.items() if rows}
        return self._arrow

    def match(self, table: str, code: str | None, column: str = "hilist_code") -> list[dict]:
        """The rows of `table` whose `column` entry wins for `code` (all rows of that entry), or []."""
        if code is None:
            return []
        key = (table, column, code)
        hit = self._cache.get(key)
        if hit is None:
            matcher = self._matchers.get((table, column))
            if matcher is None:
                matcher = CodeMatcher(self.tables[table], column)
                self._matchers[(table, column)] = matcher
            hit = matcher.lookup(code)
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def winning_code(self, table: str, code: str | None, column: str) -> str | None:
        rows = self.match(table, code, column)
        return rows[0][column] if rows else None

    def diag_matches(self, table: str, diag_code: str | None) -> list[dict]:
        """Every row of a prefix-keyed table whose `diag_prefix` the code starts with (sorted by prefix)."""
        if diag_code is None:
            return []
        rows = self._prefix_rows.get(table)
        if rows is None:
            rows = {}
            for r in self.tables[table]:
                if r.get("diag_prefix") is not None:
                    rows.setdefault(r["diag_prefix"], []).append(r)
            # lengths before rows: another request thread that sees the rows finds their lengths
            self._prefix_lengths[table] = sorted({len(p) for p in rows})
            self._prefix_rows[table] = rows
        out = []
        for length in self._prefix_lengths[table]:
            if length > len(diag_code):
                break
            out.extend(rows.get(diag_code[:length], ()))
        out.sort(key=lambda r: r["diag_prefix"])
        return out

    def warm(self) -> None:
        """Build every matcher now (at start-up), not on the first request."""
        from fundguard.kb.tables import KB_CODE_COLUMN

        for table, column in KB_CODE_COLUMN.items():
            self.match(table, "", column)
        self.match("kb_exclusive", "", "hilist_code_b")
        self.match("kb_bundle", "", "part_code")
        for table in ("kb_diag_gender", "kb_diag_age", "kb_item_indication"):
            self.diag_matches(table, "")
