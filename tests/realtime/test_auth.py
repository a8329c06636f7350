"""x-tif-* signatures per institution secret, timestamp window, nonce replay, fixmedins_code match."""

from __future__ import annotations

import logging
import time

from fundguard.realtime.auth import signature, signed_headers
from fundguard.realtime.service import Door, RealtimeConfig

from .payloads import ORG, body, request, signed


def test_signature_formula():
    # sha256(timestamp + secret + nonce + timestamp), lowercase hex (OpenHIS-Server yibao/info.py)
    import hashlib

    assert signature("1718345244", "s3cret", "abc") == hashlib.sha256(b"1718345244s3cretabc1718345244").hexdigest()


def test_signed_call_accepted(secure):
    svc, paasid, secret = secure
    reply = svc.handle(body(request()), signed(paasid, secret))
    assert reply.status == 200 and reply.body["infcode"] == 0 and reply.body["warn_msg"] == ""


def test_missing_headers_refused(secure):
    svc, _, _ = secure
    reply = svc.handle(body(request()), {})
    assert reply.status == 401 and reply.body["infcode"] == -1 and "x-tif-signature" in reply.body["err_msg"]


def test_wrong_secret_refused(secure):
    svc, paasid, _ = secure
    reply = svc.handle(body(request()), signed(paasid, "wrong-secret-wrong-secret"))
    assert reply.status == 401 and "签名" in reply.body["err_msg"]


def test_unknown_caller_refused(secure):
    svc, _, secret = secure
    reply = svc.handle(body(request()), signed("someone-else", secret))
    assert reply.status == 401 and "x-tif-paasid" in reply.body["err_msg"]


def test_stale_timestamp_refused(secure):
    svc, paasid, secret = secure
    headers = signed_headers(paasid, secret, nonce="n-old", timestamp=int(time.time()) - 301)
    reply = svc.handle(body(request()), headers)
    assert reply.status == 401 and "时间窗口" in reply.body["err_msg"]
    headers = signed_headers(paasid, secret, nonce="n-new", timestamp=int(time.time()) - 290)
    assert svc.handle(body(request()), headers).status == 200


def test_replayed_nonce_refused(secure):
    svc, paasid, secret = secure
    headers = signed(paasid, secret)
    assert svc.handle(body(request()), headers).status == 200
    reply = svc.handle(body(request()), headers)
    assert reply.status == 401 and "nonce" in reply.body["err_msg"]


def test_body_institution_must_be_the_caller(secure):
    svc, paasid, secret = secure
    reply = svc.handle(body(request(fixmedins_code="H99999999999")), signed(paasid, secret))
    assert reply.status == 403 and reply.body["err_msg"].startswith("fixmedins_code:")
    p = request()
    del p["fixmedins_code"]
    reply = svc.handle(body(p), signed(paasid, secret))
    assert reply.body["infcode"] == -1 and reply.body["err_msg"].startswith("fixmedins_code:")


def test_secret_never_logged(secure, caplog):
    svc, paasid, secret = secure
    with caplog.at_level(logging.DEBUG, logger="fundguard"):
        svc.handle(body(request()), signed(paasid, secret))
        svc.handle(body(request()), signed(paasid, "bad-bad-bad-bad-bad"))
    text = caplog.text
    assert secret not in text and "1058158" not in text and "患者甲" not in text
    assert "10****8" in text


def test_no_auth_is_loud(make_service, caplog):
    with caplog.at_level(logging.INFO, logger="fundguard.realtime"):
        svc = make_service(auth=False)
        reply = svc.handle(body(request()), {})
    assert reply.status == 200 and reply.body["warn_msg"] == "AUTH DISABLED"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "--no-auth" in r.getMessage()]
    assert warnings
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("3101 ")]
    assert lines and all("AUTH DISABLED" in line for line in lines)


def test_institutions_registered_without_secret_listing(secure):
    svc, _, secret = secure
    listed = svc.store.institutions()
    assert [i["fixmedins_code"] for i in listed] == [ORG]
    assert secret not in repr(listed)


def test_no_auth_is_loud_from_the_door(caplog):
    # the warning comes from the Door (every service has one); in pool mode the analysis processes' doors
    # say it and their start-up lines reach the serving process's log (tests/realtime/test_concurrency.py)
    with caplog.at_level(logging.INFO, logger="fundguard.realtime"):
        door = Door(RealtimeConfig(auth=False))
        reply = door.refuse(404, "x")
    assert any(r.levelno == logging.WARNING and "--no-auth" in r.getMessage() for r in caplog.records)
    assert reply.body["warn_msg"] == "AUTH DISABLED"
