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
    with pytest.raises(ContractError, match="只读取 Parquet") as info:  # bad input (exit 1), as on DuckDB
        run_audit(csv, out, engine="spark", rules=["A01"])
    assert "psn.csv" in str(info.value) and "feedetl.csv" in str(info.value)
    assert not out.exists()


def test_an_unreachable_standalone_master_is_one_line_not_a_minute_of_retries(good, tmp_path):
    import socket
    import time

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "out"
    started = time.monotonic()
    with pytest.raises(AuditError, match=f"无法连接 Spark master spark://127.0.0.1:{port}: 127.0.0.1:{port}"):
        run_audit(good, out, engine="spark", rules=["A01"], spark_master=f"spark://127.0.0.1:{port}")
    assert time.monotonic() - started < 30  # Spark's own retries take about a minute
    assert not out.exists()


def test_a_missing_table_on_spark_is_bad_input(spark, good, tmp_path):
    # a folder of parts is read by Spark alone (the loader does not read part folders): Spark names the gap
    (good / "mdtrt.parquet").unlink()
    fee = good / "feedetl.parquet"
    fee.rename(tmp_path / "part-0.parquet")
    fee.mkdir()
    (tmp_path / "part-0.parquet").rename(fee / "part-0.parquet")
    out = tmp_path / "out"
    with pytest.raises(ContractError, match="mdtrt.parquet.*缺少必需的表文件"):
        run_audit(good, out, engine="spark", rules=["A01"])
    assert not out.exists()


@pytest.mark.parametrize("master", ["bogus", "local[x]", "yarn-cluster", "mesos://127.0.0.1:5050"])
def test_an_invalid_master_is_refused_before_the_jvm_starts(good, tmp_path, master):
    out = tmp_path / "out"
    with pytest.raises(AuditError, match="--spark-master"):
        run_audit(good, out, engine="spark", rules=["A01"], spark_master=master)
    assert not out.exists()


def test_nanosecond_timestamps_are_named_not_a_java_trace(spark, good, tmp_path):
    # DuckDB (and the contract loader) read them; Spark cannot: the file and the way out are named
    import pyarrow.parquet as pq

    ns = tmp_path / "ns"
    shutil.copytree(good, ns)
    import pyarrow as pa

    fee = pq.read_table(ns / "feedetl.parquet")
    at = fee.schema.get_field_index("fee_ocur_time")
    fee = fee.set_column(at, "fee_ocur_time", fee.column(at).cast(pa.timestamp("ns")))
    pq.write_table(fee, ns / "feedetl.parquet", version="2.6")  # as pandas writes them
    assert "timestamp[ns]" in str(pq.read_schema(ns / "feedetl.parquet").field("fee_ocur_time").type)
    out = tmp_path / "out"
    with pytest.raises(ContractError) as info:
        run_audit(ns, out, engine="spark", rules=["A01"])
    assert "feedetl.parquet" in str(info.value) and "纳秒" in str(info.value) and "coerce_timestamps='us'" in str(info.value)
    assert not out.exists()


def test_sub_second_times_in_evidence_as_on_duckdb(spark, tmp_path):
    import pyarrow.parquet as pq

    given = {
        "psn": [{"psn_no": "P1"}, {"psn_no": "P2"}],
        "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1", "med_type": "41"}, {"mdtrt_id": "M2", "psn_no": "P2", "med_type": "41"}],
        "feedetl": [
            {"feedetl_sn": "F1", "mdtrt_id": "M1", "hilist_code": "XJ01CAA040E001010100001", "med_chrgitm_type": "09",
             "prd_days": 7, "cnt": 1, "pric": 10, "fee_ocur_time": "2025-03-03 09:00:00"},
            {"feedetl_sn": "F2", "mdtrt_id": "M2", "hilist_code": "XJ01CAA040E001010100001", "med_chrgitm_type": "09",
             "prd_days": 7, "cnt": 1, "pric": 10, "fee_ocur_time": "2025-03-03 09:40:00"},
        ],
        "drug_trac": [{"feedetl_sn": "F1", "drug_trac_codg": "81000010000000000001"},
                      {"feedetl_sn": "F2", "drug_trac_codg": "81000010000000000001"}],
    }
    data = write_dataset(build_tables(given), tmp_path / "data")
    import datetime as dt

    import pyarrow as pa

    fee = pq.read_table(data / "feedetl.parquet")  # F1 half a second later, in microseconds
    at = fee.schema.get_field_index("fee_ocur_time")
    times = [t + dt.timedelta(microseconds=500_000) if sn == "F1" else t
             for sn, t in zip(fee.column("feedetl_sn").to_pylist(), fee.column(at).to_pylist(), strict=True)]
    pq.write_table(fee.set_column(at, "fee_ocur_time", pa.array(times, pa.timestamp("us"))), data / "feedetl.parquet")
    run_audit(data, tmp_path / "d", rules=["C06"])
    run_audit(data, tmp_path / "s", rules=["C06"], engine="spark")
    d, s = (pq.read_table(tmp_path / x / "flags.parquet").column("evidence").to_pylist() for x in ("d", "s"))
    assert len(d) == 1 and '"first_fee_time":"2025-03-03 09:00:00.5"' in d[0], d
    assert s == d


