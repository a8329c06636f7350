"""Resends: a HIS whose reply timed out sends the same message again, with the same msgid. The same
institution, msgid and content get the first reply back, and nothing is stored or counted again; the same
msgid with other content is refused (infcode -1, HTTP 200 as other refused content). On SQLite, and on PostgreSQL when FUNDGUARD_TEST_PG_URL is set."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx
from fastapi import FastAPI
from sqlalchemy import create_engine, insert, select, update

from fundguard.api.national import UNIFIED, build_router
from fundguard.realtime.store import Base, Call, CallRecord, Feedback, RealtimeStore, Result, StoredReply

from .payloads import FEMALE_ONLY_DRUG, ORG, body, encounter, feedback, order, request, signed

DRUG = {"hilist_type": "101", "chrg_type": "11", "pric": 25.5}
NOTE = "重发请求"


def _flagged() -> dict:
    return request(gend="1", orders=[order("6099", FEMALE_ONLY_DRUG, **DRUG)])


def _log(service) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(infno, status) of every call, every stored jr_id, every stored warn_rslt_id."""
    service.store.flush()
    with service.store.engine.connect() as con:
        calls = [(c.infno, c.status) for c in con.execute(select(Call.infno, Call.status).order_by(Call.received_at))]
        results = list(con.execute(select(Result.jr_id).order_by(Result.id)).scalars())
        warns = list(con.execute(select(Feedback.warn_rslt_id).order_by(Feedback.id)).scalars())
    return calls, results, warns


def _without_note(reply_body: dict) -> dict:
    return {k: v for k, v in reply_body.items() if k != "warn_msg"}


def test_a_resent_3101_gets_the_first_reply_and_is_counted_once(db_url, make_service):
    service = make_service(auth=False, db_url=db_url)
    raw = body(_flagged())
    first = service.handle(raw, {})
    assert first.status == 200 and first.body["infcode"] == 0 and first.body["output"]["result"]
    again = service.handle(raw, {})
    assert again.status == 200
    # the same reply (same inf_refmsgid: the answer to the same message), marked as a resend
    assert _without_note(again.body) == _without_note(first.body)
    assert NOTE in again.body["warn_msg"] and "未重复记录" in again.body["warn_msg"]
    assert NOTE not in first.body["warn_msg"]
    calls, results, _ = _log(service)
    assert calls == [("3101", "analysed"), ("3101", "resent")]
    assert results == [first.body["output"]["result"][0]["jr_id"]]
    with service.store.engine.connect() as con:
        kept = con.execute(select(StoredReply.body)).scalar_one()
    assert "1058158" not in kept and '"patn_id":"#0"' in kept  # no raw patient id at rest
    by_inst = service.store.stats("institution")
    assert [(r["calls"], r["calls_with_reminders"], r["reminders"]) for r in by_inst] == [(1, 1, 1)]
    assert service.store.stats("rule")[0]["reminders"] == 1


def test_a_resent_request_for_two_patients_gets_each_patients_id_back(make_service):
    service = make_service(auth=False)
    payload = _flagged()
    second = json.loads(json.dumps(payload["input"]["data"]["patient_dtos"][0]))
    second.update(patn_id="2077001", curr_mdtrt_id="3001")
    second["fsi_encounter_dtos"][0]["mdtrt_id"] = "3001"
    payload["input"]["data"]["patient_dtos"].append(second)
    first = service.handle(body(payload), {})
    again = service.handle(body(payload), {})
    ids = [(r["patn_id"], [d["patn_id"] for d in r["judge_result_detail_dtos"]]) for r in first.body["output"]["result"]]
    assert ids == [("1058158", ["1058158"]), ("2077001", ["2077001"])]
    assert _without_note(again.body) == _without_note(first.body)


def test_a_resend_reserialised_by_the_client_is_the_same_message(make_service):
    service = make_service(auth=False)
    payload = _flagged()
    first = service.handle(body(payload), {})
    reordered = json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=2).encode("gb18030")
    again = service.handle(reordered, {})
    assert _without_note(again.body) == _without_note(first.body) and NOTE in again.body["warn_msg"]
    assert _log(service)[0] == [("3101", "analysed"), ("3101", "resent")]


