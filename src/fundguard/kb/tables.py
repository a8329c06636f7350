"""Knowledge-base table definitions: column names and DuckDB types, the one source of truth for kb tables.

`KB_TABLES` follows the data contract's knowledge-base section; every table also has a `source` column
(`nhsa:<file>` for national knowledge, `sample` for sample rows, `overlay:<name>` for a bureau's layer).
`KB_KEYS` names the key a later layer replaces: rows of an overlay replace every earlier row with the
same key values.
"""

from __future__ import annotations

import decimal
import re

import pyarrow as pa

KB_TABLES: dict[str, list[tuple[str, str]]] = {
    "kb_hilist": [
        ("hilist_code", "VARCHAR"),
        ("hilist_name", "VARCHAR"),
        ("list_type", "VARCHAR"),
        ("med_chrgitm_type", "VARCHAR"),
        ("chrgitm_lv", "VARCHAR"),
        ("pric_uplmt_amt", "DECIMAL(16,2)"),
        ("covered", "BOOLEAN"),
        ("source", "VARCHAR"),
    ],
    "kb_item_gender": [
        ("hilist_code", "VARCHAR"),
        ("gend", "VARCHAR"),
        ("item_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_item_age": [
        ("hilist_code", "VARCHAR"),
        ("min_age", "INTEGER"),
        ("max_age", "INTEGER"),
        ("item_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_item_indication": [
        ("hilist_code", "VARCHAR"),
        ("diag_prefix", "VARCHAR"),
        ("item_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_item_medins_lv": [
        ("hilist_code", "VARCHAR"),
        ("max_medins_lv", "VARCHAR"),
        ("item_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_item_setting": [
        ("hilist_code", "VARCHAR"),
        ("setting", "VARCHAR"),
        ("item_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_item_insutype": [
        ("hilist_code", "VARCHAR"),
        ("insutype", "VARCHAR"),
        ("item_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_item_limit": [
        ("hilist_code", "VARCHAR"),
        ("max_cnt", "INTEGER"),
        ("per", "VARCHAR"),
        ("item_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_item_cycle": [
        ("hilist_code", "VARCHAR"),
        ("max_cnt", "INTEGER"),
        ("cycle_days", "INTEGER"),
        ("item_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_item_course": [
        ("hilist_code", "VARCHAR"),
        ("max_days", "INTEGER"),
        ("min_interval_days", "INTEGER"),
        ("item_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_item_title": [
        ("hilist_code", "VARCHAR"),
        ("max_profttl", "VARCHAR"),
        ("item_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_drug_days": [
        ("hilist_code", "VARCHAR"),
        ("max_prd_days", "INTEGER"),
        ("max_daily_cnt", "DECIMAL(16,4)"),
        ("item_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_diag_gender": [
        ("diag_prefix", "VARCHAR"),
        ("gend", "VARCHAR"),
        ("diag_name", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_diag_age": [
        ("diag_prefix", "VARCHAR"),
        ("min_age", "INTEGER"),
        ("max_age", "INTEGER"),
        ("diag_name", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_exclusive": [
        ("hilist_code_a", "VARCHAR"),
        ("hilist_code_b", "VARCHAR"),
        ("scope", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_bundle": [
        ("bundle_code", "VARCHAR"),
        ("part_code", "VARCHAR"),
        ("scope", "VARCHAR"),
        ("bundle_name", "VARCHAR"),
        ("part_name", "VARCHAR"),
        ("note", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_oprn_group": [
        ("hilist_code", "VARCHAR"),
        ("group_name", "VARCHAR"),
        ("item_name", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_drg": [
        ("drg_code", "VARCHAR"),
        ("drg_name", "VARCHAR"),
        ("weight", "DECIMAL(10,4)"),
        ("avg_cost", "DECIMAL(16,2)"),
        ("avg_los", "DECIMAL(8,2)"),
        ("is_low_risk", "BOOLEAN"),
        ("source", "VARCHAR"),
    ],
    "kb_drug_product": [
        ("trac_prefix", "VARCHAR"),
        ("hilist_code", "VARCHAR"),
        ("item_name", "VARCHAR"),
        ("source", "VARCHAR"),
    ],
    "kb_national_rule": [
        ("gz_code", "VARCHAR"),
        ("tier1", "VARCHAR"),
        ("tier2", "VARCHAR"),
        ("tier3", "VARCHAR"),
        ("rule_name", "VARCHAR"),
        ("definition", "VARCHAR"),
        ("framework", "VARCHAR"),
        ("seq_2025", "INTEGER"),
        ("in_2025", "BOOLEAN"),
        ("source", "VARCHAR"),
    ],
    "kb_knowledge_point": [
        ("point_id", "VARCHAR"),
        ("hilist_code", "VARCHAR"),
        ("gz_code", "VARCHAR"),
        ("rule_class", "VARCHAR"),
        ("item_name", "VARCHAR"),
        ("constraint_text", "VARCHAR"),
        ("detect_logic", "VARCHAR"),
        ("batch", "VARCHAR"),
        ("published_at", "DATE"),
        ("supersedes", "VARCHAR"),
        ("superseded_by", "VARCHAR"),
        ("is_superseded", "BOOLEAN"),
        ("source", "VARCHAR"),
    ],
}

KB_KEYS: dict[str, tuple[str, ...]] = {
    "kb_hilist": ("hilist_code",),
    "kb_item_gender": ("hilist_code",),
    "kb_item_age": ("hilist_code",),
    "kb_item_indication": ("hilist_code",),
    "kb_item_medins_lv": ("hilist_code",),
    "kb_item_setting": ("hilist_code",),
    "kb_item_insutype": ("hilist_code",),
    "kb_item_limit": ("hilist_code", "per"),
    "kb_item_cycle": ("hilist_code",),
    "kb_item_course": ("hilist_code",),
    "kb_item_title": ("hilist_code",),
    "kb_drug_days": ("hilist_code",),
    "kb_diag_gender": ("diag_prefix",),
    "kb_diag_age": ("diag_prefix",),
    "kb_exclusive": ("hilist_code_a", "hilist_code_b"),
    "kb_bundle": ("bundle_code", "part_code"),
    "kb_oprn_group": ("hilist_code",),
    "kb_drg": ("drg_code",),
    "kb_drug_product": ("trac_prefix",),
    "kb_national_rule": ("gz_code",),
    "kb_knowledge_point": ("point_id", "hilist_code"),
}

#: tables where one key has several rows by design (the indications of one item; an operation in several
#: groups): an overlay's rows for a key replace the earlier set as a whole. In every other table a key is
#: one entry, and two different rows with one key in one layer are refused: the rules would count a
#: fee line once per row (a limit checked twice, a window sum doubled).
KB_MULTI_ROW: frozenset[str] = frozenset({"kb_item_indication", "kb_oprn_group"})

# Columns holding a knowledge code that may be a prefix ending in `*`.
KB_CODE_COLUMN: dict[str, str] = {
    "kb_item_gender": "hilist_code",
    "kb_item_age": "hilist_code",
    "kb_item_indication": "hilist_code",
    "kb_item_medins_lv": "hilist_code",
    "kb_item_setting": "hilist_code",
    "kb_item_insutype": "hilist_code",
    "kb_item_limit": "hilist_code",
    "kb_item_cycle": "hilist_code",
    "kb_item_course": "hilist_code",
    "kb_item_title": "hilist_code",
    "kb_drug_days": "hilist_code",
    "kb_exclusive": "hilist_code_a",
    "kb_bundle": "bundle_code",
}

_DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")


def arrow_type(duckdb_type: str) -> pa.DataType:
    """The pyarrow type that stores a column of this DuckDB type in Parquet."""
    match = _DECIMAL.fullmatch(duckdb_type)
    if match:
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    return {
        "VARCHAR": pa.string(),
        "INTEGER": pa.int32(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
        "DOUBLE": pa.float64(),
    }[duckdb_type]


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([(name, arrow_type(kind)) for name, kind in KB_TABLES[table]])


def _coerce(value: object, duckdb_type: str) -> object:
    """Turn a CSV/JSON value into the Python value pyarrow expects for the column type."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    if duckdb_type == "VARCHAR":
        return str(value)
    if duckdb_type == "INTEGER":
        return int(value)
    if duckdb_type == "BOOLEAN":
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in {"1", "true", "t", "yes", "y", "是"}:
            return True
        if text in {"0", "false", "f", "no", "n", "否"}:
            return False
        raise ValueError(f"not a boolean: {value!r}")
    match = _DECIMAL.fullmatch(duckdb_type)
    if match:
        scale = int(match.group(2))
        return decimal.Decimal(str(value)).quantize(decimal.Decimal(1).scaleb(-scale))
    if duckdb_type == "DATE":
        import datetime

        if isinstance(value, datetime.date):
            return value
        return datetime.date.fromisoformat(str(value))
    return value


def to_arrow(table: str, rows: list[dict]) -> pa.Table:
    """Build a typed pyarrow table for a kb table from dict rows (missing columns become NULL)."""
    columns = KB_TABLES[table]
    data = {
        name: [_coerce(row.get(name), kind) for row in rows] for name, kind in columns
    }
    return pa.table(data, schema=arrow_schema(table))


# ---- value checks ------------------------------------------------------------------------------------
#
# What a rule needs of a kb row beyond its column type: the code values the rules compare with (national
# codes of the data contract), counts and days that are at least 1, ages inside a lifetime. An overlay
# row that fails a check is refused with its file, row and column (a `gend` of 3 or 男 would otherwise
# build silently and make A01 flag every line of the item, or none).


def _codes(*codes: str):
    allowed = frozenset(codes)
    return lambda v: v in allowed, "取值应为 " + "、".join(codes)


def _at_least(low: int):
    return lambda v: v >= low, f"应为不小于 {low} 的数"


def _positive():
    return lambda v: v > 0, "应大于 0"


def _age():
    return lambda v: 0 <= v <= 150, "应为 0–150 的年龄（周岁）"


_TWO_DIGITS = re.compile(r"\d{2}")
_TRAC_PREFIX = re.compile(r"\d{7}")

# (column, required, (predicate, description)) per table; predicates see the coerced value.
KB_CHECKS: dict[str, list[tuple[str, bool, tuple]]] = {
    "kb_hilist": [
        ("list_type", False, _codes("101", "102", "201", "301")),
        ("med_chrgitm_type", False, (lambda v: bool(_TWO_DIGITS.fullmatch(v)), "应为两位数字的收费项目类别代码")),
        ("chrgitm_lv", False, _codes("01", "02", "03")),
        ("pric_uplmt_amt", False, (lambda v: v >= 0, "不能为负数")),
    ],
    "kb_item_gender": [("gend", True, _codes("1", "2"))],
    "kb_diag_gender": [("gend", True, _codes("1", "2"))],
    "kb_item_age": [("min_age", False, _age()), ("max_age", False, _age())],
    "kb_diag_age": [("min_age", False, _age()), ("max_age", False, _age())],
    "kb_item_medins_lv": [("max_medins_lv", True, _codes("1", "2", "3"))],
    "kb_item_setting": [("setting", True, _codes("inpatient", "inpatient_or_emergency"))],
    "kb_item_insutype": [("insutype", True, _codes("310", "320", "390", "410", "510"))],
    "kb_item_limit": [("max_cnt", True, _at_least(1)), ("per", True, _codes("hour", "day", "mdtrt"))],
    "kb_item_cycle": [("max_cnt", True, _at_least(1)), ("cycle_days", True, _at_least(1))],
    "kb_item_course": [("max_days", True, _at_least(1)), ("min_interval_days", False, _at_least(1))],
    "kb_item_title": [("max_profttl", True, _codes("1", "2", "3", "4"))],
    "kb_drug_days": [("max_prd_days", False, _at_least(1)), ("max_daily_cnt", False, _positive())],
    "kb_exclusive": [("scope", True, _codes("day", "mdtrt"))],
    "kb_bundle": [("scope", True, _codes("hour", "6h", "day", "mdtrt"))],
    "kb_oprn_group": [("group_name", True, (lambda v: True, ""))],
    "kb_drg": [
        ("weight", False, _positive()),
        ("avg_cost", False, (lambda v: v >= 0, "不能为负数")),
        ("avg_los", False, _positive()),
    ],
    "kb_drug_product": [("trac_prefix", True, (lambda v: bool(_TRAC_PREFIX.fullmatch(v)), "应为 7 位数字"))],
}

_AGE_PAIRS = {"kb_item_age", "kb_diag_age"}


def coerce_row(table: str, row: dict) -> dict:
    """The row's values typed for the table's columns; ValueError names the column and the value."""
    out = {}
    for name, kind in KB_TABLES[table]:
        value = row.get(name)
        try:
            out[name] = _coerce(value, kind)
            scale = _DECIMAL.fullmatch(kind)
            if out[name] is not None and scale and out[name] != decimal.Decimal(str(value).strip()):
                raise ValueError("more decimal places than the column keeps")
            if out[name] is not None:
                pa.array([out[name]], type=arrow_type(kind))
        except (ValueError, ArithmeticError, pa.ArrowException) as exc:
            raise ValueError(f"{name} 值 {value!r} 不是{_TYPE_NAMES.get(kind.split('(')[0], kind)}") from exc
    return out


_TYPE_NAMES = {"INTEGER": "整数", "DECIMAL": "数值（小数位数不超过列定义）", "BOOLEAN": "是/否（1/0、true/false）",
               "DATE": "日期（YYYY-MM-DD）", "VARCHAR": "文本"}


def row_problems(table: str, row: dict) -> list[str]:
    """What is wrong with a typed kb row (column and reason each), empty when the row can be used."""
    problems = []
    for column, required, (predicate, description) in KB_CHECKS.get(table, []):
        value = row.get(column)
        if value is None:
            if required:
                problems.append(f"{column} 不能为空")
        elif not predicate(value):
            problems.append(f"{column} 值 {value!r} 无效：{description}")
    code_column = KB_CODE_COLUMN.get(table)
    for column in dict.fromkeys(c for c in ("hilist_code", "hilist_code_b", "part_code", code_column) if c):
        value = row.get(column)
        if isinstance(value, str) and "*" in value[:-1]:
            problems.append(f"{column} 值 {value!r} 无效：* 只能出现在末尾（表示前缀）")
    if table in _AGE_PAIRS:
        low, high = row.get("min_age"), row.get("max_age")
        if low is None and high is None:
            problems.append("min_age 与 max_age 不能都为空")
        elif low is not None and high is not None and low > high:
            problems.append(f"min_age {low} 大于 max_age {high}")
    return problems
