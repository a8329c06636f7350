"""3101/3102/3103 through the service: realistic payloads of every trigger scene, expected results,
stable jr_id, feedback stored, call log."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from fundguard.realtime.store import Call, Feedback, Result

from .payloads import FEMALE_ONLY_DRUG, PLAIN_SERVICE, body, feedback, msgid, order, request

DRUG = {"hilist_type": "101", "chrg_type": "11", "pric": 25.5}


def _results(reply) -> list[dict]:
    assert reply.status == 200, reply.body
    assert reply.body["infcode"] == 0, reply.body["err_msg"]
    assert isinstance(reply.body["output"]["result"], list)
    return reply.body["output"]["result"]


@pytest.mark.parametrize("scene", [str(s) for s in range(1, 11)])
def test_every_scene_flags_female_only_drug_for_male(service, scene):
    infno = "3101" if int(scene) <= 5 else "3102"
    med_type = "21" if scene in ("3", "4", "5", "8", "9") else "11"
    payload = request(infno, scene=scene, gend="1", med_type=med_type,
                      orders=[order("RX-OK", PLAIN_SERVICE), order("RX-BAD", FEMALE_ONLY_DRUG, **DRUG)])
    results = _results(service.handle(body(payload), {}))
    a01 = [r for r in results if r["rule_id"] == "A01"]
    assert len(a01) == 1, results
    r = a01[0]
    assert r["rule_name"] == "限性别项目"
    assert "艾附暖宫丸" in r["vola_cont"] and "限女性" in r["vola_cont"]
    assert r["vola_amt"] == 25.5 and r["vola_amt_stas"] == "1"
    assert r["sev_deg"] == "1" and r["vola_bhvr_type"] == "1"
    assert "医疗保障基金使用监督管理条例" in r["vola_evid"]
    assert r["patn_id"] == "1058158" and r["mdtrt_id"] == "2001668" and r["task_id"] == "T1"
    assert [(d["rx_id"], d["vola_item_type"], d["vola_amt"]) for d in r["judge_result_detail_dtos"]] == [("RX-BAD", "1", 25.5)]


def test_compliant_order_gives_empty_result(service):
    payload = request(gend="2", orders=[order("6099", FEMALE_ONLY_DRUG, **DRUG)])
    assert _results(service.handle(body(payload), {})) == []


def test_jr_id_stable_on_resend_and_feedback_stored(service):
    payload = request(gend="1", orders=[order("6099", FEMALE_ONLY_DRUG, **DRUG)])
    first = _results(service.handle(body(payload), {}))
    payload["msgid"] = "H43079900001202506141427240002"
    payload["inf_time"] = "2025-06-14 14:27:30"
    again = _results(service.handle(body(payload), {}))
    assert [r["jr_id"] for r in first] == [r["jr_id"] for r in again]
    jr_id = first[0]["jr_id"]
    reply = service.handle(body(feedback([jr_id], way="1", reason="患者确为女性，登记错误")), {})
    assert reply.status == 200 and reply.body["infcode"] == 0 and reply.body["output"] == {}
    service.store.flush()
    with service.store.engine.connect() as con:
        fb = con.execute(select(Feedback)).mappings().all()
        assert [(f["warn_rslt_id"], f["dspo_way"], f["dspo_way_rea"], f["rule_id"], f["dr_codg"]) for f in fb] == [
            (jr_id, "1", "患者确为女性，登记错误", "A01", "D01")]
        calls = con.execute(select(Call).order_by(Call.received_at)).mappings().all()
        assert [(c["infno"], c["status"], c["flags"]) for c in calls] == [("3101", "analysed", 1), ("3101", "analysed", 1), ("3103", "feedback", 0)]
        assert calls[0]["trig_scen"] == "2" and "A01" in calls[0]["rules_run"] and calls[0]["rules_fired"] == "A01"
        assert calls[0]["patn_hash"] and calls[0]["patn_hash"] != "1058158"
        assert len(calls[0]["request_digest"]) == 64
        assert con.execute(select(Result.jr_id)).scalars().all() == [jr_id, jr_id]
    stats = {r["rule"]: r for r in service.store.stats("rule")}
    assert stats["A01"]["reminders"] == 2 and stats["A01"]["violations"] == 2 and stats["A01"]["continued"] == 1


def test_feedback_modify(service):
    reply = service.handle(body(feedback(["unknown-jr"], way="2", reason=None, warn_type="2")), {})
    assert reply.body["infcode"] == 0
    service.store.flush()
    by_inst = service.store.stats("institution")
    assert by_inst[0]["modified"] == 1 and by_inst[0]["feedback"] == 1


def test_rule_ids_restrict(service):
    payload = request(gend="1", orders=[order("6099", FEMALE_ONLY_DRUG, **DRUG)])
    payload["input"]["data"]["rule_ids"] = ["B01"]
    assert _results(service.handle(body(payload), {})) == []
    payload["input"]["data"]["rule_ids"] = "A01,B01"
    payload["msgid"] = msgid()
    assert [r["rule_id"] for r in _results(service.handle(body(payload), {}))] == ["A01"]
    # ids that are not FundGuard rules (some clients send ["3101"]) do not restrict
    payload["input"]["data"]["rule_ids"] = ["3101"]
    payload["msgid"] = msgid()
    assert [r["rule_id"] for r in _results(service.handle(body(payload), {}))] == ["A01"]


def test_in_only_rule_runs_at_3102_not_3101(service, knowledge):
    # A06 (超医疗机构等级) has scenes in/post: a 3102 checks it, a 3101 does not
    code = next(r["hilist_code"] for r in knowledge.tables["kb_item_medins_lv"]
                if r["max_medins_lv"] == "1" and not r["hilist_code"].endswith("*"))
    orders = [order("R1", code, pric=100.0)]
    pre = _results(service.handle(body(request("3101", scene="2", orders=orders, medins_lv="08")), {}))
    mid = _results(service.handle(body(request("3102", scene="6", orders=orders, medins_lv="08")), {}))
    assert "A06" not in {r["rule_id"] for r in pre}
    assert "A06" in {r["rule_id"] for r in mid}


def test_involved_lines_are_type_2(service, knowledge):
    # B04 互斥项目: the cheaper side is flagged (type 1), the other side is involved (type 2)
    pair = next(r for r in knowledge.tables["kb_exclusive"]
                if not r["hilist_code_a"].endswith("*") and not r["hilist_code_b"].endswith("*"))
    orders = [order("RA", pair["hilist_code_a"], pric=30.0), order("RB", pair["hilist_code_b"], pric=50.0)]
    results = [r for r in _results(service.handle(body(request("3102", scene="7", orders=orders)), {})) if r["rule_id"] == "B04"]
    assert len(results) == 1
    assert {(d["rx_id"], d["vola_item_type"]) for d in results[0]["judge_result_detail_dtos"]} == {("RA", "1"), ("RB", "2")}


def test_infcode_as_string(make_service):
    svc = make_service(auth=False, infcode_as_string=True)
    reply = svc.handle(body(request(gend="2")), {})
    assert reply.body["infcode"] == "0"
    reply = svc.handle(b"{", {})
    assert reply.body["infcode"] == "-1"


def test_response_is_plain_json(service):
    reply = service.handle(body(request(gend="1", orders=[order("6099", FEMALE_ONLY_DRUG, **DRUG)])), {})
    text = json.dumps(reply.body, ensure_ascii=False)
    assert json.loads(text) == reply.body
    for key in ("inf_refmsgid", "refmsg_time", "respond_time", "err_msg"):
        assert key in reply.body
    assert len(reply.body["refmsg_time"]) == 17


def test_the_patient_pseudonym_is_keyed_per_store(make_service):
    # the call log's patn_hash is an HMAC with the store's own random key: stable within a store, different
    # in another, and not the plain (or publicly salted) SHA-256 that a list of likely ids would reveal
    import hashlib

    def pseudonyms(service) -> list[str]:
        for _ in range(2):
            service.handle(body(request(gend="2", orders=[order("RX-1")])), {})
        service.store.flush()
        with service.store.engine.connect() as con:
            return con.execute(select(Call.patn_hash).order_by(Call.received_at)).scalars().all()

    first, second = make_service(auth=False), make_service(auth=False)
    mine, theirs = pseudonyms(first), pseudonyms(second)
    assert len(set(mine)) == 1 and len(set(theirs)) == 1 and mine[0] != theirs[0]
    patn_id = json.loads(body(request()))["input"]["data"]["patient_dtos"][0]["patn_id"]
    assert mine[0] not in {hashlib.sha256(f"{salt}{patn_id}".encode()).hexdigest()[:16]
                           for salt in ("", "fundguard-rt|", "fundguard|")}
    assert first.store.id_key == make_service(auth=False, db_url=first.store.url).store.id_key  # kept in the store
