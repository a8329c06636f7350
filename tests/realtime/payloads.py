"""Realistic national 3101/3102/3103 payloads (shape of real HIS clients, names replaced)."""

from __future__ import annotations

import copy
import itertools
import json
import uuid

from fundguard.realtime.auth import signed_headers

ORG = "H43079900001"
FEMALE_ONLY_DRUG = "ZD03AAA0043010100166"  # 艾附暖宫丸: national batch 1, 限定性别对象 (female)
PLAIN_SERVICE = "001102000010000"

#: every message a HIS sends has its own msgid (a resend keeps it: see test_resend.py)
_SEQ = itertools.count(1)


def msgid(fixmedins_code: str = ORG) -> str:
    """A fresh msgid in the national shape: institution code, then a date and a serial."""
    return f"{fixmedins_code}20250614{next(_SEQ):010d}"


def order(rx_id: str, hilist_code: str = PLAIN_SERVICE, *, cnt=1, pric=10.0, when="2025-06-14 14:20:00", **extra) -> dict:
    o = {
        "rx_id": rx_id, "rxno": f"RX{rx_id}", "grpno": "1", "long_drord_flag": 0, "hilist_type": "201",
        "chrg_type": "05", "drord_bhvr": 0, "hilist_code": hilist_code, "hilist_name": hilist_code,
        "hilist_lv": "2", "hosplist_code": hilist_code, "hosplist_name": hilist_code, "cnt": cnt, "pric": pric,
        "sumamt": round(cnt * pric, 2), "selfpay_amt": 0, "ownpay_amt": 0, "spec": "", "spec_unt": "次",
        "drord_begn_date": when, "drord_stop_date": None, "drord_dept_codg": "A03", "drord_dept_name": "内科",
        "drord_dr_codg": "D01", "drord_dr_name": "医生乙", "drord_dr_profttl": "233", "curr_drord_flag": 1,
        "order_id": 30119950, "TarItemID": 6099,
    }
    o.update(extra)
    return o


def request(infno: str = "3101", *, scene: str = "2", gend: str = "1", brdy: str = "1980-08-27",
            orders: list[dict] | None = None, med_type: str = "11", patn_id: str = "1058158",
            mdtrt_id: str = "2001668", adm_date: str = "2025-06-14 14:00:00", dscg_date=None,
            diagnoses: list[dict] | None = None, fixmedins_code: str = ORG, **encounter_extra) -> dict:
    enc = {
        "mdtrt_id": mdtrt_id, "medins_id": fixmedins_code, "medins_name": "某市第二人民医院", "medins_admdvs": "430796",
        "medins_type": "A", "medins_lv": "05", "wardarea_codg": "100130", "wardno": "", "bedno": "10床",
        "setl_date": None, "adm_date": adm_date, "dscg_date": dscg_date, "dscg_main_dise_codg": "K29.700",
        "dscg_main_dise_name": "胃炎", "dr_codg": "D01", "dr_name": "医生乙", "adm_dept_codg": "A03",
        "adm_dept_name": "内科", "dscg_dept_codg": "", "dscg_dept_name": "",
        "med_mdtrt_type": "2" if med_type in ("21", "52") else "1", "med_type": med_type, "matn_stas": "0",
        "medfee_sumamt": 0, "ownpay_amt": 0, "selfpay_amt": 0, "acct_payamt": 0, "ma_amt": 0, "hifp_payamt": 0,
        "setl_totlnum": 1, "insutype": "390", "reim_flag": 0, "out_setl_flag": 0, "dise_no": "", "his_md_cnt": "",
        "fsi_diagnose_dtos": diagnoses if diagnoses is not None else [
            {"dise_id": 7395, "inout_dise_type": "1", "maindise_flag": 1, "dias_srt_no": 1, "dise_codg": "K29.700",
             "dise_name": "胃炎", "dise_date": adm_date}],
        "fsi_operation_dtos": [],
        "fsi_order_dtos": orders if orders is not None else [order("6099")],
    }
    enc.update(encounter_extra)
    return {
        "infno": infno, "msgid": msgid(fixmedins_code), "mdtrtarea_admvs": "430799",
        "insuplc_admdvs": "430796", "recer_sys_code": "IMS", "dev_no": "", "dev_safe_info": "", "cainfo": "",
        "signtype": "", "infver": "V1.0", "sign_no": "", "opter_type": "1", "opter": "医生01", "opter_name": "医生01",
        "inf_time": "2025-06-14 14:27:24", "fixmedins_code": fixmedins_code, "fixmedins_name": "某市第二人民医院",
        "mode": "1",
        "input": {"data": {
            "rule_ids": [], "trig_scen": scene, "syscode": "IMS", "task_id": "T1",
            "patient_dtos": [{
                "patn_id": patn_id, "patn_name": "患者甲", "gend": gend, "brdy": brdy, "poolarea": "430796",
                "curr_mdtrt_id": mdtrt_id, "fsi_encounter_dtos": [enc], "fsi_his_data_dto": "",
            }],
        }},
    }


def feedback(jr_ids: list[str], *, way: str = "1", reason: str | None = "临床需要", warn_type: str = "1",
             fixmedins_code: str = ORG) -> dict:
    return {
        "infno": "3103", "msgid": msgid(fixmedins_code), "fixmedins_code": fixmedins_code,
        "inf_time": "2025-06-14 14:28:00", "infver": "V1.0", "opter_type": "1", "opter": "医生01",
        "input": {"data": {"warn_type": warn_type, "warns": [
            {"warn_rslt_id": j, "dspo_way": way, "dspo_way_rea": reason} for j in jr_ids]}},
    }


def body(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def signed(paasid: str, secret: str) -> dict[str, str]:
    return signed_headers(paasid, secret, nonce=uuid.uuid4().hex)


def deep(payload: dict) -> dict:
    return copy.deepcopy(payload)


def encounter(payload: dict) -> dict:
    return payload["input"]["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]
