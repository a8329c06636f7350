"""The Spark engine's input checks on a local dataset: the contract loader's all-or-nothing checks run
before Spark starts (as on the DuckDB engine), and a CSV dataset gets a clear message, not a missing file."""

from __future__ import annotations

import shutil

import pytest

from fundguard.contract import ContractError
from fundguard.contract.factories import build_tables, write_dataset
from fundguard.engine import run_audit
from fundguard.engine.run import AuditError

GIVEN = {
    "psn": [{"psn_no": "P1", "gend": "1"}],
    "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1"}],
    "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "M1", "cnt": 1, "pric": 10}],
}


@pytest.fixture
def good(tmp_path):
    out = tmp_path / "good"
    write_dataset(build_tables(GIVEN), out)
    return out


def test_a_local_dataset_that_breaks_the_contract_is_refused_with_the_loaders_errors(good, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    fee = pq.read_table(bad / "feedetl.parquet")
    rows = fee.to_pylist()
    rows[0]["mdtrt_id"] = "M404"  # a fee line of an encounter the dataset does not have
    pq.write_table(pa.Table.from_pylist(rows, schema=fee.schema), bad / "feedetl.parquet")
    out = tmp_path / "out"
    with pytest.raises(ContractError, match="feedetl") as info:
        run_audit(bad, out, engine="spark", rules=["A01"])
    assert "M404" in str(info.value) or "mdtrt" in str(info.value)
    assert not out.exists()


def test_a_csv_dataset_is_named_as_csv(good, tmp_path):
    import duckdb

    csv = tmp_path / "csv"
    csv.mkdir()
    for f in good.glob("*.parquet"):
        duckdb.sql(f"COPY (SELECT * FROM read_parquet('{f}')) TO '{csv / (f.stem + '.csv')}' (HEADER)")  # noqa: S608
    out = tmp_path / "out"
    with pytest.raises(AuditError, match="只读取 Parquet") as info:
        run_audit(csv, out, engine="spark", rules=["A01"])
    assert "psn.csv" in str(info.value)
    assert not out.exists()


@pytest.mark.parametrize("master", ["bogus", "local[x]", "yarn-cluster"])
def test_an_invalid_master_is_refused_before_the_jvm_starts(good, tmp_path, master):
    out = tmp_path / "out"
    with pytest.raises(AuditError, match="--spark-master"):
        run_audit(good, out, engine="spark", rules=["A01"], spark_master=master)
    assert not out.exists()