def test_the_same_msgid_with_other_content_is_refused(db_url, make_service):
    service = make_service(auth=False, db_url=db_url)
    payload = _flagged()
    first = service.handle(body(payload), {})
    encounter(payload)["fsi_order_dtos"].append(order("6100", FEMALE_ONLY_DRUG, **DRUG))
    other = service.handle(body(payload), {})
    assert other.status == 200 and other.body["infcode"] == -1 and other.body["output"] is None
    msg = other.body["err_msg"]
    assert msg.startswith(f"msgid: 报文ID {payload['msgid']} 已用于") and "内容不同" in msg and len(msg) <= 200
    calls, results, _ = _log(service)
    assert calls == [("3101", "analysed"), ("3101", "rejected")]
    assert results == [r["jr_id"] for r in first.body["output"]["result"]]
    # another transaction under a used msgid is other content too
    fb = feedback(["x"])
    fb["msgid"] = payload["msgid"]
    assert service.handle(body(fb), {}).body["infcode"] == -1


def test_a_resent_3103_counts_the_feedback_once(db_url, make_service):
    service = make_service(auth=False, db_url=db_url)
    jr_id = service.handle(body(_flagged()), {}).body["output"]["result"][0]["jr_id"]
    raw = body(feedback([jr_id], way="2", reason="已改医嘱"))
    first = service.handle(raw, {})
    again = service.handle(raw, {})
    assert first.body["infcode"] == again.body["infcode"] == 0 and again.body["output"] == {}
    assert NOTE in again.body["warn_msg"]
    calls, _, warns = _log(service)
    assert calls == [("3101", "analysed"), ("3103", "feedback"), ("3103", "resent")]
    assert warns == [jr_id]
    (row,) = service.store.stats("institution")
    assert (row["feedback"], row["modified"]) == (1, 1)


def test_without_msgid_every_call_counts(make_service):
    # the national sample has no msgid: nothing tells a resend from a new call, so each is analysed
    service = make_service(auth=False)
    payload = _flagged()
    del payload["msgid"]
    raw = body(payload)
    assert service.handle(raw, {}).body["infcode"] == service.handle(raw, {}).body["infcode"] == 0
    calls, results, _ = _log(service)
    assert calls == [("3101", "analysed"), ("3101", "analysed")] and len(results) == 2


def test_a_rejected_request_is_not_kept_for_resends(make_service):
    # nothing was stored for it, so its resend is judged again (and rejected again), and a corrected
    # request under the same msgid is answered
    service = make_service(auth=False)
    payload = _flagged()
    encounter(payload).pop("fsi_order_dtos")
    assert service.handle(body(payload), {}).body["infcode"] == -1
    encounter(payload)["fsi_order_dtos"] = [order("6099", FEMALE_ONLY_DRUG, **DRUG)]
    assert service.handle(body(payload), {}).body["infcode"] == 0
    assert _log(service)[0] == [("3101", "rejected"), ("3101", "analysed")]


def test_msgids_are_per_institution_over_http(secure):
    svc, paasid, secret = secure
    other_paasid, other_secret = svc.store.register_institution("H43079900002")
    app = FastAPI()
    app.include_router(build_router(svc))

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            mine = _flagged()
            theirs = request(gend="1", fixmedins_code="H43079900002", orders=[order("6099", FEMALE_ONLY_DRUG, **DRUG)])
            theirs["msgid"] = mine["msgid"]
            headers = {"content-type": "application/json"}
            first = await client.post(UNIFIED, content=body(mine), headers=signed(paasid, secret) | headers)
            # a resend is signed afresh (a new nonce): a reused nonce stays a replay attack (401)
            fresh = signed(paasid, secret)
            again = await client.post(UNIFIED, content=body(mine), headers=fresh | headers)
            replayed = await client.post(UNIFIED, content=body(mine), headers=fresh | headers)
            other = await client.post(UNIFIED, content=body(theirs), headers=signed(other_paasid, other_secret) | headers)
            return first, again, replayed, other

    first, again, replayed, other = asyncio.run(go())
    assert first.status_code == again.status_code == 200
    assert _without_note(again.json()) == _without_note(first.json()) and NOTE in again.json()["warn_msg"]
    assert replayed.status_code == 401
    assert other.status_code == 200 and NOTE not in other.json()["warn_msg"] and other.json()["output"]["result"]
    calls, results, _ = _log(svc)
    assert [s for _, s in calls] == ["analysed", "resent", "refused", "analysed"] and len(results) == 2


