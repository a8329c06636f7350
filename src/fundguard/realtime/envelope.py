"""Tolerant parsing of the national 3101/3102/3103 envelope into typed request objects.

Accepts what real HIS clients send (national-interface.md, Tolerance): numbers as strings and flags as
ints, `""`/`null` for empty lists and dates, a single object where a list is expected, camelCase keys,
comma-separated `trig_scen`, unknown fields (ignored), `null` or `9999-12-31` discharge dates. What cannot
be understood raises `RequestError` naming the JSON path (`input.data.patient_dtos[0]...adm_date`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

INFNOS = ("3101", "3102", "3103")
PRE_SCENES = frozenset(range(1, 6))
IN_SCENES = frozenset(range(6, 11))

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
#: regional spellings of the collections (after camelCase → snake_case)
_ALIASES = {
    "encounter_dtos": "fsi_encounter_dtos",
    "diagnose_dtos": "fsi_diagnose_dtos",
    "order_dtos": "fsi_order_dtos",
    "operation_dtos": "fsi_operation_dtos",
    "feedetl_dtos": "fsi_feedetl_dtos",
    "patient_dto": "patient_dtos",
    "patients": "patient_dtos",
}
_SENTINEL_YEAR = 9999
_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y%m%d%H%M%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d",
    "%Y%m%d",
    "%Y/%m/%d",
)


class RequestError(ValueError):
    """A request that cannot be understood: `path` is the JSON path of the offending value."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


# ---- value helpers ------------------------------------------------------------------------------------


_SNAKE_CACHE: dict[str, str] = {}


def _snake(key: str) -> str:
    out = _SNAKE_CACHE.get(key)
    if out is None:
        out = _CAMEL.sub(r"_\1", key).lower()
        out = _ALIASES.get(out, out)
        if len(_SNAKE_CACHE) < 10_000:
            _SNAKE_CACHE[key] = out
    return out


