"""A 3101/3102 request as a one-request dataset: contract rows for the patient, encounters, diagnoses,
operations and fee lines (one per order, `feedetl_sn` = `rx_id`), joined with the person's history.

Choices where the wire format and the contract differ (docs/realtime.md):
- an order becomes a fee line at `drord_begn_date` (else admission), its `chrg_type` the charge type
  (else derived from `hilist_type`); a negative quantity is a refund line;
- `gend` 0 → 9; `medins_lv` national hospital grades 01–04 → 1, 05–07 → 2, 08–10 → 3, else 9;
  `drord_dr_profttl` GB/T 8561 231 → 1, 232 → 2, 233 → 3, 234/235 → 4, other codes unknown (no title rule fires);
- an encounter still in hospital (`dscg_date` null or 9999-12-31) ends at `inf_time` (else its latest order);
- fund payment: `hifp_payamt` when positive, else (before settlement) the orders' amounts less own-pay;
- history encounters with the same `mdtrt_id` as the request's are dropped (the request is newer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from fundguard.realtime.envelope import AnalysisRequest, Encounter, Patient

_CHRG_FROM_LIST_TYPE = {"101": "09", "102": "10", "105": "14", "106": "10", "201": "05", "301": "08", "501": "14"}
_CHRG_TYPES = {f"{i:02d}" for i in range(1, 15)}
_MED_TYPE_FROM_MDTRT_TYPE = {"1": "11", "2": "21", "3": "41", "4": "11"}
_PROFTTL = {"231": "1", "232": "2", "233": "3", "234": "4", "235": "4"}
CENT = Decimal("0.01")
ZERO = Decimal(0)


def medins_level(code: str | None) -> str:
    if code in ("1", "2", "3", "9"):
        return code
    if code and code.isdigit():
        n = int(code)
        if 1 <= n <= 4:
            return "1"
        if 5 <= n <= 7:
            return "2"
        if 8 <= n <= 10:
            return "3"
    return "9"


@dataclass
class RequestDataset:
    """The contract rows of one patient of a request, the orders, and which encounter is current."""

    tables: dict[str, list[dict]]
    orders: list[dict]
    current_mdtrt_id: str
    rx_by_sn: dict[str, str]
    psn_no: str


def _end_time(enc: Encounter, inf_time: dt.datetime | None, latest: dt.datetime) -> dt.datetime:
    if enc.dscg_date is not None:
        end = enc.dscg_date
    else:
        end = max(inf_time or latest, latest)
    return max(end, enc.adm_date)


def patient_dataset(req: AnalysisRequest, patient: Patient) -> RequestDataset:
    psn_no = patient.patn_id
    org_code = req.fixmedins_code
    tables: dict[str, list[dict]] = {k: [] for k in ("psn", "fixmedins", "practitioner", "mdtrt", "diag", "oprn", "feedetl", "drug_trac")}
    current = patient.current
    insutype = current.insutype or "310"
    tables["psn"].append(
        {
            "psn_no": psn_no,
            "gend": patient.gend,
            "brdy": patient.brdy,
            "insutype": insutype,
            "insu_admdvs": req.insuplc_admdvs or patient.poolarea or "",
            "death_date": None,
        }
    )
    orgs: dict[str, dict] = {}
    pracs: dict[str, dict] = {}
    orders: list[dict] = []
    rx_by_sn: dict[str, str] = {}
    pre_settlement = bool(req.stages & {"pre"})
    for enc in patient.encounters:
        code = enc.medins_id or org_code or "UNKNOWN"
        orgs.setdefault(
            code,
            {
                "fixmedins_code": code,
                "fixmedins_name": code,
                "fixmedins_type": "1",
                "medins_lv": medins_level(enc.medins_lv),
                "admdvs": req.mdtrtarea_admvs or "",
                "public_flag": True,
            },
        )
        med_type = enc.med_type or _MED_TYPE_FROM_MDTRT_TYPE.get(enc.med_mdtrt_type or "", "11")
        lines = []
        if enc.fee_lines is not None:
            for f in enc.fee_lines:
                lines.append(
                    {
                        "feedetl_sn": f.feedetl_sn,
                        "fee_ocur_time": f.fee_time or enc.adm_date,
                        "hilist_code": f.hilist_code,
                        "medins_list_codg": f.hilist_code,
                        "med_chrgitm_type": f.chrg_type if f.chrg_type in _CHRG_TYPES else "14",
                        "cnt": f.cnt,
                        "pric": f.pric,
                        "det_item_fee_sumamt": f.sumamt.quantize(CENT, ROUND_HALF_UP),
                        "bilg_dept_codg": f.dept_codg or enc.adm_dept_codg or "",
                        "bilg_dr_codg": f.dr_codg or enc.dr_codg or "",
                        "prd_days": f.prd_days,
                        "refd_flag": f.refd_flag or f.cnt < 0,
                        "orig_feedetl_sn": f.orig_feedetl_sn,
                        "hosp_appr_flag": f.hosp_appr_flag,
                    }
                )
                if f.rx_id:
                    rx_by_sn[f.feedetl_sn] = f.rx_id
                tables["drug_trac"].extend({"feedetl_sn": f.feedetl_sn, "drug_trac_codg": c} for c in f.drug_trac_codg)
        for o in enc.orders:
            orders.append({"rx_id": o.rx_id, "hilist_code": o.hilist_code, "mdtrt_id": enc.mdtrt_id})
            if o.dr_codg and o.dr_codg not in pracs:
                profttl = _PROFTTL.get(o.dr_profttl or "")
                if profttl:
                    pracs[o.dr_codg] = {"prac_psn_code": o.dr_codg, "fixmedins_code": code, "profttl": profttl,
                                        "dept_code": o.dept_codg or ""}
            if enc.fee_lines is not None:
                continue
            chrg = o.chrg_type if o.chrg_type in _CHRG_TYPES else _CHRG_FROM_LIST_TYPE.get(o.hilist_type or "", "14")
            lines.append(
                {
                    "feedetl_sn": o.rx_id,
                    "fee_ocur_time": o.begn_time or enc.adm_date,
                    "hilist_code": o.hilist_code,
                    "medins_list_codg": o.hilist_code,
                    "med_chrgitm_type": chrg,
                    "cnt": o.cnt,
                    "pric": o.pric,
                    "det_item_fee_sumamt": o.sumamt.quantize(CENT, ROUND_HALF_UP),
                    "bilg_dept_codg": o.dept_codg or enc.adm_dept_codg or "",
                    "bilg_dr_codg": o.dr_codg or enc.dr_codg or "",
                    "prd_days": o.prd_days,
                    "refd_flag": o.cnt < 0,
                    "orig_feedetl_sn": None,
                    "hosp_appr_flag": o.hosp_appr_flag,
                }
            )
            rx_by_sn[o.rx_id] = o.rx_id
            tables["drug_trac"].extend({"feedetl_sn": o.rx_id, "drug_trac_codg": c} for c in o.drug_trac_codg)
        for line in lines:
            line["mdtrt_id"] = enc.mdtrt_id
            line["psn_no"] = psn_no
            line["fixmedins_code"] = code
        latest = max([line["fee_ocur_time"] for line in lines] + [enc.adm_date])
        total = sum((line["det_item_fee_sumamt"] for line in lines), ZERO)
        if enc.hifp_payamt is not None and enc.hifp_payamt > 0:
            hifp = enc.hifp_payamt
        elif pre_settlement or enc.hifp_payamt is None:
            ownpay = sum((o.ownpay_amt or ZERO for o in enc.orders), ZERO)
            hifp = max(total - ownpay, ZERO)
        else:
            hifp = ZERO
        acct = enc.acct_payamt or ZERO
        medfee = enc.medfee_sumamt if enc.medfee_sumamt else total
        tables["mdtrt"].append(
            {
                "mdtrt_id": enc.mdtrt_id,
                "setl_id": enc.mdtrt_id,
                "psn_no": psn_no,
                "fixmedins_code": code,
                "med_type": med_type,
                "begntime": enc.adm_date,
                "endtime": _end_time(enc, req.inf_time, latest),
                "dscg_way": None,
                "dept_code": enc.adm_dept_codg or "",
                "atddr_no": enc.dr_codg or "",
                "medfee_sumamt": medfee.quantize(CENT, ROUND_HALF_UP),
                "hifp_pay": hifp.quantize(CENT, ROUND_HALF_UP),
                "acct_pay": acct.quantize(CENT, ROUND_HALF_UP),
                "psn_cash_pay": max(medfee - hifp - acct, ZERO).quantize(CENT, ROUND_HALF_UP),
                "setl_time": _end_time(enc, req.inf_time, latest),
                "insu_admdvs": req.insuplc_admdvs or patient.poolarea or "",
                "drg_code": None,
                "dip_code": None,
            }
        )
        codes = set()
        for i, d in enumerate(sorted(enc.diagnoses, key=lambda d: (not d.maindise_flag, d.srt_no or 999)), start=1):
            codes.add(d.dise_codg)
            tables["diag"].append(
                {"mdtrt_id": enc.mdtrt_id, "diag_srt_no": i, "maindiag_flag": i == 1 and d.maindise_flag,
                 "diag_code": d.dise_codg, "diag_name": d.dise_name or d.dise_codg}
            )
        if enc.main_dise_codg and enc.main_dise_codg not in codes:
            tables["diag"].append(
                {"mdtrt_id": enc.mdtrt_id, "diag_srt_no": len(codes) + 1, "maindiag_flag": not codes,
                 "diag_code": enc.main_dise_codg, "diag_name": enc.main_dise_name or enc.main_dise_codg}
            )
        for i, o in enumerate(sorted(enc.operations, key=lambda o: not o.main_oprn_flag), start=1):
            tables["oprn"].append(
                {"mdtrt_id": enc.mdtrt_id, "oprn_srt_no": i, "oprn_oprt_code": o.oprn_code, "oprn_date": o.oprn_date or enc.adm_date}
            )
        tables["feedetl"].extend(lines)
    tables["fixmedins"] = list(orgs.values())
    tables["practitioner"] = list(pracs.values())
    return RequestDataset(tables, orders, current.mdtrt_id, rx_by_sn, psn_no)


#: prefix of the history store's fee line ids in a request's dataset: keeps them apart from the request's
#: `rx_id`s, and sorts before any ordinary id (`!` is the lowest printable character but the space), so
#: at equal `fee_ocur_time` a settled line counts as the earlier one in every rule (Python twins and SQL)
HISTORY_SN_PREFIX = "!h:"


def merge_history(ds: RequestDataset, history: dict[str, list[dict]] | None) -> dict[str, list[dict]]:
    """The request's rows plus the person's history (other encounters only; history line ids prefixed).

    A doctor who ordered in the request is described by the request alone: a stored practitioner record
    would give titles to this patient's doctors and not to another patient's (the store holds, per
    person, the doctors of their past lines), so an unmapped `drord_dr_profttl` stays unknown."""
    if not history:
        return ds.tables
    own = {m["mdtrt_id"] for m in ds.tables["mdtrt"]}
    tables = {k: list(v) for k, v in ds.tables.items()}
    orgs = {o["fixmedins_code"] for o in tables["fixmedins"]}
    for m in history.get("mdtrt", ()):
        if m["mdtrt_id"] not in own:
            tables["mdtrt"].append(m)
    for o in history.get("fixmedins", ()):
        if o["fixmedins_code"] not in orgs:
            tables["fixmedins"].append(o)
            orgs.add(o["fixmedins_code"])
    pracs = {p["prac_psn_code"] for p in tables["practitioner"]} | {f["bilg_dr_codg"] for f in ds.tables["feedetl"]}
    for p in history.get("practitioner", ()):
        if p["prac_psn_code"] not in pracs:
            tables["practitioner"].append(p)
    for d in history.get("diag", ()):
        if d["mdtrt_id"] not in own:
            tables["diag"].append(d)
    for f in history.get("feedetl", ()):
        if f["mdtrt_id"] not in own:
            line = dict(f)
            line["feedetl_sn"] = HISTORY_SN_PREFIX + f["feedetl_sn"]
            if f.get("orig_feedetl_sn"):
                line["orig_feedetl_sn"] = HISTORY_SN_PREFIX + f["orig_feedetl_sn"]
            line["psn_no"] = ds.psn_no
            tables["feedetl"].append(line)
    for m in tables["mdtrt"]:
        m["psn_no"] = ds.psn_no
    stored = history.get("psn") or []
    if stored and stored[0].get("death_date") is not None:
        tables["psn"] = [dict(tables["psn"][0], death_date=stored[0]["death_date"])]
    return tables
