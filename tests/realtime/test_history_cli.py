"""The history store (`fundguard history load`), history joined into a request, and the CLI."""

from __future__ import annotations

import json
from decimal import Decimal

from typer.testing import CliRunner

from fundguard.cli import app as cli
from fundguard.contract.factories import build_tables, write_dataset
from fundguard.realtime.history import HistoryStore, load_history

from .payloads import FEMALE_ONLY_DRUG, ORG, body, feedback, order, request

DRUG = {"hilist_type": "101", "chrg_type": "11", "pric": 25.5}


def _dataset(tmp_path):
    given = {
        "psn": [{"psn_no": "1058158", "gend": "1", "brdy": "1951-08-27"}, {"psn_no": "P2"}],
        "mdtrt": [{"mdtrt_id": "OLD1", "psn_no": "1058158", "begntime": "2025-05-02 09:00:00"},
                  {"mdtrt_id": "2001668", "psn_no": "1058158", "begntime": "2025-06-01 09:00:00"},
                  {"mdtrt_id": "M3", "psn_no": "P2"}],
        "diag": [{"mdtrt_id": "OLD1", "diag_code": "I10.x00"}],
        "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "OLD1", "hilist_code": FEMALE_ONLY_DRUG, "cnt": 2, "pric": 25.5,
                     "prd_days": 10, "med_chrgitm_type": "11"},
                    {"feedetl_sn": "F2", "mdtrt_id": "2001668", "hilist_code": "X1", "cnt": 1, "pric": 3},
                    {"feedetl_sn": "F3", "mdtrt_id": "M3", "cnt": 1, "pric": 4}],
    }
    return write_dataset(build_tables(given), tmp_path / "ds")


def test_load_and_get(tmp_path):
    summary = load_history(_dataset(tmp_path), tmp_path / "h.sqlite")
    assert (summary.persons, summary.encounters, summary.fee_lines) == (2, 3, 3)
    store = HistoryStore(tmp_path / "h.sqlite")
    h = store.get("1058158")
    assert [m["mdtrt_id"] for m in h["mdtrt"]] == ["OLD1", "2001668"]
    f = h["feedetl"][0]
    assert f["feedetl_sn"] == "F1" and f["pric"] == Decimal("25.5000") and f["prd_days"] == 10 and f["refd_flag"] is False
    assert h["diag"][0]["diag_code"] == "I10.x00" and h["fixmedins"][0]["fixmedins_code"] == "H1"
    assert store.get("nobody") is None
    assert store.meta()["fee_lines"] == "3"


def test_history_gives_context_but_only_the_request_is_reported(tmp_path, make_service):
    load_history(_dataset(tmp_path), tmp_path / "h.sqlite")
    svc = make_service(auth=False, history_path=tmp_path / "h.sqlite")
    # the past encounter OLD1 has the same violation: it is context, not this request's finding;
    # the stored copy of the current encounter (2001668) is replaced by the request
    reply = svc.handle(body(request(gend="1", orders=[order("RX1", FEMALE_ONLY_DRUG, **DRUG)])), {})
    result = reply.body["output"]["result"]
    assert [(r["rule_id"], r["mdtrt_id"]) for r in result] == [("A01", "2001668")]
    assert [d["rx_id"] for d in result[0]["judge_result_detail_dtos"]] == ["RX1"]
    patient, ds, flags, frame = svc.analyse_flags(svc_parse(svc, request(gend="1", orders=[order("RX1", FEMALE_ONLY_DRUG, **DRUG)])))[0]
    assert "!h:F1" in frame.line_by_sn and "!h:F2" not in frame.line_by_sn


def svc_parse(svc, payload):
    from fundguard.realtime.envelope import decode_body, parse_analysis

    return parse_analysis(decode_body(body(payload)), "3101")


def test_cli_history_institutions_stats(tmp_path, make_service):
    runner = CliRunner()
    ds = _dataset(tmp_path)
    store = tmp_path / "h.sqlite"
    r = runner.invoke(cli, ["history", "load", str(ds), "--store", str(store)])
    assert r.exit_code == 0, r.output
    assert "2 位参保人" in r.output and store.exists()
    r = runner.invoke(cli, ["history", "load", str(tmp_path / "missing"), "--store", str(store)])
    assert r.exit_code == 1
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "psn.csv").write_text("psn_no\nP1\n", encoding="utf-8")
    r = runner.invoke(cli, ["history", "load", str(tmp_path / "bad"), "--store", str(store)])
    assert r.exit_code == 1 and HistoryStore(store).meta()["persons"] == "2"

    db = f"sqlite:///{tmp_path}/rt.db"
    r = runner.invoke(cli, ["institutions", "register", ORG, "--db", db])
    assert r.exit_code == 0, r.output
    secret = r.output.strip().splitlines()[-1].split(": ")[-1]
    assert len(secret) >= 32
    r = runner.invoke(cli, ["institutions", "list", "--db", db])
    assert ORG in r.output and secret not in r.output

    from .payloads import signed

    svc = make_service(auth=True, db_url=db)
    reply = svc.handle(body(request(orders=[order("RX1", FEMALE_ONLY_DRUG, **DRUG)])), signed(ORG, secret))
    jr = reply.body["output"]["result"][0]["jr_id"]
    svc.handle(body(feedback([jr], way="2")), signed(ORG, secret))
    svc.store.flush()
    r = runner.invoke(cli, ["realtime", "stats", "--by", "rule", "--json", "--db", db])
    assert r.exit_code == 0, r.output
    rows = {x["rule"]: x for x in json.loads(r.output)}
    assert rows["A01"]["reminders"] == 1 and rows["A01"]["modified"] == 1
    assert rows["A01"]["calls"] is None and rows["A01"]["calls_with_reminders"] == 1  # not 0: not counted per rule
    for by in ("institution", "doctor", "day"):
        r = runner.invoke(cli, ["realtime", "stats", "--by", by, "--db", db])
        assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["realtime", "stats", "--by", "nurse", "--db", db])
    assert r.exit_code == 2