def _normalise(obj: dict) -> dict:
    """Keys in snake_case with regional aliases resolved; the first spelling of a key wins."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            continue
        out.setdefault(_snake(key), value)
    return out


def _object(value: Any, path: str, *, required: bool = True) -> dict:
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            raise RequestError(path, "应为 JSON 对象, 得到无法解析的字符串") from None
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    if value is None or value == "":
        if required:
            raise RequestError(path, "缺少必填对象")
        return {}
    if not isinstance(value, dict):
        raise RequestError(path, f"应为 JSON 对象, 得到 {type(value).__name__}")
    return _normalise(value)


def _list(value: Any, path: str) -> list[dict]:
    """A list of objects: `null`/`""`/`[]` → [], a single object → [it]."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, dict):
        return [_normalise(value)]
    if isinstance(value, str) and value.strip().startswith(("[", "{")):
        try:
            return _list(json.loads(value), path)
        except ValueError:
            raise RequestError(path, "应为列表, 得到无法解析的字符串") from None
    if not isinstance(value, list):
        raise RequestError(path, f"应为列表, 得到 {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        if item is None or item == "":
            continue
        if not isinstance(item, dict):
            raise RequestError(f"{path}[{i}]", f"应为 JSON 对象, 得到 {type(item).__name__}")
        out.append(_normalise(item))
    return out


def _str(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        text = value.strip()
        return text or None
    raise RequestError(path, f"应为字符串, 得到 {type(value).__name__}")


def _req_str(obj: dict, key: str, path: str) -> str:
    value = _str(obj.get(key), f"{path}.{key}")
    if value is None:
        raise RequestError(f"{path}.{key}", "缺少必填字段")
    return value


def _dec(value: Any, path: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RequestError(path, f"应为数值, 得到 {value!r}")
    try:
        out = Decimal(value.strip().replace(",", "")) if isinstance(value, str) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise RequestError(path, f"应为数值, 得到 {value!r}") from None
    if not out.is_finite():
        raise RequestError(path, f"应为有限数值, 得到 {value!r}")
    if abs(out) >= _MAX_NUMBER:
        # quantities and prices are DECIMAL(16,4) in the data contract; a bound also keeps "1e999999" from
        # turning into a million-digit integer
        raise RequestError(path, f"数值超出范围 (绝对值应小于 10^12), 得到 {_short_text(value)}")
    return out


_MAX_NUMBER = Decimal(10) ** 12
_MAX_INT = 2**31


def _short_text(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _int(value: Any, path: str) -> int | None:
    d = _dec(value, path)
    if d is None:
        return None
    if d != d.to_integral_value():
        raise RequestError(path, f"应为整数, 得到 {_short_text(value)}")
    if abs(d) >= _MAX_INT:
        raise RequestError(path, f"整数超出范围, 得到 {_short_text(value)}")
    return int(d)


def parse_time(value: Any, path: str, *, sentinel_is_none: bool = False) -> dt.datetime | None:
    """A date or time in the formats clients send; `9999-12-31…` → None when `sentinel_is_none`."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not value.is_integer():  # inf, nan, 20250614.5
            raise RequestError(path, f"无法识别的日期时间 {_short_text(value)} (应为 yyyy-MM-dd HH:mm:ss)")
        if not 0 <= value < 10**14:
            raise RequestError(path, f"无法识别的日期时间 {_short_text(value)} (应为 yyyy-MM-dd HH:mm:ss)")
        value = str(int(value))
    if not isinstance(value, str):
        raise RequestError(path, f"应为日期时间字符串, 得到 {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    if len(text) > 19 and text[19] == ".":
        text = text[:19]  # fractional seconds
    if len(text) in (10, 19) and text[4:5] == "-":
        try:
            out = dt.datetime.fromisoformat(text)
        except ValueError:
            out = None
        if out is not None:
            return None if out.year == _SENTINEL_YEAR and sentinel_is_none else out
    for fmt in _TIME_FORMATS:
        try:
            out = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        if out.year == _SENTINEL_YEAR and sentinel_is_none:
            return None
        return out
    raise RequestError(path, f"无法识别的日期时间 {_short_text(value)} (应为 yyyy-MM-dd HH:mm:ss)")


# ---- request objects ----------------------------------------------------------------------------------


@dataclass
class Order:
    rx_id: str
    hilist_code: str
    hilist_name: str | None
    hilist_type: str | None
    chrg_type: str | None
    cnt: Decimal
    pric: Decimal
    sumamt: Decimal
    ownpay_amt: Decimal | None
    begn_time: dt.datetime | None
    dept_codg: str | None
    dr_codg: str | None
    dr_profttl: str | None
    curr_drord_flag: str | None
    rxno: str | None = None
    prd_days: int | None = None
    hosp_appr_flag: bool = False
    #: FundGuard extension: the drug traceability codes (追溯码) scanned for this order
    drug_trac_codg: tuple[str, ...] = ()


@dataclass
class FeeLine:
    """A fee detail line sent beside the orders (FundGuard extension `fsi_feedetl_dtos`)."""

    feedetl_sn: str
    hilist_code: str
    hilist_name: str | None
    chrg_type: str | None
    cnt: Decimal
    pric: Decimal
    sumamt: Decimal
    fee_time: dt.datetime | None
    rx_id: str | None
    dept_codg: str | None
    dr_codg: str | None
    prd_days: int | None = None
    refd_flag: bool = False
    orig_feedetl_sn: str | None = None
    hosp_appr_flag: bool = False
    drug_trac_codg: tuple[str, ...] = ()


@dataclass
class Diagnosis:
    dise_codg: str
    dise_name: str | None
    maindise_flag: bool
    srt_no: int | None


@dataclass
class Operation:
    oprn_code: str
    main_oprn_flag: bool
    oprn_date: dt.datetime | None


@dataclass
class Encounter:
    mdtrt_id: str
    path: str
    medins_id: str | None
    medins_lv: str | None
    adm_date: dt.datetime
    dscg_date: dt.datetime | None
    main_dise_codg: str | None
    main_dise_name: str | None
    dr_codg: str | None
    adm_dept_codg: str | None
    med_mdtrt_type: str | None
    med_type: str | None
    insutype: str | None
    matn_stas: str | None
    medfee_sumamt: Decimal | None
    hifp_payamt: Decimal | None
    acct_payamt: Decimal | None
    diagnoses: list[Diagnosis] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    fee_lines: list[FeeLine] | None = None


@dataclass
class Patient:
    patn_id: str
    gend: str
    brdy: dt.date
    poolarea: str | None
    curr_mdtrt_id: str
    encounters: list[Encounter]
    path: str

    @property
    def current(self) -> Encounter:
        for enc in self.encounters:
            if enc.mdtrt_id == self.curr_mdtrt_id:
                return enc
        raise RequestError(f"{self.path}.curr_mdtrt_id", "不在 fsi_encounter_dtos 中")


@dataclass
class AnalysisRequest:
    """A 3101 or 3102 request."""

    infno: str
    msgid: str | None
    fixmedins_code: str | None
    mdtrtarea_admvs: str | None
    insuplc_admdvs: str | None
    inf_time: dt.datetime | None
    opter: str | None
    scenes: tuple[int, ...]
    rule_ids: tuple[str, ...]
    task_id: str | None
    patients: list[Patient]

    @property
    def stages(self) -> frozenset[str]:
        out = set()
        if any(s in PRE_SCENES for s in self.scenes):
            out.add("pre")
        if any(s in IN_SCENES for s in self.scenes):
            out.add("in")
        return frozenset(out)


@dataclass
class Warn:
    warn_rslt_id: str
    dspo_way: str
    dspo_way_rea: str | None


@dataclass
class FeedbackRequest:
    """A 3103 request: the doctor's reaction to the warnings of a 3101/3102."""

    infno: str
    msgid: str | None
    fixmedins_code: str | None
    warn_type: str | None
    warns: list[Warn]


# ---- parsing ------------------------------------------------------------------------------------------

_GEND = {"1": "1", "2": "2", "0": "9", "9": "9", "男": "1", "女": "2", "未知": "9", "未说明": "9"}
_TRUE = {"1", "true", "y", "yes", "是"}
_FALSE = {"0", "false", "n", "no", "否", "2"}


def _flag(value: Any, path: str) -> bool:
    text = _str(value, path)
    if text is None:
        return False
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise RequestError(path, f"应为标志 1/0, 得到 {value!r}")


def decode_body(body: bytes) -> dict:
    if not body or not body.strip():
        raise RequestError("$", "请求体为空")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = body.decode("gb18030")
        except UnicodeDecodeError:
            raise RequestError("$", "请求体不是 UTF-8 文本") from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise RequestError("$", f"不是合法的 JSON: {exc.args[0] if exc.args else exc}") from None
    except RecursionError:
        raise RequestError("$", "JSON 嵌套层级过深") from None
    if not isinstance(raw, dict):
        raise RequestError("$", "请求体应为 JSON 对象")
    return _normalise(raw)


def envelope_infno(envelope: dict, path_infno: str | None = None) -> str:
    infno = _str(envelope.get("infno"), "infno") or path_infno
    if infno is None:
        raise RequestError("infno", "缺少交易编号")
    if path_infno and infno != path_infno:
        raise RequestError("infno", f"交易编号 {infno} 与路径中的 {path_infno} 不一致")
    if infno not in INFNOS:
        raise RequestError("infno", f"不支持的交易编号 {infno!r} (支持: {', '.join(INFNOS)})")
    return infno


def _data(envelope: dict) -> dict:
    inp = _object(envelope.get("input"), "input")
    return _object(inp.get("data"), "input.data")


def _scenes(value: Any, infno: str, path: str) -> tuple[int, ...]:
    if isinstance(value, list):
        parts = [_str(v, path) for v in value]
    else:
        text = _str(value, path)
        parts = re.split(r"[,，;|\s]+", text) if text else []
    scenes = []
    for part in parts:
        if not part:
            continue
        if not (part.isascii() and part.isdigit()) or not 1 <= int(part) <= 10:
            raise RequestError(path, f"无效的触发场景 {part!r} (应为 1-10, 可用逗号分隔)")
        scenes.append(int(part))
    if not scenes:
        # No scene: the transaction decides (3101 事前, 3102 事中).
        scenes = [2] if infno == "3101" else [7]
    return tuple(sorted(set(scenes)))


def _rule_ids(value: Any, path: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items: list[Any] = re.split(r"[,，;|\s]+", value)
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    out = []
    for i, item in enumerate(items):
        text = _str(item, f"{path}[{i}]")
        if text:
            out.append(text.upper())
    return tuple(out)


def _order(o: dict, path: str) -> Order:
    cnt = _dec(o.get("cnt"), f"{path}.cnt")
    pric = _dec(o.get("pric"), f"{path}.pric")
    sumamt = _dec(o.get("sumamt"), f"{path}.sumamt")
    cnt, pric, sumamt = _amounts(cnt, pric, sumamt, path, "sumamt")
    return Order(
        rx_id=_req_str(o, "rx_id", path),
        hilist_code=_req_str(o, "hilist_code", path),
        hilist_name=_str(o.get("hilist_name"), f"{path}.hilist_name"),
        hilist_type=_str(o.get("hilist_type"), f"{path}.hilist_type"),
        chrg_type=_str(o.get("chrg_type"), f"{path}.chrg_type"),
        cnt=cnt,
        pric=pric,
        sumamt=sumamt,
        ownpay_amt=_dec(o.get("ownpay_amt"), f"{path}.ownpay_amt"),
        begn_time=parse_time(o.get("drord_begn_date"), f"{path}.drord_begn_date"),
        dept_codg=_str(o.get("drord_dept_codg"), f"{path}.drord_dept_codg"),
        dr_codg=_str(o.get("drord_dr_codg"), f"{path}.drord_dr_codg"),
        dr_profttl=_str(o.get("drord_dr_profttl"), f"{path}.drord_dr_profttl"),
        curr_drord_flag=_str(o.get("curr_drord_flag"), f"{path}.curr_drord_flag"),
        rxno=_str(o.get("rxno"), f"{path}.rxno"),
        prd_days=_int(o.get("prd_days"), f"{path}.prd_days"),
        hosp_appr_flag=_flag(o.get("hosp_appr_flag"), f"{path}.hosp_appr_flag"),
        drug_trac_codg=_trace_codes(o.get("drug_trac_codg"), f"{path}.drug_trac_codg"),
    )


def _trace_codes(value: Any, path: str) -> tuple[str, ...]:
    """Traceability codes: a list, or one string of codes separated by commas, semicolons or spaces.
    Their form is not checked here (nor by the data contract): a code no knowledge entry or sale knows
    simply matches nothing."""
    if value is None or value == "" or value == []:
        return ()
    if isinstance(value, str):
        items = re.split(r"[,，;|\s]+", value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    else:
        items = value
    if not isinstance(items, list):
        raise RequestError(path, "应为追溯码列表或逗号分隔的字符串")
    out: list[str] = []
    for i, item in enumerate(items):
        code = _str(item, f"{path}[{i}]")
        if not code:
            continue
        if code not in out:
            out.append(code)
    return tuple(out)


def _amounts(cnt, pric, sumamt, path: str, sum_name: str) -> tuple[Decimal, Decimal, Decimal]:
    if cnt is None:
        cnt = Decimal(1) if pric is None or sumamt is None or pric == 0 else (sumamt / pric)
    if pric is None:
        if sumamt is None:
            raise RequestError(f"{path}.pric", "缺少单价 (pric) 与总费用")
        pric = sumamt / cnt if cnt else Decimal(0)
    if sumamt is None:
        sumamt = cnt * pric
    # what one line may hold in the data contract: quantities and prices DECIMAL(16,4), money DECIMAL(16,2)
    for name, value, bound in (("cnt", cnt, _MAX_NUMBER), ("pric", pric, _MAX_NUMBER), (sum_name, sumamt, _MAX_NUMBER * 100)):
        if abs(value) >= bound:
            raise RequestError(f"{path}.{name}", f"数值超出范围: {_short_text(str(value))}")
    if pric < 0:
        raise RequestError(f"{path}.pric", f"单价不能为负 (退费以负数量表示), 得到 {pric}")
    if abs(cnt * pric - sumamt) > Decimal("0.01"):
        raise RequestError(f"{path}.{sum_name}", f"金额不符: 数量×单价 = {(cnt * pric).quantize(Decimal('0.01'), ROUND_HALF_UP)}, {sum_name} 为 {sumamt}")
    return cnt, pric, sumamt


def _fee_line(f: dict, path: str) -> FeeLine:
    cnt = _dec(f.get("cnt"), f"{path}.cnt")
    pric = _dec(f.get("pric"), f"{path}.pric")
    total = _dec(f.get("det_item_fee_sumamt", f.get("sumamt")), f"{path}.det_item_fee_sumamt")
    cnt, pric, total = _amounts(cnt, pric, total, path, "det_item_fee_sumamt")
    return FeeLine(
        feedetl_sn=_req_str(f, "feedetl_sn", path),
        hilist_code=_req_str(f, "hilist_code", path),
        hilist_name=_str(f.get("hilist_name"), f"{path}.hilist_name"),
        chrg_type=_str(f.get("med_chrgitm_type", f.get("chrg_type")), f"{path}.med_chrgitm_type"),
        cnt=cnt,
        pric=pric,
        sumamt=total,
        fee_time=parse_time(f.get("fee_ocur_time"), f"{path}.fee_ocur_time"),
        rx_id=_str(f.get("rx_id"), f"{path}.rx_id"),
        dept_codg=_str(f.get("bilg_dept_codg"), f"{path}.bilg_dept_codg"),
        dr_codg=_str(f.get("bilg_dr_codg"), f"{path}.bilg_dr_codg"),
        prd_days=_int(f.get("prd_days"), f"{path}.prd_days"),
        refd_flag=_flag(f.get("refd_flag"), f"{path}.refd_flag"),
        orig_feedetl_sn=_str(f.get("orig_feedetl_sn"), f"{path}.orig_feedetl_sn"),
        hosp_appr_flag=_flag(f.get("hosp_appr_flag"), f"{path}.hosp_appr_flag"),
        drug_trac_codg=_trace_codes(f.get("drug_trac_codg"), f"{path}.drug_trac_codg"),
    )


def _encounter(e: dict, path: str) -> Encounter:
    adm = parse_time(e.get("adm_date"), f"{path}.adm_date")
    if adm is None:
        raise RequestError(f"{path}.adm_date", "缺少必填字段")
    diagnoses = []
    dpath = f"{path}.fsi_diagnose_dtos"
    for i, d in enumerate(_list(e.get("fsi_diagnose_dtos"), dpath)):
        p = f"{dpath}[{i}]"
        diagnoses.append(
            Diagnosis(
                dise_codg=_req_str(d, "dise_codg", p),
                dise_name=_str(d.get("dise_name"), f"{p}.dise_name"),
                maindise_flag=_flag(d.get("maindise_flag"), f"{p}.maindise_flag"),
                srt_no=_int(d.get("dias_srt_no"), f"{p}.dias_srt_no"),
            )
        )
    opath = f"{path}.fsi_order_dtos"
    if "fsi_order_dtos" not in e:
        # required by the national format: a request without it (or with a misspelt key) would otherwise be
        # answered "no finding" without anything having been checked; [] / "" / null mean "no orders"
        raise RequestError(opath, "缺少必填字段 (无医嘱时传 [])")
    orders = [_order(o, f"{opath}[{i}]") for i, o in enumerate(_list(e.get("fsi_order_dtos"), opath))]
    seen: dict[str, int] = {}
    for i, o in enumerate(orders):
        if o.rx_id in seen:
            raise RequestError(f"{opath}[{i}].rx_id", f"处方(医嘱)标识 {o.rx_id} 与第 {seen[o.rx_id]} 条重复")
        seen[o.rx_id] = i
    ppath = f"{path}.fsi_operation_dtos"
    operations = []
    for i, o in enumerate(_list(e.get("fsi_operation_dtos"), ppath)):
        p = f"{ppath}[{i}]"
        code = _str(o.get("oprn_code"), f"{p}.oprn_code")
        if code:
            operations.append(
                Operation(code, _flag(o.get("main_oprn_flag"), f"{p}.main_oprn_flag"), parse_time(o.get("oprn_date"), f"{p}.oprn_date"))
            )
    fee_lines = None
    if "fsi_feedetl_dtos" in e:
        fpath = f"{path}.fsi_feedetl_dtos"
        fee_lines = [_fee_line(f, f"{fpath}[{i}]") for i, f in enumerate(_list(e.get("fsi_feedetl_dtos"), fpath))]
    return Encounter(
        mdtrt_id=_req_str(e, "mdtrt_id", path),
        path=path,
        medins_id=_str(e.get("medins_id"), f"{path}.medins_id"),
        medins_lv=_str(e.get("medins_lv"), f"{path}.medins_lv"),
        adm_date=adm,
        dscg_date=parse_time(e.get("dscg_date"), f"{path}.dscg_date", sentinel_is_none=True),
        main_dise_codg=_str(e.get("dscg_main_dise_codg"), f"{path}.dscg_main_dise_codg"),
        main_dise_name=_str(e.get("dscg_main_dise_name"), f"{path}.dscg_main_dise_name"),
        dr_codg=_str(e.get("dr_codg"), f"{path}.dr_codg"),
        adm_dept_codg=_str(e.get("adm_dept_codg"), f"{path}.adm_dept_codg"),
        med_mdtrt_type=_str(e.get("med_mdtrt_type"), f"{path}.med_mdtrt_type"),
        med_type=_str(e.get("med_type"), f"{path}.med_type"),
        insutype=_str(e.get("insutype"), f"{path}.insutype"),
        matn_stas=_str(e.get("matn_stas"), f"{path}.matn_stas"),
        medfee_sumamt=_dec(e.get("medfee_sumamt"), f"{path}.medfee_sumamt"),
        hifp_payamt=_dec(e.get("hifp_payamt"), f"{path}.hifp_payamt"),
        acct_payamt=_dec(e.get("acct_payamt"), f"{path}.acct_payamt"),
        diagnoses=diagnoses,
        orders=orders,
        operations=operations,
        fee_lines=fee_lines,
    )


def _patient(p: dict, path: str) -> Patient:
    gpath = f"{path}.gend"
    gend_raw = _str(p.get("gend"), gpath)
    if gend_raw is None:
        raise RequestError(gpath, "缺少必填字段")
    if gend_raw not in _GEND:
        raise RequestError(gpath, f"无效的性别代码 {gend_raw!r} (应为 1 男, 2 女, 0/9 未知)")
    brdy = parse_time(p.get("brdy"), f"{path}.brdy")
    if brdy is None:
        raise RequestError(f"{path}.brdy", "缺少必填字段")
    epath = f"{path}.fsi_encounter_dtos"
    encounters = [_encounter(e, f"{epath}[{i}]") for i, e in enumerate(_list(p.get("fsi_encounter_dtos"), epath))]
    if not encounters:
        raise RequestError(epath, "至少需要一条就诊信息")
    curr = _str(p.get("curr_mdtrt_id"), f"{path}.curr_mdtrt_id")
    ids = [e.mdtrt_id for e in encounters]
    if len(set(ids)) != len(ids):
        dup = next(i for i, m in enumerate(ids) if ids.index(m) != i)
        raise RequestError(f"{epath}[{dup}].mdtrt_id", f"就诊标识 {ids[dup]} 重复")
    if curr is None:
        if len(encounters) > 1:
            raise RequestError(f"{path}.curr_mdtrt_id", "有多条就诊时必须给出当前就诊标识")
        curr = encounters[0].mdtrt_id
    elif curr not in ids:
        raise RequestError(f"{path}.curr_mdtrt_id", f"当前就诊标识 {curr} 不在 fsi_encounter_dtos 中")
    return Patient(
        patn_id=_req_str(p, "patn_id", path),
        gend=_GEND[gend_raw],
        brdy=brdy.date(),
        poolarea=_str(p.get("poolarea"), f"{path}.poolarea"),
        curr_mdtrt_id=curr,
        encounters=encounters,
        path=path,
    )


def parse_analysis(envelope: dict, infno: str) -> AnalysisRequest:
    data = _data(envelope)
    base = "input.data"
    ppath = f"{base}.patient_dtos"
    patients = [_patient(p, f"{ppath}[{i}]") for i, p in enumerate(_list(data.get("patient_dtos"), ppath))]
    if not patients:
        raise RequestError(ppath, "至少需要一位参保人")
    return AnalysisRequest(
        infno=infno,
        msgid=_str(envelope.get("msgid"), "msgid"),
        fixmedins_code=_str(envelope.get("fixmedins_code"), "fixmedins_code"),
        mdtrtarea_admvs=_str(envelope.get("mdtrtarea_admvs"), "mdtrtarea_admvs"),
        insuplc_admdvs=_str(envelope.get("insuplc_admdvs"), "insuplc_admdvs"),
        inf_time=parse_time(envelope.get("inf_time"), "inf_time"),
        opter=_str(envelope.get("opter"), "opter"),
        scenes=_scenes(data.get("trig_scen"), infno, f"{base}.trig_scen"),
        rule_ids=_rule_ids(data.get("rule_ids"), f"{base}.rule_ids"),
        task_id=_str(data.get("task_id"), f"{base}.task_id"),
        patients=patients,
    )


def parse_feedback(envelope: dict, infno: str = "3103") -> FeedbackRequest:
    data = _data(envelope)
    base = "input.data"
    wpath = f"{base}.warns"
    warns = []
    for i, w in enumerate(_list(data.get("warns"), wpath)):
        p = f"{wpath}[{i}]"
        way = _req_str(w, "dspo_way", p)
        if way not in ("1", "2"):
            raise RequestError(f"{p}.dspo_way", f"无效的处理方式 {way!r} (应为 1 继续执行, 2 返回修改)")
        reason = _str(w.get("dspo_way_rea"), f"{p}.dspo_way_rea")
        warns.append(Warn(_req_str(w, "warn_rslt_id", p), way, reason[:500] if reason else None))
    if not warns:
        raise RequestError(wpath, "至少需要一条反馈")
    warn_type = _str(data.get("warn_type"), f"{base}.warn_type")
    if warn_type is not None and warn_type not in ("1", "2"):
        raise RequestError(f"{base}.warn_type", f"无效的反馈类型 {warn_type!r} (应为 1 事前, 2 事中)")
    return FeedbackRequest(
        infno=infno,
        msgid=_str(envelope.get("msgid"), "msgid"),
        fixmedins_code=_str(envelope.get("fixmedins_code"), "fixmedins_code"),
        warn_type=warn_type,
        warns=warns,
    )