def test_an_amount_beyond_decimal_16_2_stops_the_run_on_both_engines(spark, good, tmp_path):
    from typer.testing import CliRunner

    from fundguard.cli import app
    from fundguard.engine.backends.duckdb import RuleRuntimeError
    from fundguard.engine.registry import Registry, load_rule_file

    library = tmp_path / "library"
    assert CliRunner().invoke(app, ["rules", "export", str(library)]).exit_code == 0
    (d04,) = library.glob("*/D04_*.sql")
    d04.write_text("SELECT m.mdtrt_id, CAST(1e15 AS DECIMAL(18,2)) AS vola_amt, '' AS ev_death_date, '' AS ev_begn_date, "
                   "0 AS ev_days_after_death, '' AS ev_med_type, 0 AS ev_hifp_pay FROM mdtrt_ctx m", encoding="utf-8")
    registry = Registry(library, {"D04": load_rule_file(d04.with_suffix(".yaml"))})
    for engine in ("duckdb", "spark"):
        out = tmp_path / engine
        with pytest.raises(RuleRuntimeError, match="D04"):
            run_audit(good, out, rules=["D04"], engine=engine, registry=registry)
        assert not out.exists()


@pytest.mark.parametrize(("uri", "path"), [
    ("file:///data/x", "/data/x"), ("file:/data/x", "/data/x"), ("file://localhost/data/x", "/data/x"),
    ("file:///data/%E5%B8%A6%20space", "/data/带 space"), ("relative/x", "relative/x"),
    ("hdfs://nn/data", None), ("s3a://bucket/data", None), ("file://otherhost/data", None),
])
def test_local_dataset_uris_in_the_forms_spark_and_hadoop_print(uri, path):
    from pathlib import Path

    from fundguard.engine.backends.spark import _local_dir

    assert _local_dir(uri) == (Path(path) if path else None)


def test_a_web_ui_port_given_as_the_master_is_named():
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from fundguard.engine.backends.spark import _web_ui_hint

    class Quiet(BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802 - the http.server API
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert f"127.0.0.1:{port} 是网页 (HTTP) 端口" in _web_ui_hint(f"spark://127.0.0.1:{port}")
    finally:
        server.shutdown()
        server.server_close()
    import socket

    with socket.socket() as silent:  # a port that accepts and says nothing (as a master's RPC port)
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        assert _web_ui_hint(f"spark://127.0.0.1:{silent.getsockname()[1]}") == ""


def test_a_master_that_gives_no_executor_is_one_line_not_a_hang(spark):
    # local mode has the driver only: as a standalone master without a worker looks to the driver
    import time

    from fundguard.engine.backends.spark import wait_for_executors

    started = time.monotonic()
    with pytest.raises(AuditError, match="在 1 秒内没有分配执行器.*FUNDGUARD_SPARK_WAIT_SECONDS"):
        wait_for_executors(spark, "spark://example:7077", timeout=1)
    assert time.monotonic() - started < 10


def test_a_job_cancelled_by_ctrl_c_reads_as_the_interruption(spark):
    # PySpark's SIGINT handler cancels every job; the cancelled job's error is recognised as such
    import threading

    from fundguard.engine.backends.spark import _CANCELLED

    done = threading.Event()

    def cancel_until_done():  # until the job has started and been cancelled
        while not done.wait(0.5):
            spark.sparkContext.cancelAllJobs()

    threading.Thread(target=cancel_until_done, daemon=True).start()
    try:
        with pytest.raises(Exception) as info:  # noqa: B017 - py4j's error type, whatever Spark raises
            spark.range(0, 10**12, numPartitions=2).selectExpr("sum(id * id % 7)").collect()
    finally:
        done.set()
    assert _CANCELLED.search(str(info.value)), str(info.value)[:500]


def test_part_folders_get_a_run_id_of_their_own(spark, good, tmp_path):
    # no file hash for a folder of parts: its listing keeps two datasets from sharing a run id
    import pyarrow as pa
    import pyarrow.parquet as pq

    runs = []
    for n, price in enumerate((10, 20)):
        data = tmp_path / f"parts{n}"
        shutil.copytree(good, data)
        fee = pq.read_table(data / "feedetl.parquet").to_pylist()
        fee[0]["pric"] = price
        fee[0]["det_item_fee_sumamt"] = price
        (data / "feedetl.parquet").unlink()
        (data / "feedetl.parquet").mkdir()
        schema = pq.read_schema(good / "feedetl.parquet")
        pq.write_table(pa.Table.from_pylist(fee, schema=schema), data / "feedetl.parquet" / "part-0.parquet")
        runs.append(run_audit(data, tmp_path / f"out{n}", engine="spark", rules=["A01"]))
    tables = [r["dataset"]["tables"]["feedetl"] for r in runs]
    assert all(t["sha256"] is None and len(t["listing_sha256"]) == 64 for t in tables)
    assert runs[0]["run_id"] != runs[1]["run_id"]


def test_spark_logs_errors_only_once_the_session_is_up(spark, monkeypatch):
    from fundguard.engine.backends.spark import spark_session

    def root_level() -> str:
        return str(spark.sparkContext._jvm.org.apache.logging.log4j.LogManager.getRootLogger().getLevel().toString())

    monkeypatch.setenv("FUNDGUARD_SPARK_LOG_LEVEL", "WARN")
    assert spark_session() is spark and root_level() == "WARN"  # the same session, as getOrCreate gives it
    monkeypatch.delenv("FUNDGUARD_SPARK_LOG_LEVEL")
    spark_session()
    assert root_level() == "ERROR"
