"""Pydantic validation errors in the words a Chinese-reading author of a rule file or an overlay reads
(shared by the rule registry and the knowledge overlay reader, below both in the layers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

#: pydantic's error types in the words a rule author reads (others keep pydantic's English message)
_ERROR_TEXT = {
    "missing": "缺少此必填字段",
    "extra_forbidden": "未知字段 (拼写有误, 或不属于此处)",
    "string_type": "应为文本",
    "int_type": "应为整数", "int_parsing": "应为整数", "int_from_float": "应为整数",
    "float_type": "应为数值", "float_parsing": "应为数值",
    "decimal_type": "应为数值", "decimal_parsing": "应为数值",
    "bool_type": "应为 true/false", "bool_parsing": "应为 true/false",
    "list_type": "应为列表 (每项以 - 开头)", "tuple_type": "应为列表 (每项以 - 开头)",
    "dict_type": "应为映射 (键: 值)", "model_type": "应为映射 (键: 值)", "model_attributes_type": "应为映射 (键: 值)",
    "date_type": "应为日期 (YYYY-MM-DD)", "date_parsing": "应为日期 (YYYY-MM-DD)",
    "date_from_datetime_parsing": "应为日期 (YYYY-MM-DD)",
    "datetime_type": "应为日期时间", "datetime_parsing": "应为日期时间", "datetime_from_date_parsing": "应为日期时间",
    "literal_error": "取值应为 {expected} 之一", "enum": "取值应为 {expected} 之一",
    "too_short": "至少需要 {min_length} 项", "too_long": "至多 {max_length} 项",
    "string_too_short": "至少需要 {min_length} 个字符", "string_too_long": "至多 {max_length} 个字符",
    "string_pattern_mismatch": "不符合格式 {pattern}",
    "greater_than": "应大于 {gt}", "greater_than_equal": "不得小于 {ge}",
    "less_than": "应小于 {lt}", "less_than_equal": "不得大于 {le}",
}


def _problem_text(error: Mapping[str, Any]) -> str:
    """One pydantic error in Chinese: our validators' own (Chinese) message, else a translation of the
    error type with the value found, else pydantic's message."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    template = _ERROR_TEXT.get(kind)
    if template is None:
        return str(error["msg"])
    fields = {k: str(v).replace(" or ", ", ") for k, v in ctx.items()}
    try:
        text = template.format(**fields)
    except KeyError:
        return str(error["msg"])
    if kind not in ("missing", "extra_forbidden") and "input" in error:
        found = repr(error["input"])
        text += f", 得到 {found if len(found) <= 60 else found[:57] + '...'}"
    return text


def validation_problems(exc: ValidationError, prefix: str = "") -> list[str]:
    """`字段 <path>: <what is wrong>` for every error of a pydantic validation."""
    out = []
    for e in exc.errors():
        where = prefix + ".".join(str(x) for x in e["loc"])
        out.append(f"字段 {where or '(顶层)'}: {_problem_text(e)}")
    return out
