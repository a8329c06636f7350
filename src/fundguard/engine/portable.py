"""A lint for rule SQL: the portable subset every backend runs (macros for the rest).

Rejects DuckDB-only or non-portable constructs before they reach a rule file; the SQL must also parse
with SQLGlot (DuckDB dialect) and transpile to Spark.
"""

from __future__ import annotations

import re

import sqlglot

from fundguard.engine.macros import MACRO_NAMES

_FORBIDDEN: tuple[tuple[str, str], ...] = (
    (r"\bdate_diff\b|\bdatediff\b|\bdate_sub\b|\bdate_add\b|\bdate_part\b|\bdatepart\b", "日期函数须用宏 (days_between/add_days…)"),
    (r"\bage\s*\(", "年龄须用宏 age_years"),
    (r"\bjson\w*\b|->>|->", "规则 SQL 中不得使用 JSON"),
    (r"::", "类型转换须用 CAST(x AS T)"),
    (r"\binterval\b", "不得使用 INTERVAL, 用宏 add_days / seconds_between"),
    (r"\bqualify\b", "不得使用 QUALIFY, 用子查询 + ROW_NUMBER()"),
    (r"\blist_\w+|\barray_\w+|\bstruct_pack\b|\bunnest\b", "不得使用列表/结构函数, 用宏 list_agg / list_of"),
    (r"\bstrftime\b|\bstrptime\b|\bepoch\w*\b|\bdate_trunc\b", "时间函数须用宏 (to_date / trunc_hour / seconds_between)"),
    (r"\bstring_agg\b|\bgroup_concat\b|\bregexp_\w+\b|\bilike\b", "非可移植函数"),
    (r"\bcurrent_date\b|\bnow\s*\(|\bcurrent_timestamp\b|\brandom\s*\(", "规则逻辑不得依赖当前时间或随机数"),
)
_MACRO = re.compile(r"\{\{\s*(\w+)\s*\(")


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def check_portable(sql: str) -> list[str]:
    """Problems found in un-expanded rule SQL (empty when portable)."""
    text = _strip_comments(sql)
    problems = []
    for name in _MACRO.findall(text):
        if name not in MACRO_NAMES:
            problems.append(f"未知的宏 {name}")
    bare = re.sub(r"\{\{.*?\}\}", "NULL", text, flags=re.S)
    # remove string literals before matching keywords
    scan = re.sub(r"'(?:[^']|'')*'", "''", bare)
    for pattern, reason in _FORBIDDEN:
        m = re.search(pattern, scan, flags=re.I)
        if m:
            problems.append(f"{reason}: {m.group(0)!r}")
    try:
        sqlglot.transpile(bare, read="duckdb", write="spark")
    except sqlglot.errors.ParseError as exc:
        problems.append(f"SQLGlot 无法解析: {str(exc).splitlines()[0]}")
    return problems
