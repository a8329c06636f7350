"""Rules that look back, through the service with a history store (and the evaluator with a focus):
history rows count for windows and overlaps, but only findings on the request's encounter are reported."""

from __future__ import annotations

from decimal import Decimal

from fundguard.contract.factories import build_tables, to_arrow, write_dataset
from fundguard.contract.tables import TABLES
from fundguard.engine import load_registry
from fundguard.realtime.evaluator import Evaluator
from fundguard.realtime.frame import Frame
from fundguard.realtime.history import load_history
from fundguard.realtime.knowledge import Knowledge

from .payloads import body, order, request

PATIENT = "1058158"
CURRENT = "2001668"  # the request's encounter (payloads.request), 2025-06-14
DRUG_CODE = "XC10AAA001"
DRUG = {"hilist_type": "101", "chrg_type": "11", "pric": 10.0}
REGISTRY = {r.id: r for r in load_registry()}


def _history(tmp_path, given: dict) -> str:
    given = {"psn": [{"psn_no": PATIENT, "gend": "1", "brdy": "1951-08-27"}], **given}
    for m in given.get("mdtrt", ()):
        m.setdefault("psn_no", PATIENT)
    store = tmp_path / "h.sqlite"
    load_history(write_dataset(build_tables(given), tmp_path / "ds"), store)
    return store


def _results(svc, payload, rule_id: str) -> list[dict]:
    reply = svc.handle(body(payload), {})
    assert reply.status == 200 and reply.body["infcode"] == 0, reply.body
    return [r for r in reply.body["output"]["result"] if r["rule_id"] == rule_id]


def _visits(days: list[str], prefix: str = "V") -> list[dict]:
    return [{"mdtrt_id": f"{prefix}{i}", "med_type": "11", "begntime": f"{d} 09:00:00"} for i, d in enumerate(days, 1)]


# ---- C02: the current supply overlaps a past supply from the history store -----------------------------

def test_c02_overlap_with_past_supply_in_history(tmp_path, make_service):
    store = _history(tmp_path, {
        "mdtrt": [{"mdtrt_id": "OLD1", "fixmedins_code": "H2", "begntime": "2025-06-01 09:00:00"}],
        "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "OLD1", "hilist_code": DRUG_CODE, "med_chrgitm_type": "09",
                     "prd_days": 30, "cnt": 30, "pric": 10, "fee_ocur_time": "2025-06-01 09:30:00"}],
    })
    svc = make_service(auth=False, history_path=store)
    payload = request(orders=[order("RX1", DRUG_CODE, cnt=30, prd_days=30, **DRUG)])
    c02 = _results(svc, payload, "C02")
    # supply 6-01 … 6-30 (end 7-01); the request's 30 days from 6-14 overlap 17 days: 300 × 17/30 = 170
    assert [(r["mdtrt_id"], r["vola_amt"]) for r in c02] == [(CURRENT, 170.0)]
    assert "重叠 17 天" in c02[0]["vola_cont"]
    # the past line is evidence (no order of this request to name); the amount sits on the request's order
    assert [(d["rx_id"], d["vola_item_type"], d["vola_amt"]) for d in c02[0]["judge_result_detail_dtos"]] == [("RX1", "1", 170.0)]


def test_c02_overlap_between_past_supplies_only_is_not_reported(tmp_path, make_service):
    store = _history(tmp_path, {
        "mdtrt": [{"mdtrt_id": "OLD1", "begntime": "2025-03-01 09:00:00"},
                  {"mdtrt_id": "OLD2", "begntime": "2025-03-10 09:00:00"}],
        "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "OLD1", "hilist_code": DRUG_CODE, "med_chrgitm_type": "09",
                     "prd_days": 30, "cnt": 30, "pric": 10, "fee_ocur_time": "2025-03-01 09:30:00"},
                    {"feedetl_sn": "F2", "mdtrt_id": "OLD2", "hilist_code": DRUG_CODE, "med_chrgitm_type": "09",
                     "prd_days": 30, "cnt": 30, "pric": 10, "fee_ocur_time": "2025-03-10 09:30:00"}],
    })
    svc = make_service(auth=False, history_path=store)
    # the request's supply starts long after the past ones end (4-09): nothing about this request
    assert _results(svc, request(orders=[order("RX1", DRUG_CODE, cnt=7, prd_days=7, **DRUG)]), "C02") == []


