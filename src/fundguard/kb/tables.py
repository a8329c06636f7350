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
