"""Requests are analysed in the thread pool, off the event loop: over a real socket (uvicorn), a request
still in progress does not hold up the next one, and many requests at once (auth, history store, call log
in the background) are all answered right and logged once each."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from fundguard.api.national import MAX_BODY_BYTES, UNIFIED, build_router, standalone_app
from fundguard.contract.factories import build_tables, write_dataset
from fundguard.engine.registry import load_registry
from fundguard.realtime.history import HistoryStore, load_history
from fundguard.realtime.knowledge import Knowledge
from fundguard.realtime.service import RealtimeConfig
from fundguard.realtime.store import RealtimeStore

from .payloads import FEMALE_ONLY_DRUG, body, feedback, order, request, signed
from .server import free_port, serving
from .test_library import _edit, _export

DRUG = {"hilist_type": "101", "chrg_type": "11", "pric": 25.5}
GATED_CODE = "GATE00000000001"


class GatedKnowledge(Knowledge):
    """The real knowledge edition, except that looking up GATED_CODE waits until the test opens the gate.

    The one test-only piece (nothing of the service is replaced): it gives a request that stays in
    progress exactly as long as the test needs (standing for any slow request: a long stay, a rule run
    by its SQL, a slow disk), so the test needs no timing guesses. With `handle` on the event loop, the
    second request below could not even be read until the gate opened."""

    def __init__(self, base: Knowledge):
        super().__init__(base.tables, manifest=base.manifest, content_hash=base.content_hash, arrow=base.arrow)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def match(self, table: str, code: str | None, column: str = "hilist_code") -> list[dict]:
        if code == GATED_CODE:
            self.entered.set()
            self.gate.wait(timeout=30)
        return super().match(table, code, column)


@contextmanager
def serving_service(service):
    """The national router over `service` on a real socket; yields the base URL."""
    app = FastAPI()
    app.include_router(build_router(service))
    with serving(app) as url:
        yield url


def test_a_request_in_progress_does_not_hold_up_the_next(make_service, knowledge):
    kb = GatedKnowledge(knowledge)
    service = make_service(auth=False, knowledge=kb)
    with serving_service(service) as url, ThreadPoolExecutor(1) as pool:
        slow = pool.submit(httpx.post, url + UNIFIED, content=body(request(orders=[order("S1", GATED_CODE)])),
                           timeout=30)
        try:
            assert kb.entered.wait(10), "the first request never reached the analysis"
            # answered, with its finding, while the first is still inside its analysis (with `handle` on
            # the event loop this times out)
            fast = httpx.post(url + UNIFIED, timeout=5, content=body(
                request(patn_id="2077001", mdtrt_id="3001", orders=[order("F1", FEMALE_ONLY_DRUG, **DRUG)])))
            assert fast.status_code == 200 and fast.json()["infcode"] == 0
            assert [r["rule_id"] for r in fast.json()["output"]["result"]] == ["A01"]
            assert not slow.done() and not kb.gate.is_set()
        finally:
            kb.gate.set()
        first = slow.result(timeout=30)
        assert first.status_code == 200 and first.json()["infcode"] == 0
    service.store.flush()
    assert service.store.stats("institution")[0]["calls"] == 2


def test_closing_the_history_store_closes_every_threads_connection(tmp_path):
    store = tmp_path / "h.sqlite"
    load_history(write_dataset(build_tables({"psn": [{"psn_no": "P1"}], "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1"}]}),
                               tmp_path / "ds"), store)
    history = HistoryStore(store)

    def open_files() -> int:  # this process's descriptors on the store file (Linux)
        return sum(1 for fd in Path("/proc/self/fd").iterdir() if os.path.realpath(fd) == str(store.resolve()))

    with ThreadPoolExecutor(2) as pool:  # request threads, as in the server's pool
        barrier = threading.Barrier(2)

        def read(_):
            barrier.wait(timeout=10)  # both threads at once: one connection each
            return history.get("P1")["mdtrt"][0]["mdtrt_id"]

        assert list(pool.map(read, range(2))) == ["M1", "M1"]
        assert open_files() == 2
        history.close()  # at shutdown, from another thread
        assert open_files() == 0
        # a thread whose connection was closed opens a new one when it reads again
        assert pool.submit(history.get, "P1").result()["mdtrt"][0]["mdtrt_id"] == "M1"
        history.close()


def _history_with_supplies(tmp_path) -> Path:
    # a past 30-day supply in the history store: every request's order overlaps it (C02), so each answer
    # shows that its thread (or process) read the history right
    history = tmp_path / "h.sqlite"
    load_history(write_dataset(build_tables({
        "psn": [{"psn_no": f"P{i}", "gend": "1", "brdy": "1951-08-27"} for i in range(8)],
        "mdtrt": [{"mdtrt_id": f"OLD{i}", "psn_no": f"P{i}", "fixmedins_code": "H2", "begntime": "2025-06-01 09:00:00"}
                  for i in range(8)],
        "feedetl": [{"feedetl_sn": f"F{i}", "mdtrt_id": f"OLD{i}", "hilist_code": "XC10AAA001", "med_chrgitm_type": "09",
                     "prd_days": 30, "cnt": 30, "pric": 10, "fee_ocur_time": "2025-06-01 09:30:00"} for i in range(8)],
    }), tmp_path / "ds"), history)
    return history


def _send_many(url: str, paasid: str, secret: str) -> None:
    """32 signed requests and 8 resends of them from 8 threads, then a feedback on each finding."""
    headers = {"content-type": "application/json"}
    payloads = [request(patn_id=f"P{i % 8}", mdtrt_id=f"M{i}", orders=[
        order(f"R{i}", "XC10AAA001", cnt=30, prd_days=30, hilist_type="101", chrg_type="09", pric=10.0)])
        for i in range(32)]
    with httpx.Client(base_url=url, timeout=60) as client:
        def send(payload):
            return client.post(UNIFIED, content=body(payload), headers=signed(paasid, secret) | headers)

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(send, payloads))
            replies += list(pool.map(send, payloads[:8]))  # resends, after their first replies
            jr_ids = [r.json()["output"]["result"][0]["jr_id"] for r in replies[:32]]
            fed = list(pool.map(lambda j: client.post(UNIFIED, content=body(feedback([j])),
                                                      headers=signed(paasid, secret) | headers), jr_ids))
    assert all(r.status_code == 200 and r.json()["infcode"] == 0 for r in replies + fed), [
        r.text for r in replies + fed if r.status_code != 200][:3]
    for r in replies:  # C01: 30 days over the outpatient 7; C02: overlaps the supply in the history
        assert [x["rule_id"] for x in r.json()["output"]["result"]] == ["C01", "C02"]


def test_many_requests_at_once_are_all_answered_and_logged_once(tmp_path, make_service):
    service = make_service(auth=True, background_log=True, history_path=_history_with_supplies(tmp_path))
    paasid, secret = service.store.register_institution("H43079900001")
    with serving_service(service) as url:
        _send_many(url, paasid, secret)
    service.store.flush()
    (row,) = service.store.stats("institution")
    assert (row["calls"], row["calls_with_reminders"], row["reminders"], row["feedback"]) == (32, 32, 64, 32)


def test_analysis_processes_answer_and_log_every_request_once(tmp_path):
    # the same load over two analysis processes (standalone_app, processes=2): each process reads the
    # history and checks signatures, nonces and resends against the stores they share, and every call
    # is logged once
    db = f"sqlite:///{tmp_path}/rt.db"
    config = RealtimeConfig(db_url=db, history_path=_history_with_supplies(tmp_path), auth=True)
    setup = RealtimeStore(db, background=False)
    paasid, secret = setup.register_institution("H43079900001")
    app = standalone_app(config, processes=2)
    pool = app.state.realtime_pool
    assert len(pool.pids()) == 2  # both started before the first request
    # the serving process analyses nothing: it builds no service (no knowledge edition, call log, history)
    assert app.state.realtime is None
    with serving(app) as url:
        _send_many(url, paasid, secret)
        # what never reaches an analysis process is still answered with the envelope, by the serving one
        unknown = httpx.post(url + "/fsi/api/nothing", content=b"{}", timeout=10)
        too_large = httpx.post(url + UNIFIED, content=b" " * (MAX_BODY_BYTES + 1), timeout=30)
    assert unknown.status_code == 404 and unknown.json()["infcode"] == -1
    assert too_large.status_code == 413 and "上限" in too_large.json()["err_msg"]
    (row,) = setup.stats("institution")
    setup.close()
    assert (row["calls"], row["calls_with_reminders"], row["reminders"], row["feedback"]) == (32, 32, 64, 32)


def test_a_bad_process_count_stops_the_server_with_one_line(tmp_path):
    env = dict(os.environ, FUNDGUARD_RT_PROCESSES="two", FUNDGUARD_RT_DB=f"sqlite:///{tmp_path}/rt.db")
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "fundguard.api.national:standalone_app", "--factory", "--port", "0"],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "FUNDGUARD_RT_PROCESSES 应为非负整数" in done.stderr and "'two'" in done.stderr
    assert "Traceback" not in done.stderr


def test_analysis_processes_log_through_the_serving_process(tmp_path, caplog):
    # a spawned analysis process has no logging of its own: its lines (each call, the start-up warnings)
    # must reach the serving process's log, and a start-up line said by every process only once
    lib = _export(tmp_path / "lib")
    _edit(lib, "B01_*.sql", "> $tolerance", "> $tolerance + 100")  # B01 then runs by its SQL: said at start
    config = RealtimeConfig(db_url=f"sqlite:///{tmp_path}/rt.db", auth=False, registry=load_registry(lib))
    with caplog.at_level(logging.INFO, logger="fundguard"):
        app = standalone_app(config, processes=2)
        pool = app.state.realtime_pool
        pids = pool.pids()
        with serving(app) as url:
            for i in range(4):
                reply = httpx.post(url + UNIFIED, content=body(request(mdtrt_id=f"M{i}", orders=[
                    order("RX-1", FEMALE_ONLY_DRUG, **DRUG)])), headers={"content-type": "application/json"},
                    timeout=60)
                assert reply.status_code == 200 and reply.json()["infcode"] == 0
        pool.close()  # the queue drained (uvicorn's shutdown closed it already; closing twice is harmless)
    records = [r for r in caplog.records if r.name.startswith("fundguard")]

    def said(text: str) -> list[logging.LogRecord]:
        return [r for r in records if text in r.getMessage()]

    by_sql = said("按规则 SQL 运行")
    assert len(by_sql) == 1 and "B01" in by_sql[0].getMessage() and by_sql[0].process in pids
    no_auth = said("--no-auth")  # the serving process's door leaves it to the processes: said once
    assert len(no_auth) == 1 and no_auth[0].levelno == logging.WARNING and no_auth[0].process in pids
    calls = said("3101 scene=")
    assert len(calls) == 4 and all(r.levelno == logging.INFO and r.process in pids for r in calls)
    assert os.getpid() not in {r.process for r in by_sql + no_auth + calls}


def test_standalone_pool_under_uvicorn_logs_calls_and_stops_cleanly_on_ctrl_c(tmp_path):
    # what an operator runs: uvicorn with the standalone app and two analysis processes; the call lines
    # and the start-up warning show beside uvicorn's, and Ctrl-C (SIGINT to the whole process group, as a
    # terminal sends it) stops everything without a trace from the analysis processes
    port = free_port()
    env = dict(os.environ, FUNDGUARD_RT_PROCESSES="2", FUNDGUARD_RT_NO_AUTH="1", FUNDGUARD_RT_DB=f"sqlite:///{tmp_path}/rt.db")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "fundguard.api.national:standalone_app", "--factory", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 90
        while True:
            try:
                reply = httpx.post(f"http://127.0.0.1:{port}{UNIFIED}", content=body(request(orders=[
                    order("RX-1", FEMALE_ONLY_DRUG, **DRUG)])), headers={"content-type": "application/json"}, timeout=30)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.time() < deadline, "uvicorn did not start"
                time.sleep(0.2)
        assert reply.status_code == 200 and [r["rule_id"] for r in reply.json()["output"]["result"]] == ["A01"]
        os.killpg(server.pid, signal.SIGINT)
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.communicate()
    assert server.returncode == 0, err
    assert err.count("实时接口认证已关闭") == 1
    assert len([line for line in err.splitlines() if line.startswith("INFO") and "3101 scene=" in line]) == 1
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_many_threads_first_using_the_nonce_file_at_once_all_succeed(tmp_path):
    # every thread opens its own connection on its first request; 16 first requests at once must all be
    # recorded (the file's WAL switch, made by each first connection, failed at once with "database is
    # locked" in about one round in 30; a stress test: it cannot prove the race absent, it catches it back)
    from fundguard.realtime.store import SqliteNonces

    for round_no in range(60):
        nonces = SqliteNonces(tmp_path / f"r{round_no}.nonces")
        barrier = threading.Barrier(16)
        results, errors = [], []

        def first_use(i: int, nonces=nonces, barrier=barrier, results=results, errors=errors) -> None:
            barrier.wait()
            try:
                results.append(nonces.use("P", f"N{i}", 1_700_000_000, window=300))
            except Exception as exc:  # noqa: BLE001 (any failure is what the test looks for)
                errors.append(exc)

        threads = [threading.Thread(target=first_use, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and results == [True] * 16, (round_no, errors[:1])
