"""The portable-subset lint: rule SQL that both engines (DuckDB, Spark via SQLGlot) compute alike.

Works on SQLGlot's syntax tree of a rule's SQL (macros kept as opaque calls), so string literals and
comments never trigger it and every finding names the rule and the construct. The subset is an allow
list of functions and cast types that were checked to give the same values on both engines; anything
else (DuckDB-only functions, `::`, INTERVAL, `date - date`, QUALIFY, JSON, lists, `//`, `SELECT *
EXCLUDE`…) is rejected with the macro or rewrite to use instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from fundguard.engine import macros

_MARKER = "__fgm_"

#: functions with the same result on DuckDB and Spark (Spark via SQLGlot's transpilation)
ALLOWED_FUNCTIONS: frozenset[type[exp.Expression]] = frozenset(
    {
        exp.And, exp.Or, exp.Not, exp.Case, exp.If, exp.Cast, exp.Coalesce, exp.Nullif, exp.Concat,
        exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg, exp.Exists, exp.Abs, exp.Floor, exp.Ceil,
        exp.Round, exp.Greatest, exp.Least, exp.Length, exp.Substring, exp.Upper, exp.Lower, exp.Trim,
        exp.RowNumber, exp.Rank, exp.DenseRank, exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue,
    }
)

#: cast targets both engines read the same way (TIMESTAMP is zone-less on both)
ALLOWED_CAST_TYPES: frozenset[exp.DataType.Type] = frozenset(
    {
        exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT,
        exp.DataType.Type.DECIMAL, exp.DataType.Type.DOUBLE, exp.DataType.Type.DATE,
        exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ, exp.DataType.Type.BOOLEAN,
    }
)

#: the macro or rewrite to use instead of a construct
_HINTS: dict[type[exp.Expression], str] = {
    exp.DateDiff: "用宏 {{ days_between(d1, d2) }} / {{ age_years(birth, at) }} / {{ seconds_between(t1, t2) }}",
    exp.DateAdd: "用宏 {{ add_days(d, n) }}",
    exp.DateSub: "用宏 {{ add_days(d, -n) }}",
    exp.DateTrunc: "用宏 {{ trunc_hour(ts) }} / {{ to_date(ts) }}",
    exp.TimestampTrunc: "用宏 {{ trunc_hour(ts) }} / {{ to_date(ts) }}",
    exp.Interval: "不得使用 INTERVAL: 用宏 {{ add_days(d, n) }} / {{ seconds_between(t1, t2) }}",
    exp.Qualify: "不得使用 QUALIFY: 用子查询 + ROW_NUMBER() 并在外层过滤",
    exp.IntDiv: "不得使用 //: 写作 CAST(FLOOR(a / b) AS INTEGER)",
    exp.Array: "不得使用列表: 用宏 {{ list_of(x) }}",
    exp.ArrayAgg: "不得使用列表聚合: 用宏 {{ list_agg(x) }}",
    exp.Struct: "不得使用结构体 (证据列写作 ev_* 列, 由引擎打包为 JSON)",
    exp.Unnest: "不得使用 UNNEST",
    exp.Explode: "不得使用 UNNEST/EXPLODE",
    exp.CurrentDate: "规则逻辑不得依赖当前时间",
    exp.CurrentTimestamp: "规则逻辑不得依赖当前时间",
    exp.Rand: "规则逻辑不得使用随机数",
}

#: column names that hold dates or times in the contract and the curated views
_TEMPORAL_NAME = re.compile(r"(date|time|brdy)$", re.I)


@dataclass(frozen=True, order=True)
class LintIssue:
    rule_id: str
    construct: str
    hint: str
    problem: str = "不在可移植 SQL 子集内"

    def __str__(self) -> str:
        return f"规则 {self.rule_id}: {self.construct} {self.problem} — {self.hint}"


def _markers() -> dict[str, macros.MacroImpl]:
    return {n: (lambda name: lambda *a: f"{_MARKER}{name}({', '.join(a)})")(n) for n in macros.MACRO_NAMES}


def _snippet(node: exp.Expression) -> str:
    try:
        text = node.sql(dialect="duckdb")
    except Exception:  # noqa: BLE001 - a display aid only
        text = type(node).__name__
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_temporal(node: exp.Expression) -> bool:
    if isinstance(node, exp.Paren):
        return _is_temporal(node.this)
    if isinstance(node, exp.Cast):
        return node.to.this in (exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP)
    if isinstance(node, exp.Column):
        return bool(_TEMPORAL_NAME.search(node.name))
    if isinstance(node, exp.Anonymous) and str(node.this).lower().startswith(_MARKER):
        return str(node.this).lower()[len(_MARKER) :] in ("to_date", "add_days", "trunc_hour")
    return isinstance(node, exp.Literal | exp.TsOrDsToDate | exp.StrToDate | exp.StrToTime)


#: a bound parameter; SQLGlot reads `$name` too but counts a line per `$` in its error positions
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def lint_sql(sql: str, rule_id: str = "?", *, params: Any = None, message_fields: Any = ()) -> list[LintIssue]:
    """Problems in one rule's SQL (engine macros allowed); empty when it is in the portable subset.

    With `params` (the rule's declared parameter names) a `$name` that is not declared, and a declared
    parameter that neither the SQL nor the message (`message_fields`) uses, are problems too: the first
    fails only when the rule runs, the second makes a bureau's `--params` change nothing."""
    issues: list[LintIssue] = []

    def add(construct: str, hint: str, problem: str = LintIssue.problem) -> None:
        issue = LintIssue(rule_id, construct, hint, problem)
        if issue not in issues:
            issues.append(issue)

    try:
        macros.expand(sql, "duckdb")  # the implementations check each macro's arguments
        text = _PARAM.sub(r":\1", macros.expand(sql, _markers(), keep_lines=True))
    except macros.MacroError as exc:
        return [LintIssue(rule_id, "宏", str(exc))]
    try:
        tokens = sqlglot.tokenize(text, read="duckdb")
    except sqlglot.errors.TokenError as exc:
        return [LintIssue(rule_id, "SQL", f"SQLGlot 无法切分: {exc}")]
    for tok in tokens:
        if tok.token_type == TokenType.DCOLON:
            add("::", "类型转换写作 CAST(x AS T)")
        elif tok.token_type in (TokenType.ARROW, TokenType.DARROW):
            add(tok.text, "规则 SQL 中不得使用 JSON")
        elif tok.token_type == TokenType.STRING and "\\" in tok.text:
            add(f"'{tok.text}'", "字符串中不得含反斜杠 (Spark 视为转义符)")
    try:
        statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        return issues + [LintIssue(rule_id, "SQL", f"SQLGlot 无法解析{_where(exc)}: {_description(exc)}")]
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        return issues + [LintIssue(rule_id, "SQL", "应为一条 SELECT (可带 WITH) 语句")]
    _check_relations(statements[0], add)
    for node in statements[0].walk():
        _check_node(node, add)
    if params is not None:
        _check_params(statements[0], set(params), set(message_fields), add)
    return issues


def _where(exc: sqlglot.errors.ParseError) -> str:
    first = exc.errors[0] if exc.errors else {}
    if first.get("line"):
        return f" (第 {first['line']} 行第 {first.get('col', '?')} 列附近)"
    return ""


def _description(exc: sqlglot.errors.ParseError) -> str:
    first = exc.errors[0] if exc.errors else {}
    return str(first.get("description") or str(exc).splitlines()[0])


def _check_params(statement: exp.Expression, declared: set[str], message_fields: set[str], add: Any) -> None:
    used = {node.name for node in statement.find_all(exp.Placeholder) if node.name}
    for name in sorted(used - declared):
        add(f"${name}", "在 params 中声明 (type, default, unit, doc), 或改正拼写", "是未声明的参数")
    for name in sorted(declared - used - message_fields):
        add(f"参数 {name}", f"修改它不会改变结果: 在 SQL 中写作 ${name}, 或删去此参数", "已声明, 但 SQL 与 message 都未使用")


@cache
def known_relations() -> frozenset[str]:
    """What rule SQL may read: the contract tables, the knowledge tables and the curated views."""
    from fundguard.contract.tables import TABLES
    from fundguard.engine.views import VIEW_NAMES
    from fundguard.kb.tables import KB_TABLES

    return frozenset({t.name for t in TABLES} | set(KB_TABLES) | {f"{t}_match" for t in KB_TABLES} | set(VIEW_NAMES))


def _check_relations(statement: exp.Expression, add: Any) -> None:
    """Rule SQL reads named relations only (never a file through a table function such as
    read_csv/read_text/glob), each one the engine provides or a CTE of the statement itself."""
    readable = known_relations() | {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    for table in statement.find_all(exp.Table):
        kw = "JOIN" if isinstance(table.parent, exp.Join) else "FROM"
        if isinstance(table.this, exp.Func):
            name = table.this.sql_name() if not isinstance(table.this, exp.Anonymous) else str(table.this.this)
            add(f"{kw} {name}(…)", "规则 SQL 不得调用表函数或读取文件: 只读契约表、知识库表与视图")
        elif table.args.get("db"):
            add(f"{kw} {table.sql(dialect='duckdb')}", "不得指定库或模式名: 规则 SQL 只读契约表、知识库表与视图")
        elif table.name and table.name.lower() not in readable:
            add(f"{kw} {table.name}", "未知的表: 规则 SQL 只读契约表、知识库表 (kb_*)、视图 (fee_lines 等) 与自身的 WITH 子查询")


def _check_node(node: exp.Expression, add: Any) -> None:
    for cls, hint in _HINTS.items():
        if type(node) is cls:
            add(_snippet(node), hint)
            return
    if isinstance(node, exp.Anonymous):
        name = str(node.this)
        if not name.lower().startswith(_MARKER):
            add(f"{name}()", "不是两种引擎通用的函数; 需要时在 engine/macros.py 增加宏 (每个引擎一个实现)")
        return
    if isinstance(node, exp.Sub) and _is_temporal(node.this) and _is_temporal(node.expression):
        add(_snippet(node), "日期相减在 Spark 中得到 INTERVAL: 用宏 {{ days_between(d1, d2) }}")
        return
    if isinstance(node, exp.Cast):
        if node.to.this not in ALLOWED_CAST_TYPES:
            add(f"CAST(… AS {node.to.sql(dialect='duckdb')})", "可用类型: VARCHAR, INTEGER, BIGINT, DECIMAL(p,s), DOUBLE, DATE, TIMESTAMP, BOOLEAN")
        if isinstance(node, exp.TryCast):
            add("TRY_CAST", "不得使用 TRY_CAST (Spark 无对应语义); 数据已按契约类型加载")
        return
    if isinstance(node, exp.Star) and any(node.args.get(k) for k in ("except", "except_", "replace", "rename")):
        add(_snippet(node), "不得使用 * EXCLUDE/REPLACE: 列出所需的列")
        return
    if isinstance(node, exp.Join):
        special = " ".join(str(node.args.get(k) or "") for k in ("method", "kind")).upper().split()
        odd = [w for w in special if w in ("ASOF", "POSITIONAL", "ANTI", "SEMI")]
        if odd:
            add(f"{' '.join(odd)} JOIN", "用 EXISTS / NOT EXISTS 或普通连接")
        return
    if isinstance(node, exp.Distinct) and node.args.get("on"):
        add("DISTINCT ON", "用子查询 + ROW_NUMBER()")
        return
    if isinstance(node, exp.Group) and node.args.get("all"):
        add("GROUP BY ALL", "列出分组列")
        return
    if isinstance(node, exp.Func) and type(node) not in ALLOWED_FUNCTIONS:
        name = node.sql_name() if hasattr(node, "sql_name") else type(node).__name__
        add(f"{name}()", "不是两种引擎通用的函数 (或结果不同); 需要时在 engine/macros.py 增加宏")


def lint_rule(rule: Any) -> list[LintIssue]:
    """Problems in a rule's batch SQL (its kind's builder, or its own .sql); real-time-only rules pass."""
    from fundguard.engine.kinds import get_kind

    try:
        sql = get_kind(rule.kind).batch_sql(rule)
    except NotImplementedError:
        return []
    from fundguard.engine.flags import message_pieces

    fields = {value for kind, value in message_pieces(rule.message) if kind != "text"}
    return lint_sql(sql, rule.id, params=list(rule.params), message_fields=fields)


def lint_views(kb_tables: set[str] | None = None) -> list[LintIssue]:
    """The curated views are held to the same subset (their CREATE … AS is stripped)."""
    from fundguard.engine import views

    out: list[LintIssue] = []
    for stmt in views.view_statements(kb_tables):
        m = re.match(r"^\s*CREATE\s+(?:TABLE|VIEW)\s+(\w+)\s+AS\s+(.*)$", stmt, re.S | re.I)
        if m:
            out += lint_sql(m.group(2), f"视图 {m.group(1)}")
    return out