# ---- D01: 7 past outpatient visits + the current one ---------------------------------------------------

def test_d01_seven_past_visits_and_the_current_one(tmp_path, make_service):
    days = ["2025-05-20", "2025-05-23", "2025-05-27", "2025-05-30", "2025-06-03", "2025-06-07", "2025-06-10"]
    svc = make_service(auth=False, history_path=_history(tmp_path, {"mdtrt": _visits(days)}))
    d01 = _results(svc, request(med_type="11"), "D01")
    assert len(d01) == 1 and d01[0]["vola_amt"] == 0 and d01[0]["vola_amt_stas"] == "2"
    assert "最多 8 次" in d01[0]["vola_cont"] and "2025-05-20" in d01[0]["vola_cont"]


def test_d01_six_past_visits_are_not_enough(tmp_path, make_service):
    days = ["2025-05-23", "2025-05-27", "2025-05-30", "2025-06-03", "2025-06-07", "2025-06-10"]
    svc = make_service(auth=False, history_path=_history(tmp_path, {"mdtrt": _visits(days)}))
    assert _results(svc, request(med_type="11"), "D01") == []


def test_d01_past_window_without_the_current_visit_is_not_reported(tmp_path, make_service):
    # eight visits in January qualify on their own, but the request (6-14) lies in no qualifying window
    days = [f"2025-01-{d:02d}" for d in (2, 5, 8, 11, 14, 17, 20, 23)]
    svc = make_service(auth=False, history_path=_history(tmp_path, {"mdtrt": _visits(days)}))
    assert _results(svc, request(med_type="11"), "D01") == []


def test_d01_current_inpatient_encounter_is_not_an_outpatient_visit(tmp_path, make_service):
    days = ["2025-05-20", "2025-05-23", "2025-05-27", "2025-05-30", "2025-06-03", "2025-06-07", "2025-06-10"]
    svc = make_service(auth=False, history_path=_history(tmp_path, {"mdtrt": _visits(days)}))
    assert _results(svc, request("3102", scene="8", med_type="21"), "D01") == []


# ---- D07 / D03: stays and visits against the history ----------------------------------------------------

def test_d07_current_stay_overlaps_a_past_stay(tmp_path, make_service):
    store = _history(tmp_path, {"mdtrt": [{"mdtrt_id": "S0", "med_type": "21", "fixmedins_code": "H2",
                                           "begntime": "2025-06-01 09:00:00", "endtime": "2025-06-12 10:00:00"}]})
    svc = make_service(auth=False, history_path=store)
    payload = request("3102", scene="8", med_type="21", adm_date="2025-06-10 08:00:00",
                      orders=[order("RX1", when="2025-06-14 14:20:00")])
    d07 = _results(svc, payload, "D07")
    assert [r["mdtrt_id"] for r in d07] == [CURRENT]
    assert "S0（H2，2025-06-01 至 2025-06-12）重叠 2 天" in d07[0]["vola_cont"]


def test_d03_current_outpatient_visit_inside_a_past_stay(tmp_path, make_service):
    store = _history(tmp_path, {"mdtrt": [{"mdtrt_id": "S0", "med_type": "21", "fixmedins_code": "H2",
                                           "begntime": "2025-06-10 09:00:00", "endtime": "2025-06-20 10:00:00"}]})
    svc = make_service(auth=False, history_path=store)
    d03 = _results(svc, request("3102", scene="6", med_type="11", orders=[order("RX1", pric=50.0)]), "D03")
    assert [r["mdtrt_id"] for r in d03] == [CURRENT]
    assert "发生在住院 S0（H2，2025-06-10 至 2025-06-20）期间" in d03[0]["vola_cont"]


# ---- B10 / C08 / B11 / C03: knowledge-driven look-backs, evaluator with a focus ------------------------

def _frame(given: dict, kb: Knowledge, focus: str) -> Frame:
    built = build_tables({k: v for k, v in given.items() if not k.startswith("kb_")})
    typed = {t.name: to_arrow(t.name, built[t.name]).to_pylist() for t in TABLES}
    return Frame.build(typed, kb, focus=frozenset({focus}))


