"""The national paths over HTTP: ASGI transport for every path, and one real socket (uvicorn)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from fundguard.api.national import BEFORE, COURSE, UNIFIED, build_router

from .payloads import FEMALE_ONLY_DRUG, body, feedback, order, request, signed
from .server import serving

DRUG = {"hilist_type": "101", "chrg_type": "11", "pric": 25.5}


@pytest.fixture
def app(secure):
    svc, paasid, secret = secure
    app = FastAPI()
    app.include_router(build_router(svc, include_noop=True))
    return app, paasid, secret


def _post(app, path: str, payload, headers) -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(path, content=body(payload), headers=headers | {"content-type": "application/json"})

    return asyncio.run(go())


@pytest.mark.parametrize(("path", "infno"), [(UNIFIED, "3101"), (UNIFIED + "/3101", "3101"), (BEFORE, "3101"),
                                             (COURSE, "3102"), (UNIFIED, "3102")])
def test_paths(app, path, infno):
    app, paasid, secret = app
    payload = request(infno, scene="2" if infno == "3101" else "7", orders=[order("6099", FEMALE_ONLY_DRUG, **DRUG)])
    r = _post(app, path, payload, signed(paasid, secret))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    data = r.json()
    assert data["infcode"] == 0 and [x["rule_id"] for x in data["output"]["result"]] == ["A01"]


def test_path_infno_mismatch(app):
    app, paasid, secret = app
    r = _post(app, BEFORE, request("3102", scene="7"), signed(paasid, secret))
    assert r.json()["infcode"] == -1 and r.json()["err_msg"].startswith("infno:")


def test_openapi_documents_paths(app):
    app, _, _ = app
    spec = app.openapi()
    for path in (UNIFIED, UNIFIED + "/{infno}", BEFORE, COURSE):
        assert "post" in spec["paths"][path]
        assert spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"]


def test_real_socket_3101_then_3103(app):
    app, paasid, secret = app
    with serving(app) as url, httpx.Client(base_url=url) as client:
        payload = request(orders=[order("6099", FEMALE_ONLY_DRUG, **DRUG)])
        r = client.post(UNIFIED, content=body(payload), headers=signed(paasid, secret))
        result = r.json()["output"]["result"]
        assert result[0]["judge_result_detail_dtos"][0]["rx_id"] == "6099"
        r = client.post(UNIFIED, content=body(feedback([result[0]["jr_id"]], way="2")), headers=signed(paasid, secret))
        assert r.status_code == 200 and r.json()["infcode"] == 0
        r = client.post("/fsi/api/noop", content=b"{}")
        assert r.json()["infcode"] == 0


def _envelope_error(r: httpx.Response, status: int) -> str:
    """The reply is the national error envelope with `status`; returns its err_msg."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    data = r.json()
    assert "detail" not in data
    assert data["infcode"] == -1 and data["output"] is None
    assert data["inf_refmsgid"] and data["refmsg_time"] and data["respond_time"]
    assert 0 < len(data["err_msg"]) <= 200
    return data["err_msg"]


def _send(app, method: str, path: str, headers: dict | None = None) -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, path, content=b"{}", headers=headers or {})

    return asyncio.run(go())


@pytest.mark.parametrize(("method", "path"), [("GET", UNIFIED), ("PUT", UNIFIED + "/3101"), ("DELETE", BEFORE),
                                              ("GET", COURSE), ("PATCH", UNIFIED)])
def test_wrong_method_on_a_national_path_is_a_405_envelope(app, method, path):
    app, _, _ = app
    r = _send(app, method, path)
    msg = _envelope_error(r, 405)
    assert r.headers["allow"] == "POST"
    assert msg.startswith(path) and f"不支持 {method} 请求" in msg and "POST" in msg


@pytest.mark.parametrize("path", ["/fsi/api/rsfComIfsService/callServic", UNIFIED + "/3101/extra", UNIFIED + "/",
                                  "/fsi/api/riskConService/unknownAnalyze", "/fsi/api/outpatientSettleService/saveSettletmentV2",
                                  "/fsi/"])
def test_unknown_national_path_is_a_404_envelope(app, path):
    app, paasid, secret = app
    r = _send(app, "POST", path, signed(paasid, secret))
    msg = _envelope_error(r, 404)
    assert msg.startswith(path) and "接口路径不存在" in msg and UNIFIED in msg


def test_a_long_unknown_path_keeps_err_msg_within_200_characters(app):
    app, _, _ = app
    msg = _envelope_error(_send(app, "POST", "/fsi/api/" + "x" * 500 + "/%0Aline"), 404)
    assert "x" * 60 in msg and "\n" not in msg


def test_envelope_errors_follow_the_infcode_setting(make_service):
    app = FastAPI()
    app.include_router(build_router(make_service(auth=False, infcode_as_string=True)))
    r = _send(app, "GET", UNIFIED)
    assert r.status_code == 405 and r.json()["infcode"] == "-1"


def test_full_app_national_errors_are_envelopes_and_the_rest_is_unchanged(tmp_path):
    from fastapi.testclient import TestClient

    from fundguard.api.app import create_app
    from fundguard.workspace import AppConfig

    config = AppConfig(workspace=tmp_path / "ws", db_url=f"sqlite:///{tmp_path / 'app.db'}", no_auth=True,
                       national={"background_log": False})
    with TestClient(create_app(config), client=("127.0.0.1", 50000)) as client:  # no-auth: loopback only
        assert _envelope_error(client.get(UNIFIED), 405)
        assert _envelope_error(client.post("/fsi/api/rsfComIfsService/nothing", content=b"{}"), 404)
        assert client.post(UNIFIED, content=body(request())).json()["infcode"] == 0
        r = client.get("/api/v1/no-such-thing")
        assert r.status_code == 404 and "detail" in r.json() and "infcode" not in r.json()
        r = client.post("/api/v1/openapi.json")
        assert r.status_code == 405 and "detail" in r.json()
        assert "infcode" not in client.get("/no-such-page").text
