"""A synthetic dataset of at least 200k fee lines audited by both engines: identical flags.parquet.

Goes through `run_audit(engine="spark")` (the CLI's path) on the test session; compares every column
of every flag, run_id included (both engines hash the same input files, edition and rule versions).
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

MIN_LINES = 200_000
PERSONS = 10_000  # ≈ 21 fee lines per person per year in fundguard.synth


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from fundguard.synth import generate

    out = tmp_path_factory.mktemp("synth") / "data"
    generate(out, persons=PERSONS, seed=11, months=12)
    return out


def _rows(path) -> list[tuple]:
    table = pq.read_table(path)
    return sorted(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True), key=lambda r: r[0])


def test_synthetic_dataset_same_flags_on_both_engines(spark, synthetic, tmp_path):
    from fundguard.engine import run_audit

    lines = pq.ParquetFile(synthetic / "feedetl.parquet").metadata.num_rows
    assert lines >= MIN_LINES, f"synthetic dataset has {lines} fee lines, need ≥ {MIN_LINES}"

    duck = run_audit(synthetic, tmp_path / "duckdb")
    spark_run = run_audit(synthetic, tmp_path / "spark", engine="spark")

    assert spark_run["engine"] == "spark"
    assert json.loads((tmp_path / "spark" / "run.json").read_text(encoding="utf-8"))["engine"] == "spark"
    assert spark_run["run_id"] == duck["run_id"]
    assert pq.read_schema(tmp_path / "spark" / "flags.parquet").equals(pq.read_schema(tmp_path / "duckdb" / "flags.parquet"))

    per_rule = {r["id"]: (r["status"], r["flags"], r["vola_amt"], r["unjudged"]) for r in duck["rules"]}
    per_rule_spark = {r["id"]: (r["status"], r["flags"], r["vola_amt"], r["unjudged"]) for r in spark_run["rules"]}
    differ = {k: (v, per_rule_spark.get(k)) for k, v in per_rule.items() if per_rule_spark.get(k) != v}
    assert not differ, f"per-rule totals differ (DuckDB, Spark): {differ}"

    d, s = _rows(tmp_path / "duckdb" / "flags.parquet"), _rows(tmp_path / "spark" / "flags.parquet")
    assert duck["totals"]["flags"] > 0
    if d != s:
        only_d, only_s = set(d) - set(s), set(s) - set(d)
        pytest.fail(f"flags differ: {len(only_d)} only on DuckDB, {len(only_s)} only on Spark; "
                    f"e.g. DuckDB {sorted(only_d)[:3]} Spark {sorted(only_s)[:3]}")