def _flags(rule_id: str, given: dict, focus: str = "CUR") -> list[tuple[str, Decimal]]:
    kb = Knowledge.from_rows({k: v for k, v in given.items() if k.startswith("kb_")})
    rule = REGISTRY[rule_id]
    flags = Evaluator([rule], kb).evaluate(_frame(given, kb, focus), [rule])
    return sorted((f.flag_key, f.vola_amt) for f in flags)


def test_b10_past_use_counts_in_the_cycle_window():
    given = {
        "kb_item_cycle": [{"hilist_code": "220800001", "max_cnt": 1, "cycle_days": 180}],
        "mdtrt": [{"mdtrt_id": "OLD", "fixmedins_code": "H2", "begntime": "2025-01-10 09:00:00"},
                  {"mdtrt_id": "CUR", "begntime": "2025-04-10 09:00:00"}],
        "feedetl": [{"feedetl_sn": "h:F1", "mdtrt_id": "OLD", "hilist_code": "220800001", "cnt": 1, "pric": 300},
                    {"feedetl_sn": "F2", "mdtrt_id": "CUR", "hilist_code": "220800001", "cnt": 1, "pric": 320}],
    }
    assert _flags("B10", given) == [("F2", Decimal("320.00"))]
    # the same data seen from the past encounter: its line is within the limit, the later one is not its finding
    assert _flags("B10", given, focus="OLD") == []


def test_c08_course_started_in_history():
    given = {
        "kb_item_course": [{"hilist_code": "XJ05AB*", "max_days": 14}],
        "mdtrt": [{"mdtrt_id": "OLD", "begntime": "2025-03-01 09:00:00"},
                  {"mdtrt_id": "CUR", "begntime": "2025-03-11 09:00:00"}],
        "feedetl": [{"feedetl_sn": "h:F1", "mdtrt_id": "OLD", "hilist_code": "XJ05ABA001", "med_chrgitm_type": "09",
                     "prd_days": 10, "cnt": 10, "pric": 10},
                    {"feedetl_sn": "F2", "mdtrt_id": "CUR", "hilist_code": "XJ05ABA002", "med_chrgitm_type": "09",
                     "prd_days": 10, "cnt": 5, "pric": 30}],
    }
    # course 3-01 … 3-14; the request's supply 3-11 … 3-20 has 6 days beyond: 150 × 6/10
    assert _flags("C08", given) == [("F2", Decimal("90.00"))]


def test_b11_previous_use_in_history_sets_the_interval():
    given = {
        "kb_item_course": [{"hilist_code": "340200002", "max_days": 90, "min_interval_days": 7}],
        "mdtrt": [{"mdtrt_id": "OLD", "begntime": "2025-03-01 08:00:00"},
                  {"mdtrt_id": "CUR", "begntime": "2025-03-07 08:00:00"}],
        "feedetl": [{"feedetl_sn": "h:F1", "mdtrt_id": "OLD", "hilist_code": "340200002", "cnt": 1, "pric": 80},
                    {"feedetl_sn": "F2", "mdtrt_id": "CUR", "hilist_code": "340200002", "cnt": 1, "pric": 80}],
    }
    assert _flags("B11", given) == [("F2", Decimal("80.00"))]


def test_c03_three_past_days_and_the_current_one():
    days = ["2025-03-01", "2025-03-08", "2025-03-15"]
    given = {
        "mdtrt": [{"mdtrt_id": f"OLD{i}", "begntime": f"{d} 09:00:00"} for i, d in enumerate(days)]
        + [{"mdtrt_id": "CUR", "begntime": "2025-03-22 09:00:00"}],
        "feedetl": [{"feedetl_sn": f"h:F{i}", "mdtrt_id": f"OLD{i}", "hilist_code": "XN02BEA001", "med_chrgitm_type": "09",
                     "prd_days": 3, "cnt": 1, "pric": 12} for i in range(3)]
        + [{"feedetl_sn": "F9", "mdtrt_id": "CUR", "hilist_code": "XN02BEA001", "med_chrgitm_type": "09",
            "prd_days": 3, "cnt": 1, "pric": 12}],
    }
    assert _flags("C03", given) == [("P1|XN02BEA001", Decimal("0.00"))]
    # without the current prescription the three past days are not enough
    given["feedetl"] = given["feedetl"][:3]
    assert _flags("C03", given) == []


