"""What real clients send is accepted; what cannot be understood gets infcode -1 naming the JSON path,
never a stack trace, and nothing is recorded as an analysis."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from fundguard.realtime.store import Call

from .payloads import FEMALE_ONLY_DRUG, body, deep, encounter, msgid, order, request

DRUG = {"hilist_type": "101", "chrg_type": "11", "pric": 25.5}


def _bad_male() -> dict:
    return request(gend="1", orders=[order("6099", FEMALE_ONLY_DRUG, **DRUG)])


def _rule_ids(service, payload: dict) -> list[str]:
    if isinstance(payload, dict):
        payload["msgid"] = msgid()  # an edited payload is a new message (a resend keeps its content)
    reply = service.handle(body(payload) if isinstance(payload, dict) else payload, {})
    assert reply.status == 200 and reply.body["infcode"] == 0, reply.body["err_msg"]
    return [r["rule_id"] for r in reply.body["output"]["result"]]


def test_ints_as_strings_and_flags_as_ints(service):
    p = _bad_male()
    o = encounter(p)["fsi_order_dtos"][0]
    o.update(cnt="2", pric="12.75", sumamt="25.50", curr_drord_flag=1, long_drord_flag="0")
    encounter(p)["fsi_diagnose_dtos"][0].update(dise_id=7395, maindise_flag=1, dias_srt_no="1")
    p["input"]["data"]["patient_dtos"][0]["gend"] = 1
    assert _rule_ids(service, p) == ["A01"]


def test_empty_lists_as_empty_string_or_null(service):
    p = _bad_male()
    encounter(p)["fsi_operation_dtos"] = ""
    encounter(p)["fsi_diagnose_dtos"] = None
    p["input"]["data"]["rule_ids"] = ""
    assert _rule_ids(service, p) == ["A01"]
    p["input"]["data"]["rule_ids"] = None
    encounter(p)["fsi_order_dtos"] = ""
    assert _rule_ids(service, p) == []


def test_single_object_for_a_list(service):
    p = _bad_male()
    enc = encounter(p)
    enc["fsi_order_dtos"] = enc["fsi_order_dtos"][0]
    enc["fsi_diagnose_dtos"] = enc["fsi_diagnose_dtos"][0]
    patient = p["input"]["data"]["patient_dtos"][0]
    patient["fsi_encounter_dtos"] = enc
    p["input"]["data"]["patient_dtos"] = patient
    assert _rule_ids(service, p) == ["A01"]


def test_camel_case_variants(service):
    p = _bad_male()
    data = p["input"]["data"]
    patient = data.pop("patient_dtos")[0]
    data["patientDtos"] = [patient]
    data["trigScen"] = data.pop("trig_scen")
    data["ruleIds"] = data.pop("rule_ids")
    enc = patient.pop("fsi_encounter_dtos")[0]
    patient["encounterDtos"] = [enc]
    patient["currMdtrtId"] = patient.pop("curr_mdtrt_id")
    enc["fsiOrderDtos"] = enc.pop("fsi_order_dtos")
    enc["admDate"] = enc.pop("adm_date")
    enc["fsiOrderDtos"][0]["hilistCode"] = enc["fsiOrderDtos"][0].pop("hilist_code")
    enc["fsiOrderDtos"][0]["rxId"] = enc["fsiOrderDtos"][0].pop("rx_id")
    assert _rule_ids(service, p) == ["A01"]


def test_comma_separated_trig_scen(service, knowledge):
    # scenes 2 (pre) and 7 (in) together run the union: A06 (in only) fires too
    code = next(r["hilist_code"] for r in knowledge.tables["kb_item_medins_lv"]
                if r["max_medins_lv"] == "1" and not r["hilist_code"].endswith("*"))
    p = request(gend="1", medins_lv="08", orders=[order("R1", FEMALE_ONLY_DRUG, **DRUG), order("R2", code)])
    p["input"]["data"]["trig_scen"] = "2"
    assert "A06" not in _rule_ids(service, p)
    p["input"]["data"]["trig_scen"] = "2,7"
    assert {"A01", "A06"} <= set(_rule_ids(service, p))


def test_unknown_fields_ignored(service):
    p = _bad_male()
    p["vendor_ext"] = {"x": [1, 2]}
    encounter(p)["his_md_cnt"] = ""
    encounter(p)["sinc_heal_lv"] = None
    encounter(p)["fsi_order_dtos"][0]["TarItemID"] = 6099
    encounter(p)["fsi_order_dtos"][0]["order_state"] = "A"
    assert _rule_ids(service, p) == ["A01"]


@pytest.mark.parametrize("dscg", [None, "9999-12-31 00:00:00", "", "2025-06-20 10:00:00"])
def test_discharge_null_or_sentinel(service, dscg):
    p = request(gend="1", med_type="21", scene="4", dscg_date=dscg, orders=[order("6099", FEMALE_ONLY_DRUG, **DRUG)])
    assert "A01" in _rule_ids(service, p)


def test_other_time_formats_and_utf8_bom(service):
    p = _bad_male()
    encounter(p)["adm_date"] = "20250614140000"
    encounter(p)["fsi_order_dtos"][0]["drord_begn_date"] = "2025-06-14T14:20:00.123"
    p["inf_time"] = "20250614142724"
    assert _rule_ids(service, b"\xef\xbb\xbf" + body(p)) == ["A01"]


def test_infno_only_in_path(service):
    p = _bad_male()
    del p["infno"]
    reply = service.handle(body(p), {}, path_infno="3101")
    assert reply.body["infcode"] == 0 and reply.body["output"]["result"]


MALFORMED = [
    ("not json", lambda p: b"{not json", "$"),
    ("empty body", lambda p: b"", "$"),
    ("array body", lambda p: b"[1]", "$"),
    ("unknown infno", lambda p: dict(p, infno="9999"), "infno"),
    ("no input", lambda p: {k: v for k, v in p.items() if k != "input"}, "input"),
    ("input.data a number", lambda p: dict(p, input={"data": 5}), "input.data"),
    ("no patients", lambda p: _set(p, ["input", "data", "patient_dtos"], []), "input.data.patient_dtos"),
    ("bad scene", lambda p: _set(p, ["input", "data", "trig_scen"], "23"), "input.data.trig_scen"),
    ("bad gend", lambda p: _set(p, ["input", "data", "patient_dtos", 0, "gend"], "x"), "input.data.patient_dtos[0].gend"),
    ("no brdy", lambda p: _set(p, ["input", "data", "patient_dtos", 0, "brdy"], None), "input.data.patient_dtos[0].brdy"),
    ("bad brdy", lambda p: _set(p, ["input", "data", "patient_dtos", 0, "brdy"], "19510827x"), "input.data.patient_dtos[0].brdy"),
    ("no encounters", lambda p: _set(p, ["input", "data", "patient_dtos", 0, "fsi_encounter_dtos"], ""),
     "input.data.patient_dtos[0].fsi_encounter_dtos"),
    ("curr_mdtrt_id unknown", lambda p: _set(p, ["input", "data", "patient_dtos", 0, "curr_mdtrt_id"], "nope"),
     "input.data.patient_dtos[0].curr_mdtrt_id"),
    ("bad adm_date", lambda p: _enc(p, "adm_date", "2025-13-45"), "input.data.patient_dtos[0].fsi_encounter_dtos[0].adm_date"),
    ("no adm_date", lambda p: _enc(p, "adm_date", None), "input.data.patient_dtos[0].fsi_encounter_dtos[0].adm_date"),
    ("encounter a string", lambda p: _set(p, ["input", "data", "patient_dtos", 0, "fsi_encounter_dtos"], ["abc"]),
     "input.data.patient_dtos[0].fsi_encounter_dtos[0]"),
    ("orders a number", lambda p: _enc(p, "fsi_order_dtos", 7), "input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos"),
    ("bad cnt", lambda p: _order(p, "cnt", "abc"), "input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[0].cnt"),
    ("no rx_id", lambda p: _order(p, "rx_id", None), "input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[0].rx_id"),
    ("no hilist_code", lambda p: _order(p, "hilist_code", ""),
     "input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[0].hilist_code"),
    ("no price", lambda p: _order(_order(p, "pric", None), "sumamt", None),
     "input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[0].pric"),
    ("bad order date", lambda p: _order(p, "drord_begn_date", "yesterday"),
     "input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[0].drord_begn_date"),
    ("duplicate rx_id", lambda p: _enc(p, "fsi_order_dtos", [order("A"), order("A")]),
     "input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[1].rx_id"),
    ("bad dise_codg", lambda p: _enc(p, "fsi_diagnose_dtos", [{"dise_codg": {"a": 1}}]),
     "input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_diagnose_dtos[0].dise_codg"),
    ("bad flag", lambda p: _order(p, "hosp_appr_flag", "maybe"),
     "input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[0].hosp_appr_flag"),
]


def _set(p: dict, path: list, value) -> dict:
    p = deep(p)
    node = p
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return p


def _enc(p: dict, key: str, value) -> dict:
    return _set(p, ["input", "data", "patient_dtos", 0, "fsi_encounter_dtos", 0, key], value)


def _order(p: dict, key: str, value) -> dict:
    return _set(p, ["input", "data", "patient_dtos", 0, "fsi_encounter_dtos", 0, "fsi_order_dtos", 0, key], value)


@pytest.mark.parametrize(("mutate", "path"), [pytest.param(m, path, id=name) for name, m, path in MALFORMED])
def test_malformed_gets_minus_one_with_path(service, mutate, path):
    payload = mutate(_bad_male())
    raw = payload if isinstance(payload, bytes) else body(payload)
    reply = service.handle(raw, {})
    assert reply.status == 200
    assert reply.body["infcode"] == -1
    assert reply.body["err_msg"].startswith(path + ":"), reply.body["err_msg"]
    assert "Traceback" not in reply.body["err_msg"] and reply.body["output"] is None
    with service.store.engine.connect() as con:
        statuses = con.execute(select(Call.status)).scalars().all()
    assert statuses == ["rejected"]


FEEDBACK_MALFORMED = [
    ("no warns", {"warn_type": "1", "warns": []}, "input.data.warns"),
    ("bad dspo_way", {"warn_type": "1", "warns": [{"warn_rslt_id": "x", "dspo_way": "3"}]}, "input.data.warns[0].dspo_way"),
    ("no warn_rslt_id", {"warn_type": "1", "warns": [{"dspo_way": "1"}]}, "input.data.warns[0].warn_rslt_id"),
    ("bad warn_type", {"warn_type": "7", "warns": [{"warn_rslt_id": "x", "dspo_way": "1"}]}, "input.data.warn_type"),
]


@pytest.mark.parametrize(("data", "path"), [pytest.param(d, p, id=n) for n, d, p in FEEDBACK_MALFORMED])
def test_malformed_feedback(service, data, path):
    reply = service.handle(json.dumps({"infno": "3103", "fixmedins_code": "H1", "input": {"data": data}}).encode(), {})
    assert reply.body["infcode"] == -1 and reply.body["err_msg"].startswith(path + ":"), reply.body["err_msg"]


def test_feedback_tolerates_single_warn_object_and_int_way(service):
    raw = {"infno": 3103, "fixmedins_code": "H1", "input": {"data": {"warnType": 1, "warns": {"warnRsltId": "J1", "dspoWay": 2}}}}
    reply = service.handle(json.dumps(raw).encode(), {})
    assert reply.body["infcode"] == 0, reply.body["err_msg"]


def test_internal_error_is_not_a_stack_trace(service, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "_analyse", boom)
    reply = service.handle(body(_bad_male()), {})
    assert reply.status == 500 and reply.body["infcode"] == -1
    assert "secret internals" not in reply.body["err_msg"] and "Traceback" not in reply.body["err_msg"]
