"""Requests a hostile or broken client may send: each is answered with the national envelope (infcode -1
and the JSON path, or 401/413), never a bare 500, a hang or a silent "no finding"."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI

from fundguard.api.national import MAX_BODY_BYTES, UNIFIED, build_router

from .payloads import FEMALE_ONLY_DRUG, ORG, body, deep, feedback, order, request, signed


def _reply(service, payload):
    raw = payload if isinstance(payload, bytes) else body(payload)
    return service.handle(raw, {})


def _enc(p):
    return p["input"]["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda p: _enc(p)["fsi_diagnose_dtos"][0].update(dias_srt_no="1e999999"), "dias_srt_no"),
        (lambda p: _enc(p).update(adm_date=1e300), "adm_date"),
        (lambda p: _enc(p)["fsi_order_dtos"][0].update(cnt="1e999999", pric="1e999999", sumamt=None), ".cnt"),
        (lambda p: _enc(p)["fsi_order_dtos"][0].update(sumamt="1e300"), ".sumamt"),
        (lambda p: _enc(p)["fsi_order_dtos"][0].update(prd_days="1e99999"), ".prd_days"),
        (lambda p: _enc(p)["fsi_order_dtos"][0].update(pric=-25.5, sumamt=-25.5), ".pric"),
        (lambda p: _enc(p)["fsi_order_dtos"][0].update(cnt=2, pric=25.5, sumamt=1000), ".sumamt"),
        (lambda p: p["input"]["data"].update(trig_scen="²"), "trig_scen"),
        (lambda p: _enc(p).pop("fsi_order_dtos"), "fsi_order_dtos"),
    ],
)
def test_bad_values_are_named_quickly(service, change, path):
    payload = deep(request(orders=[order("RX1")], diagnoses=[{"dise_codg": "K29.700", "dias_srt_no": "1"}]))
    change(payload)
    start = time.perf_counter()
    reply = _reply(service, payload)
    assert time.perf_counter() - start < 2
    assert reply.status == 200 and reply.body["infcode"] == -1, reply.body
    assert path in reply.body["err_msg"] and len(reply.body["err_msg"]) <= 200, reply.body["err_msg"]


def test_infinite_numbers_and_deep_nesting_in_the_json(service):
    reply = _reply(service, body(request()).replace(b'"adm_date": "2025-06-14 14:00:00"', b'"adm_date": NaN'))
    assert reply.status == 200 and "adm_date" in reply.body["err_msg"], reply.body
    deep_body = b'{"infno":"3101","input":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    reply = _reply(service, deep_body)
    assert reply.status == 200 and reply.body["infcode"] == -1 and reply.body["err_msg"].startswith("$:"), reply.body


def test_a_long_value_is_not_echoed_whole(service):
    payload = deep(request())
    _enc(payload)["adm_date"] = "x" * 5000
    reply = _reply(service, payload)
    assert reply.body["infcode"] == -1 and len(reply.body["err_msg"]) <= 200


def test_a_bad_timestamp_header_is_a_401(secure):
    svc, paasid, secret = secure
    headers = signed(paasid, secret) | {"x-tif-timestamp": "\u00b2"}
    reply = svc.handle(body(request()), headers)
    assert reply.status == 401 and reply.body["infcode"] == -1


def test_an_unexpected_error_is_a_500_envelope(service, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyError("bug")

    monkeypatch.setattr("fundguard.realtime.service.decode_body", boom)
    reply = _reply(service, request())
    assert reply.status == 500 and reply.body["infcode"] == -1 and "编号" in reply.body["err_msg"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(secure):
    svc, paasid, secret = secure
    app = FastAPI()
    app.include_router(build_router(svc))

    async def go(content: bytes, headers: dict):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.post(UNIFIED, content=content, headers=headers)

    big = b" " * (MAX_BODY_BYTES + 1)
    r = asyncio.run(go(big, {"content-type": "application/json"}))  # not even signed
    assert r.status_code == 413 and r.json()["infcode"] == -1 and "上限" in r.json()["err_msg"]
    ok = asyncio.run(go(body(request()), signed(paasid, secret) | {"content-type": "application/json"}))
    assert ok.status_code == 200 and ok.json()["infcode"] == 0


def test_feedback_on_another_institutions_finding_links_nothing(make_service):
    from sqlalchemy import select

    from fundguard.realtime.store import Feedback

    svc = make_service(auth=True)
    mine = svc.store.register_institution(ORG)
    other_code = "H99999999999"
    other = svc.store.register_institution(other_code)
    drug = {"hilist_type": "101", "chrg_type": "11", "pric": 25.5}
    reply = svc.handle(body(request(orders=[order("RX1", FEMALE_ONLY_DRUG, **drug)])), signed(*mine))
    (jr_id,) = {r["jr_id"] for r in reply.body["output"]["result"] if r["rule_id"] == "A01"}
    fb = feedback([jr_id], fixmedins_code=other_code)
    assert svc.handle(body(fb), signed(*other)).body["infcode"] == 0
    assert svc.handle(body(feedback([jr_id])), signed(*mine)).body["infcode"] == 0
    svc.store.flush()
    with svc.store.engine.connect() as con:
        rows = con.execute(select(Feedback.rule_id).order_by(Feedback.id)).all()
    assert [r[0] for r in rows] == [None, "A01"]


def test_over_long_caller_values_are_cut_to_their_columns(service):
    # PostgreSQL refuses a value longer than its column, and the batch of calls queued with it would be lost
    from sqlalchemy import select

    from fundguard.realtime.store import Call, Result

    payload = deep(request(orders=[order("RX1", FEMALE_ONLY_DRUG, **{"hilist_type": "101", "chrg_type": "11", "pric": 25.5})]))
    payload["msgid"] = "M" * 100
    _enc(payload)["mdtrt_id"] = "E" * 80
    payload["input"]["data"]["patient_dtos"][0]["curr_mdtrt_id"] = "E" * 80
    assert _reply(service, payload).body["infcode"] == 0
    service.store.flush()
    with service.store.engine.connect() as con:
        call = con.execute(select(Call.msgid, Call.mdtrt_id).order_by(Call.received_at.desc())).first()
        result = con.execute(select(Result.mdtrt_id)).first()
    assert call.msgid == "M" * 64 and call.mdtrt_id == "E" * 50 and result.mdtrt_id == "E" * 50


def test_refused_calls_are_in_the_call_log(secure):
    from sqlalchemy import select

    from fundguard.realtime.store import Call

    svc, paasid, secret = secure
    assert svc.handle(body(request()), signed(paasid, "wrong-secret-wrong-secret")).status == 401
    assert svc.handle(body(request(fixmedins_code="H99999999999")), signed(paasid, secret)).status == 403
    svc.store.flush()
    with svc.store.engine.connect() as con:
        rows = con.execute(select(Call.status, Call.infno, Call.fixmedins_code).where(Call.status == "refused")).all()
    assert sorted(rows, key=str) == sorted([("refused", "?", None), ("refused", "3101", ORG)], key=str)


def test_only_findings_on_the_orders_being_saved_when_the_his_marks_them(service):
    drug = {"hilist_type": "101", "chrg_type": "11", "pric": 25.5}

    def a01(flag_old: int, flag_new: int) -> list[str]:
        payload = request(orders=[order("RX1", FEMALE_ONLY_DRUG, curr_drord_flag=flag_old, **drug),
                                  order("RX2", curr_drord_flag=flag_new)])
        reply = _reply(service, payload)
        return [d["rx_id"] for r in reply.body["output"]["result"] if r["rule_id"] == "A01"
                for d in r["judge_result_detail_dtos"]]

    assert a01(0, 1) == []  # the earlier order was warned about when it was saved
    assert a01(1, 1) == ["RX1"]
    assert a01(0, 0) == ["RX1"]  # none marked current (as in the national sample): every order counts
