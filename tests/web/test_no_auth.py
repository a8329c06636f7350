"""Without log-in (`--no-auth`, FUNDGUARD_NO_AUTH=1) the app itself serves local clients only, however it
was started: `fundguard serve` refuses other listening addresses, and the app refuses requests from other
addresses, through proxies or from unknown peers when started by `uvicorn --factory`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from .conftest import PASSWORD

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def no_auth_app(synth_workspace, tmp_path_factory):
    from fundguard.api.app import create_app
    from fundguard.workspace import AppConfig

    db = tmp_path_factory.mktemp("noauth") / "app.db"
    return create_app(AppConfig(workspace=synth_workspace, db_url=f"sqlite:///{db}", no_auth=True,
                                national={"background_log": False}))


PATHS = ("/api/v1/runs", "/api/v1/runs/latest/flags", "/runs/latest/flags", "/rules", "/static/app.css")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"])
def test_local_clients_are_served_without_log_in(no_auth_app, host):
    with TestClient(no_auth_app, client=(host, 40000)) as client:
        for path in PATHS:
            assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("host", ["192.0.2.7", "10.1.2.3", "2001:db8::1", "::ffff:192.0.2.7", "0.0.0.0",
                                  "localhost.example", "testclient", ""])
def test_other_clients_are_refused_with_the_reason(no_auth_app, host):
    with TestClient(no_auth_app, client=(host, 40000)) as client:
        for path in PATHS:
            r = client.get(path)
            assert r.status_code == 403, path
            assert "未启用登录" in r.json()["detail"] and "只接受本机" in r.json()["detail"]
            assert r.headers["x-frame-options"] == "DENY"  # the app's security headers, as on any answer
            assert path.startswith("/static/") or r.headers["cache-control"] == "no-store"
        r = client.post("/api/v1/session", json={"username": "x", "password": "y"})
        assert r.status_code == 403


@pytest.mark.parametrize("header", [{"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"},
                                    {"X-Real-IP": "203.0.113.9"}, {"X-Forwarded-For": "127.0.0.1"}])
def test_requests_through_a_proxy_are_refused_even_from_a_local_proxy(no_auth_app, header):
    with TestClient(no_auth_app, client=("127.0.0.1", 40000)) as client:
        r = client.get("/api/v1/runs", headers=header)
    assert r.status_code == 403 and "经代理转发" in r.json()["detail"]


def test_an_unknown_peer_is_refused(no_auth_app):
    """A Unix socket (uvicorn --uds) reports no client address: it cannot be known to be local."""
    with TestClient(no_auth_app, client=None) as client:  # type: ignore[arg-type]
        r = client.get("/api/v1/runs")
    assert r.status_code == 403 and "来源不明" in r.json()["detail"]


def test_with_log_in_any_address_may_log_in(app, users):
    with TestClient(app, client=("192.0.2.7", 40000)) as client:
        assert client.get("/api/v1/runs").status_code == 401
        assert client.post("/api/v1/session", json={"username": users["auditor"], "password": PASSWORD}).status_code == 200
        assert client.get("/api/v1/runs").status_code == 200


def _outside_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.254", 9))  # no packet is sent: only the route is looked up
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def _get(url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight to the server
    try:
        with opener.open(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_uvicorn_factory_with_no_auth_serves_this_machine_only(tmp_path):
    """The bypass this guards against: `FUNDGUARD_NO_AUTH=1 uvicorn fundguard.api.app:create_app --factory
    --host 0.0.0.0`, over real HTTP; the same server answers through loopback and refuses its own network
    address."""
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no network address other than loopback")
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "FUNDGUARD_NO_AUTH": "1", "FUNDGUARD_WORKSPACE": str(tmp_path / "ws"),
           "FUNDGUARD_DB_URL": f"sqlite:///{tmp_path / 'app.db'}",
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    (tmp_path / "ws").mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "fundguard.api.app:create_app", "--factory", "--host", "0.0.0.0",
         "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline, local = time.monotonic() + 60, None
        while time.monotonic() < deadline and local is None:
            try:
                local = _get(f"http://127.0.0.1:{port}/api/v1/runs")
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert local == (200, "[]")
        status, body = _get(f"http://{outside}:{port}/api/v1/runs")
        assert status == 403 and "只接受本机" in json.loads(body)["detail"]
        assert _get(f"http://{outside}:{port}/runs")[0] == 403
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "只接受本机" in out  # said at start