def test_realtime_commands_default_to_the_workspace_serve_reads(tmp_path, monkeypatch):
    """`institutions register`, `history load` and `realtime stats` write and read where `fundguard serve`
    (default workspace var/workspace) looks: the documented set-up works without --db/--store."""
    from typer.testing import CliRunner

    from fundguard.cli import app
    from fundguard.contract.factories import build_tables, write_dataset
    from fundguard.workspace import AppConfig

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FUNDGUARD_DB_URL", raising=False)
    monkeypatch.delenv("FUNDGUARD_RT_DB", raising=False)
    monkeypatch.delenv("FUNDGUARD_RT_HISTORY", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["institutions", "register", "H1"]).exit_code == 0
    data = write_dataset(build_tables({"psn": [{"psn_no": "P1"}], "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1"}],
                                       "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "M1", "cnt": 1, "pric": 1}]}), tmp_path / "ds")
    assert runner.invoke(app, ["history", "load", str(data)]).exit_code == 0
    workspace = tmp_path / "var" / "workspace"
    assert (workspace / "history.sqlite").is_file()
    from fundguard.realtime.store import RealtimeStore

    store = RealtimeStore(AppConfig(workspace=workspace).resolved_db_url(), background=False)
    try:
        assert [i["fixmedins_code"] for i in store.institutions()] == ["H1"]
    finally:
        store.close()
    assert runner.invoke(app, ["realtime", "stats"]).exit_code == 0


def test_sub_second_times_are_kept_as_in_batch(tmp_path, make_service):
    # batch data may carry fractions of a second; the store keeps them, so lines order as in batch (by
    # time, then id): Z1 at .25 s comes before A2 at .75 s, where whole seconds would tie and put A2 first
    given = {
        "psn": [{"psn_no": "P1"}],
        "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1", "begntime": "2025-05-02 09:00:00.125000",
                   "endtime": "2025-05-02 10:00:00"}],
        "diag": [{"mdtrt_id": "M1", "diag_code": "I10.x00"}],
        "feedetl": [{"feedetl_sn": "A2", "mdtrt_id": "M1", "fee_ocur_time": "2025-05-02 09:30:00.750000"},
                    {"feedetl_sn": "Z1", "mdtrt_id": "M1", "fee_ocur_time": "2025-05-02 09:30:00.250000"},
                    {"feedetl_sn": "W3", "mdtrt_id": "M1", "fee_ocur_time": "2025-05-02 09:31:00"}],
        "drug_trac": [{"feedetl_sn": "Z1", "drug_trac_codg": "81000000000000000001"}],
    }
    dataset = write_dataset(build_tables(given), tmp_path / "ds")
    # the factories write whole seconds: the times as a batch extract carries them (Parquet, microseconds)
    _times_to_the_microsecond(dataset / "mdtrt.parquet", "mdtrt_id", "begntime", given["mdtrt"])
    _times_to_the_microsecond(dataset / "feedetl.parquet", "feedetl_sn", "fee_ocur_time", given["feedetl"])
    load_history(dataset, tmp_path / "h.sqlite")
    store = HistoryStore(tmp_path / "h.sqlite")
    h = store.get("P1")
    assert [(f["feedetl_sn"], f["fee_ocur_time"].isoformat(" ")) for f in h["feedetl"]] == [
        ("Z1", "2025-05-02 09:30:00.250000"), ("A2", "2025-05-02 09:30:00.750000"), ("W3", "2025-05-02 09:31:00")]
    assert h["mdtrt"][0]["begntime"].microsecond == 125000
    (sale,) = store.trace_sales(["81000000000000000001"])
    assert sale["fee_ocur_time"].microsecond == 250000
    # the rules see the history in that order (the frame sorts lines by time, then id)
    svc = make_service(auth=False, history_path=tmp_path / "h.sqlite")
    _, _, _, frame = svc.analyse_flags(svc_parse(svc, request(patn_id="P1", mdtrt_id="M9")))[0]
    assert [f["feedetl_sn"] for f in frame.lines_by_mdtrt["M1"]] == ["!h:Z1", "!h:A2", "!h:W3"]


def _times_to_the_microsecond(path, key: str, column: str, rows: list[dict]) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    by_key = {r[key]: dt.datetime.fromisoformat(r[column]) for r in rows}
    times = pa.array([by_key[k] for k in table.column(key).to_pylist()], pa.timestamp("us"))
    pq.write_table(table.set_column(table.schema.get_field_index(column), column, times), path)


def test_whole_second_times_are_stored_as_before(tmp_path):
    # the text earlier stores hold (no fraction), so a store written before and one written now read alike
    import sqlite3
    import zlib

    load_history(_dataset(tmp_path), tmp_path / "h.sqlite")
    with sqlite3.connect(tmp_path / "h.sqlite") as con:
        payload = json.loads(zlib.decompress(con.execute("SELECT payload FROM history WHERE psn_no = '1058158'").fetchone()[0]))
    text = json.dumps(payload)
    assert '"2025-05-02 09:00:00"' in text and ".000000" not in text