def test_finding_keyed_on_a_past_encounter_names_the_current_one(tmp_path, make_service):
    # settling a stay (10th–15th): a past outpatient visit (D03) and a past stay (D07) fall inside it. Both
    # findings are keyed on the past encounter (as in the batch audit), but the HIS only knows its own
    # encounter: the reply names the current encounter, the message names the past one
    payload = request("3102", scene="8", med_type="21", adm_date="2025-06-10 08:00:00",
                      dscg_date="2025-06-15 10:00:00", orders=[order("RX1", when="2025-06-14 14:20:00")])
    visit = {"mdtrt_id": "V1", "med_type": "11", "fixmedins_code": "H2",
             "begntime": "2025-06-12 09:00:00", "endtime": "2025-06-12 10:00:00"}
    stay = {"mdtrt_id": "S9", "med_type": "21", "fixmedins_code": "H2",
            "begntime": "2025-06-12 09:00:00", "endtime": "2025-06-13 10:00:00"}
    svc = make_service(auth=False, history_path=_history(tmp_path, {"mdtrt": [visit, stay]}))
    reply = svc.handle(body(payload), {})
    results = {r["rule_id"]: r for r in reply.body["output"]["result"]}
    assert results["D03"]["mdtrt_id"] == CURRENT
    assert "2025-06-12 门诊/购药结算（普通门诊，机构 H2）发生在住院 2001668" in results["D03"]["vola_cont"]
    assert results["D07"]["mdtrt_id"] == CURRENT
    assert "住院 2025-06-12 至 2025-06-13（H2）与更早的住院 2001668" in results["D07"]["vola_cont"]
    # the same finding sent again keeps its jr_id
    again = {r["rule_id"]: r["jr_id"] for r in svc.handle(body(payload), {}).body["output"]["result"]}
    assert again["D03"] == results["D03"]["jr_id"] and again["D07"] == results["D07"]["jr_id"]


# ---- C06 / C07: traceability codes sent with the orders (FundGuard extension drug_trac_codg) -------------

AMOXICILLIN = "XJ01CAA040E001010100001"  # kb_drug_product: trace prefix 8100001 (sample knowledge)
METFORMIN = "XA10BAE046A001010100001"  # trace prefix 8100002
BOX = "81000010000000000001"


def _sold_elsewhere(tmp_path, *, refunded: bool = False) -> str:
    """Another person bought the box at another pharmacy on 6-01 (refunded the same day when asked)."""
    feedetl = [{"feedetl_sn": "F1", "mdtrt_id": "OLD9", "psn_no": "P9", "fixmedins_code": "H2", "hilist_code": AMOXICILLIN,
                "med_chrgitm_type": "09", "prd_days": 7, "cnt": 1, "pric": 10, "fee_ocur_time": "2025-06-01 10:00:00"}]
    if refunded:
        feedetl.append({**feedetl[0], "feedetl_sn": "F1R", "cnt": -1, "refd_flag": True, "orig_feedetl_sn": "F1",
                        "fee_ocur_time": "2025-06-01 11:00:00"})
    return _history(tmp_path, {
        "psn": [{"psn_no": PATIENT, "gend": "1", "brdy": "1951-08-27"}, {"psn_no": "P9"}],
        "mdtrt": [{"mdtrt_id": "OLD9", "psn_no": "P9", "med_type": "41", "fixmedins_code": "H2",
                   "begntime": "2025-06-01 10:00:00"}],
        "feedetl": feedetl,
        "drug_trac": [{"feedetl_sn": "F1", "drug_trac_codg": BOX}],
    })


def _sale(hilist_code: str = AMOXICILLIN, codes=BOX) -> dict:
    return request("3102", scene="6", med_type="11",
                   orders=[order("RX1", hilist_code, cnt=1, **{**DRUG, "drug_trac_codg": codes})])


def test_c06_box_already_sold_to_another_person_is_flagged(tmp_path, make_service):
    svc = make_service(auth=False, history_path=_sold_elsewhere(tmp_path))
    c06 = _results(svc, _sale(), "C06")
    assert [(r["mdtrt_id"], r["vola_amt"]) for r in c06] == [(CURRENT, 10.0)]
    assert f"追溯码 {BOX} 已于 2025-06-01 10:00:00" in c06[0]["vola_cont"]
    assert [(d["rx_id"], d["vola_item_type"]) for d in c06[0]["judge_result_detail_dtos"]] == [("RX1", "1")]


