"""`serve` answers at once and builds the runs' flag indexes in the background: meanwhile a run's pages
say "疑点索引建立中" (503, Retry-After, the page refreshes itself) and the API answers 503; once built, the
same requests succeed. In process (Services, the app) and through `fundguard serve` over a real socket."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from fastapi.testclient import TestClient


def _copy_run(synth_workspace, target):
    # the run only, not its index: the index has to be built
    shutil.copytree(synth_workspace / "audit", target / "audit")
    return json.loads((target / "audit" / "run.json").read_text(encoding="utf-8"))["run_id"]


def test_pages_and_api_say_the_index_is_being_built_then_serve_it(synth_workspace, tmp_path):
    from fundguard.api.app import create_app
    from fundguard.workspace import AppConfig, Services

    run_id = _copy_run(synth_workspace, tmp_path / "ws")
    config = AppConfig(workspace=tmp_path / "ws", db_url=f"sqlite:///{tmp_path / 'app.db'}", no_auth=True,
                       index_in_background=True)
    services = Services(config)
    assert services.workspace.building == {run_id}
    with TestClient(create_app(config, services=services), client=("127.0.0.1", 50000)) as client:  # no-auth: local only
        page = client.get("/runs/latest/")
        assert page.status_code == 503 and page.headers["retry-after"] == "5"
        assert "疑点索引建立中" in page.text and run_id in page.text and 'http-equiv="refresh"' in page.text
        listing = client.get("/runs")
        assert listing.status_code == 200 and 'data-testid="run-building"' in listing.text and run_id in listing.text
        api = client.get(f"/api/v1/runs/{run_id}/flags")
        assert api.status_code == 503 and api.headers["retry-after"] == "5" and "建立中" in api.json()["detail"]
        assert client.get("/runs/nope/").status_code == 404  # an unknown run is still unknown
        (listed,) = client.get("/api/v1/runs").json()  # listed, without counts until its index is built
        assert listed["run_id"] == run_id and listed["status"] == "indexing" and listed["flags"] is None

        services.index_runs()

        assert services.workspace.building == set()
        assert client.get("/runs/latest/").status_code == 200
        assert 'data-testid="run-building"' not in client.get("/runs").text
        flags = client.get(f"/api/v1/runs/{run_id}/flags")
        assert flags.status_code == 200 and flags.json()["items"]
        (listed,) = client.get("/api/v1/runs").json()
        assert listed["status"] == "ready" and listed["flags"] == flags.json()["total"] > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_builds_the_index_in_the_background_and_serves_it(synth_workspace, tmp_path):
    run_id = _copy_run(synth_workspace, tmp_path / "ws")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fundguard", "serve", "--workspace", str(tmp_path / "ws"), "--no-auth",
         "--port", str(port), "--db", f"sqlite:///{tmp_path / 'app.db'}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        listed = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/runs", timeout=5) as r:
                    runs = json.loads(r.read())
                if runs and runs[0]["status"] == "ready":  # listed as "indexing" meanwhile
                    listed = runs
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        assert listed and listed[0]["run_id"] == run_id
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/runs/{run_id}/flags", timeout=5) as r:
            assert r.status == 200 and json.loads(r.read())["items"]
        # a search by person: the identifier stays out of the server's access log
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/runs/{run_id}/flags?psn_no=PSECRET0123", timeout=5) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    # built by serve's background thread (the in-process test above shows the pages meanwhile)
    assert f"正在建立疑点索引: 运行 {run_id}" in out and f"疑点索引已建立: 运行 {run_id}" in out
    assert f"/api/v1/runs/{run_id}/flags?…" in out and "PSECRET0123" not in out
