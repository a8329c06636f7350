"""The DuckDB batch backend: builds the curated views, runs a rule's SQL, assembles its flags.

Rule SQL is portable; what is DuckDB-specific (macro expansion, JSON evidence, hashing, lists) lives
here, in the engine, never in a rule.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from fundguard.contract.load import drop_relation
from fundguard.engine import macros, views
from fundguard.engine.flags import flag_context, message_pieces, params_json
from fundguard.engine.kinds import get_kind
from fundguard.engine.rule import ParamValue, Rule

NAME = "duckdb"
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")

FLAGS_DDL = """
CREATE OR REPLACE TEMP TABLE _flags (
  flag_id VARCHAR, run_id VARCHAR, rule_id VARCHAR, rule_version VARCHAR, sev_deg INTEGER,
  granularity VARCHAR, psn_no VARCHAR, mdtrt_id VARCHAR, setl_id VARCHAR, fixmedins_code VARCHAR,
  feedetl_sn VARCHAR[], mdtrt_ids VARCHAR[], vola_amt DECIMAL(16,2), message VARCHAR, evidence VARCHAR,
  flag_key VARCHAR
)
"""


class RuleRuntimeError(RuntimeError):
    """A rule's SQL failed or broke the output contract (names the rule)."""


@dataclass
class RuleOutcome:
    flags: int
    vola_amt: Decimal
    seconds: float


def _display(expr: str, sql_type: str) -> str:
    """A column as message text: quantities and unit prices (more than 2 decimals) without trailing zeros."""
    m = re.match(r"DECIMAL\(\d+,(\d+)\)", sql_type)
    if m and int(m.group(1)) > 2:
        return f"CASE WHEN {expr} = 0 THEN '0' ELSE rtrim(rtrim(CAST({expr} AS VARCHAR), '0'), '.') END"
    return f"CAST({expr} AS VARCHAR)"


def expand(sql: str) -> str:
    return macros.expand(sql, NAME)


def sql_params(sql: str) -> list[str]:
    """The `$name` parameters an (expanded) SQL text uses, in order of first use."""
    seen: list[str] = []
    for name in _PARAM.findall(sql):
        if name not in seen:
            seen.append(name)
    return seen