def test_c06_a_refunded_earlier_sale_is_not_a_sale(tmp_path, make_service):
    svc = make_service(auth=False, history_path=_sold_elsewhere(tmp_path, refunded=True))
    assert _results(svc, _sale(), "C06") == []


def test_c06_twice_in_one_request_and_new_boxes(tmp_path, make_service):
    svc = make_service(auth=False, history_path=_sold_elsewhere(tmp_path))
    fresh = "81000010000000000002"
    assert _results(svc, _sale(codes=[fresh]), "C06") == []  # a box nobody bought before
    twice = request("3102", scene="6", med_type="11", orders=[
        order("RX1", AMOXICILLIN, cnt=1, **{**DRUG, "drug_trac_codg": fresh}),
        order("RX2", AMOXICILLIN, cnt=1, when="2025-06-14 14:25:00", **{**DRUG, "drug_trac_codg": f" {fresh} ,"}),
    ])
    c06 = _results(svc, twice, "C06")
    # the later order is the finding (its amount); the first sale is named beside it
    assert [(r["vola_amt"], {d["rx_id"]: d["vola_amt"] for d in r["judge_result_detail_dtos"]}) for r in c06] == [
        (10.0, {"RX1": 0.0, "RX2": 10.0})]
    assert "由明细 RX1 销售结算" in c06[0]["vola_cont"]


def test_c07_code_of_another_product_from_the_request_alone(service):
    # no history store needed: the code's product comes from the knowledge edition
    c07 = _results(service, _sale(METFORMIN), "C07")
    assert [(r["mdtrt_id"], r["vola_amt"]) for r in c07] == [(CURRENT, 10.0)]
    assert f"追溯码 {BOX} 对应的药品为 阿莫西林胶囊（{AMOXICILLIN}）" in c07[0]["vola_cont"]
    assert _results(service, _sale(AMOXICILLIN), "C07") == []


def test_trace_codes_of_a_wrong_type_are_named(service):
    payload = _sale(codes={"code": BOX})
    reply = service.handle(body(payload), {})
    assert reply.body["infcode"] == -1 and "fsi_order_dtos[0].drug_trac_codg" in reply.body["err_msg"], reply.body


# ---- ties and titles between the request and the history store ------------------------------------------

HBA1C = "002503020030000"  # kb_item_cycle: once per 15 days


def test_a_settled_line_at_the_same_time_counts_as_the_earlier_one(tmp_path, make_service):
    when = "2025-06-14 14:20:00"
    store = _history(tmp_path, {
        "mdtrt": [{"mdtrt_id": "OLD1", "fixmedins_code": "H2", "begntime": "2025-06-14 08:00:00"}],
        "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "OLD1", "hilist_code": HBA1C, "cnt": 1, "pric": 23.01,
                     "fee_ocur_time": when}],
    })
    svc = make_service(auth=False, history_path=store)
    b10 = _results(svc, request("3102", scene="6", orders=[order("RX1", HBA1C, pric=23.01, when=when)]), "B10")
    assert [(r["vola_amt"], [d["rx_id"] for d in r["judge_result_detail_dtos"]]) for r in b10] == [(23.01, ["RX1"])]


TITLED_ITEM = "001102000020100"  # kb_item_title: chief physicians only


def test_the_request_alone_gives_its_doctors_titles(tmp_path, make_service):
    # the store knows D01 as a junior doctor (from this patient's past line); the request's title decides
    store = _history(tmp_path, {
        "practitioner": [{"prac_psn_code": "D01", "fixmedins_code": "H2", "profttl": "4"}],
        "mdtrt": [{"mdtrt_id": "OLD1", "fixmedins_code": "H2", "begntime": "2025-05-01 08:00:00"}],
        "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "OLD1", "bilg_dr_codg": "D01"}],
    })
    svc = make_service(auth=False, history_path=store)
    def a09(profttl):
        return _results(svc, request(orders=[order("RX1", TITLED_ITEM, pric=50.0, drord_dr_profttl=profttl)]), "A09")
    assert a09("5") == [] and a09(None) == []  # not a GB/T 8561 code: the title is unknown, as documented
    assert [r["vola_amt"] for r in a09("234")] == [50.0]  # 234 (医师) is below 主任医师
    assert a09("231") == []