def test_a_resend_past_the_retention_is_answered_afresh_and_counted_once(db_url, make_service):
    service = make_service(auth=False, db_url=db_url)
    raw = body(_flagged())
    first = service.handle(raw, {})
    service.store.expire_replies(now=dt.datetime.now() + dt.timedelta(days=8))
    with service.store.engine.connect() as con:
        assert con.execute(select(StoredReply.body)).scalar_one() is None
    late = service.handle(raw, {})
    assert late.body["output"] == first.body["output"] and NOTE not in late.body["warn_msg"]
    assert late.body["inf_refmsgid"] != first.body["inf_refmsgid"]
    calls, results, _ = _log(service)
    assert calls == [("3101", "analysed"), ("3101", "resent")] and len(results) == 1
    assert service.store.stats("institution")[0]["reminders"] == 1


def test_a_resend_that_overtakes_the_first_write_is_not_counted(db_url):
    # two server processes, or a resend answered before the background writer stored the first reply:
    # the store's unique (institution, msgid) key decides, in the transaction that stores the results
    store = RealtimeStore(db_url, background=False)
    try:
        now = dt.datetime.now()

        def rec(fingerprint: str) -> CallRecord:
            return CallRecord(
                {"received_at": now, "day": f"{now:%Y-%m-%d}", "request_digest": "d" * 64, "infno": "3101",
                 "status": "analysed", "msgid": "M1", "fixmedins_code": ORG, "flags": 1, "infcode": 0,
                 "duration_ms": 1},
                [{"jr_id": "J1", "day": f"{now:%Y-%m-%d}", "infno": "3101", "rule_id": "A01", "sev_deg": 1,
                  "vola_amt": 25.5, "fixmedins_code": ORG}], [],
                {"fixmedins_code": ORG, "msgid": "M1", "fingerprint": fingerprint, "infno": "3101",
                 "received_at": now, "http_status": 200, "body": {"infcode": 0}})

        store.record(rec("f1"))
        store.record(rec("f1"))
        store._write([rec("f1"), rec("f1")])  # both in one batch: the second finds the first's key
        with store.engine.connect() as con:
            statuses = list(con.execute(select(Call.status).order_by(Call.received_at, Call.status)).scalars())
            assert sorted(statuses) == ["analysed", "resent", "resent", "resent"]
            assert list(con.execute(select(Result.jr_id)).scalars()) == ["J1"]
        assert store.stored_reply(ORG, "M1").body == {"infcode": 0}
        assert store.stored_reply("H43079900002", "M1") is None
    finally:
        store.close()


def test_an_existing_store_gains_the_reply_table_and_keeps_its_rows(tmp_path, make_service):
    # a call log written before resends were recognised: every table but rt_reply
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    old_tables = [t for t in Base.metadata.sorted_tables if t.name != "rt_reply"]
    Base.metadata.create_all(engine, tables=old_tables)
    now = dt.datetime.now()
    with engine.begin() as con:
        con.execute(insert(Call).values(id="old", received_at=now, day=f"{now:%Y-%m-%d}", infno="3101",
                                        status="analysed", request_digest="d" * 64, flags=0, vola_amt=0, infcode=0,
                                        duration_ms=1))
    engine.dispose()
    service = make_service(auth=False, db_url=url)
    raw = body(_flagged())
    service.handle(raw, {})
    assert NOTE in service.handle(raw, {}).body["warn_msg"]
    calls, _, _ = _log(service)
    assert calls == [("3101", "analysed"), ("3101", "analysed"), ("3101", "resent")]
    assert service.store.stats("institution")[-1]["calls"] == 1


def test_a_reply_key_is_not_cut_to_the_msgid_column(make_service):
    # two long msgids sharing their first 64 characters are two messages
    service = make_service(auth=False)
    a, b = _flagged(), _flagged()
    a["msgid"], b["msgid"] = "M" * 70 + "1", "M" * 70 + "2"
    encounter(b)["fsi_order_dtos"][0]["rx_id"] = "6100"
    assert service.handle(body(a), {}).status == service.handle(body(b), {}).status == 200
    assert _log(service)[0] == [("3101", "analysed"), ("3101", "analysed")]
    with service.store.engine.begin() as con:
        con.execute(update(StoredReply).values(msgid="x"))  # the key is the hash, not this column
    assert NOTE in service.handle(body(a), {}).body["warn_msg"]