class DuckDBBackend:
    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def build_views(self, kb_tables: set[str] | None = None) -> float:
        start = time.perf_counter()
        for name in views.VIEW_NAMES:
            drop_relation(self.con, name)
        for stmt in views.view_statements(kb_tables):
            self.con.execute(expand(stmt))
        self.con.execute(FLAGS_DDL)
        return time.perf_counter() - start

    def rule_sql(self, rule: Rule) -> str:
        return get_kind(rule.kind).batch_sql(rule)

    def count(self, sql: str) -> int:
        """A portable count query (no parameters) over the views."""
        return int(self.con.execute(expand(sql)).fetchone()[0])

    def run_rule(
        self,
        rule: Rule,
        params: dict[str, ParamValue],
        *,
        run_id: str,
        version: str,
        kb_hash: str,
    ) -> RuleOutcome:
        start = time.perf_counter()
        sql = expand(self.rule_sql(rule))
        used = sql_params(sql)
        unknown = [p for p in used if p not in params]
        if unknown:
            raise RuleRuntimeError(f"规则 {rule.id}{rule.source} 的 SQL 使用了未声明的参数: {', '.join('$' + u for u in unknown)}")
        try:
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE _r AS SELECT * REPLACE "
                f"(CAST(ROUND(vola_amt, 2) AS DECIMAL(16,2)) AS vola_amt) FROM ({sql}) _rule",  # noqa: S608
                {p: params[p] for p in used},
            )
        except (duckdb.InterruptException, duckdb.OutOfMemoryException):
            raise  # Ctrl-C or the memory limit: the run stops, it is not the rule's fault
        except duckdb.Error as exc:
            if "REPLACE list" in str(exc):  # the rule returns no vola_amt column
                key = rule.granularity.key_column
                raise RuleRuntimeError(f"规则 {rule.id}{rule.source} 的 SQL 须返回 {key} 与 vola_amt 列 (缺少 vola_amt)") from None
            raise RuleRuntimeError(f"规则 {rule.id}{rule.source} 的 SQL 执行失败: {exc}") from exc
        described = self.con.execute("DESCRIBE _r").fetchall()
        cols = [r[0] for r in described]
        self._types = {r[0]: str(r[1]) for r in described}
        self._insert_flags(rule, params, cols, run_id=run_id, version=version, kb_hash=kb_hash)
        n, amt = self.con.execute(
            "SELECT count(*), COALESCE(sum(vola_amt), 0) FROM _flags WHERE rule_id = ?", [rule.id]
        ).fetchone()
        self.con.execute("DROP TABLE _r")
        return RuleOutcome(int(n), Decimal(amt), time.perf_counter() - start)

    def _insert_flags(self, rule: Rule, params: dict, cols: list[str], *, run_id: str, version: str, kb_hash: str) -> None:
        g = rule.granularity
        key = g.key_column
        if key not in cols or "vola_amt" not in cols:
            raise RuleRuntimeError(f"规则 {rule.id}{rule.source} 的 SQL 须返回 {key} 与 vola_amt 列, 实际返回: {', '.join(cols)}")
        has = set(cols)
        empty = "CAST([] AS VARCHAR[])"
        if "flag_key" in has:
            flag_key = "r.flag_key"
        elif "flag_detail" in has:
            flag_key = f"r.{key} || '|' || CAST(r.flag_detail AS VARCHAR)"
        else:
            flag_key = f"CAST(r.{key} AS VARCHAR)"
        ctx = flag_context(g, has, null="CAST(NULL AS VARCHAR)", empty=empty, list_of=lambda x: f"[{x}]")

        bind: dict[str, object] = {
            "_run_id": run_id,
            "_rule_id": rule.id,
            "_version": version,
            "_kb_hash": kb_hash,
            "_sev": int(rule.severity),
            "_gran": g.value,
            "_params_json": params_json(params),
        }
        parts = []
        for i, (kind, value) in enumerate(message_pieces(rule.message)):
            if kind == "field" and value in has:
                parts.append(f"COALESCE({_display(f'r.{value}', self._types.get(value, ''))}, '')")
            elif kind == "field" and value in params:
                bind[f"_m{i}"] = str(params[value])
                parts.append(f"$_m{i}")
            elif kind == "field":
                raise RuleRuntimeError(
                    f"规则 {rule.id}{rule.source} 的 message 引用了 {{{value}}}, 它既不是 SQL 输出列也不是参数 (输出列: {', '.join(cols)})"
                )
            else:
                bind[f"_m{i}"] = value
                parts.append(f"$_m{i}")
        message = f"concat({', '.join(parts)})" if parts else "''"
        ev_cols = [c for c in cols if c.startswith("ev_")]
        if ev_cols:
            struct = ", ".join(f"{c[3:]} := r.{c}" for c in ev_cols)
            values = f"CAST(to_json(struct_pack({struct})) AS VARCHAR)"
        else:
            values = "'{}'"
        evidence = f"""'{{"params":' || $_params_json || ',"values":' || {values} || '}}'"""
        select = f"""
WITH r AS (SELECT *, {flag_key} AS _flag_key FROM _r r)
SELECT substr(sha256($_rule_id || '|' || $_version || '|' || $_kb_hash || '|' || r._flag_key), 1, 32),
       $_run_id, $_rule_id, $_version, CAST($_sev AS INTEGER), $_gran,
       {", ".join(ctx.who)}, {ctx.lines}, {ctx.encs}, r.vola_amt, {message}, {evidence}, r._flag_key
FROM r {ctx.joins}
"""  # noqa: S608
        dup = self.con.execute(
            f"SELECT _flag_key, count(*) FROM (SELECT {flag_key} AS _flag_key FROM _r r) "  # noqa: S608
            "GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 1"
        ).fetchone()
        if dup:
            raise RuleRuntimeError(f"规则 {rule.id}{rule.source} 对同一键 {dup[0]!r} 返回了 {dup[1]} 行 (每个疑点应只有一行)")
        try:
            self.con.execute(f"INSERT INTO _flags {select}", bind)
        except duckdb.OutOfMemoryException:
            raise
        except duckdb.Error as exc:
            raise RuleRuntimeError(f"规则 {rule.id}{rule.source} 的疑点组装失败: {exc}") from exc

    def flag_rows(self, rule_id: str | None = None) -> list[tuple]:
        where = "WHERE rule_id = ?" if rule_id else ""
        return self.con.execute(
            f"SELECT flag_key, vola_amt FROM _flags {where} ORDER BY flag_key",  # noqa: S608
            [rule_id] if rule_id else [],
        ).fetchall()

    def write_flags(self, path: Path) -> None:
        target = str(Path(path).resolve()).replace("'", "''")
        self.con.execute(f"COPY (SELECT * FROM _flags ORDER BY flag_id) TO '{target}' (FORMAT parquet)")
