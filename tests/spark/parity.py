"""Run a rule example on both engines and return their flags, for the parity tests.

The example's dataset is built by the contract factories and loaded by the real contract loader into
DuckDB (as the example tests do); Spark gets exactly those loaded tables (contract types included).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from fundguard.engine.backends.spark import SparkBackend, register_empty, register_from_duckdb
from fundguard.engine.examples import EXAMPLE_KB_HASH, build_example_connection
from fundguard.engine.rule import Rule
from fundguard.engine.run import Auditor

#: the columns compared between engines (run_id differs by design: it is the same here, but compare all)
COMPARED = ("flag_id", "rule_id", "rule_version", "sev_deg", "granularity", "psn_no", "mdtrt_id", "setl_id",
            "fixmedins_code", "feedetl_sn", "mdtrt_ids", "vola_amt", "message", "evidence", "flag_key")


@dataclass
class Parity:
    rule_id: str
    index: int
    title: str
    duckdb: list[tuple]
    spark: list[tuple]
    error: str | None = None

    @property
    def same(self) -> bool:
        return self.error is None and self.duckdb == self.spark


def _rows(table) -> list[tuple]:
    cols = [table.column(c).to_pylist() for c in COMPARED]
    return sorted(zip(*cols, strict=True), key=lambda r: r[0])


def run_both(spark, rule: Rule, index: int) -> Parity:
    example = rule.examples[index]
    manifest = {m: True for m in rule.requires_kb_manifest}
    manifest.update(example.kb_manifest)
    params = {rule.id: rule.bind_params(example.params)}
    with tempfile.TemporaryDirectory(prefix=f"fg-spark-{rule.id}-") as tmp:
        con = build_example_connection(example, Path(tmp) / "data", files_in=Path(tmp))
        try:
            auditor = Auditor(con, kb_hash=EXAMPLE_KB_HASH, kb_manifest=manifest)
            auditor.prepare()
            auditor.run([rule], params, run_id="example")
            auditor.backend.write_flags(Path(tmp) / "duckdb.parquet")
            import pyarrow.parquet as pq

            duck = _rows(pq.read_table(Path(tmp) / "duckdb.parquet"))
            register_from_duckdb(spark, con)
        finally:
            con.close()
    # through the Auditor, as an audit does (skip reasons such as a missing kb manifest flag included)
    backend = SparkBackend(spark, materialise=False)
    Auditor(None, kb_hash=EXAMPLE_KB_HASH, kb_manifest=manifest, backend=backend).run([rule], params, run_id="example")
    return Parity(rule.id, index, example.title, duck, _rows(backend.flags_table()))


def prepare(spark, rule: Rule | None = None) -> None:
    """Create the curated views (code maps for `rule`'s knowledge tables, as the DuckDB audit does):
    SQL views over the table names, rebound by each example's tables."""
    register_empty(spark)
    kb_tables = None if rule is None else set(rule.kb_tables)
    SparkBackend(spark, materialise=False).build_views(kb_tables)
