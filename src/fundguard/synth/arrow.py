"""Arrow types for the contract tables and fast builders for them (exact decimals from integer cents).

Schemas are derived from `fundguard.contract.tables`, so the files match the contract by construction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fundguard.contract.tables import TABLES, ColumnType, Table

LABELS_SCHEMA = pa.schema(
    [
        ("rule_id", pa.string()),
        ("flag_key", pa.string()),
        ("vola_amt", pa.decimal128(16, 2)),
        ("granularity", pa.string()),
        ("note", pa.string()),
    ]
)


def _arrow_type(col) -> pa.DataType:
    if col.type in (ColumnType.STR, ColumnType.CODE):
        return pa.string()
    if col.type is ColumnType.INT:
        return pa.int32()
    if col.type is ColumnType.DECIMAL:
        scale = 4 if col.sql_type and col.sql_type.endswith(",4)") else 2
        return pa.decimal128(16, scale)
    if col.type is ColumnType.DATE:
        return pa.date32()
    if col.type is ColumnType.TIME:
        return pa.timestamp("s")
    if col.type is ColumnType.BOOL:
        return pa.bool_()
    raise ValueError(col.type)


def schema(table: Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, _arrow_type(c), nullable=True) for c in table.columns])


SCHEMAS: dict[str, pa.Schema] = {t.name: schema(t) for t in TABLES}


def decimal_array(units: np.ndarray, scale: int) -> pa.Array:
    """Decimal128(16, scale) from int64 unscaled values (cents for scale 2), exactly and fast."""
    units = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63
    return pa.Array.from_buffers(pa.decimal128(16, scale), len(units), [None, pa.py_buffer(words.tobytes())])


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """`prefix` + zero-padded numbers, e.g. P00000001."""
    text = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


def take(values: list[str], index: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(index, pa.int64()))


def timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype("datetime64[s]"), pa.timestamp("s"))


def dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype(np.int32), pa.int32()).view(pa.date32())


class TableWriters:
    """One streaming Parquet writer per contract table (plus labels), opened lazily, same options always."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}

    def write(self, name: str, table: pa.Table) -> None:
        target = LABELS_SCHEMA if name == "labels" else SCHEMAS[name]
        table = table.select(target.names).cast(target)
        writer = self.writers.get(name)
        if writer is None:
            writer = pq.ParquetWriter(
                self.out_dir / f"{name}.parquet", target, compression="zstd", write_statistics=True
            )
            self.writers[name] = writer
        if table.num_rows:
            writer.write_table(table, row_group_size=1_000_000)
        self.rows[name] = self.rows.get(name, 0) + table.num_rows

    def close(self) -> None:
        for name in [t.name for t in TABLES] + ["labels"]:
            if name not in self.writers:
                self.write(name, (LABELS_SCHEMA if name == "labels" else SCHEMAS[name]).empty_table())
        for writer in self.writers.values():
            writer.close()
