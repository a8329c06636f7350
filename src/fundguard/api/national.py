"""The national detail-audit paths (3101 事前, 3102 事中, 3103 反馈), wire-compatible with the platform.

A thin door: each route reads the body (asynchronously, with a size limit), hands it with the headers to
`RealtimeService.handle` in the thread pool, or in analysis processes when `processes` is set
(`fundguard.realtime.pool`: more than one core) — rules, history and SQLite work off the event loop, so
a slow request does not hold up the others — and returns its envelope.
Whatever else arrives under `/fsi/` (an unknown path, a method other than POST) is answered with the
envelope too (infcode -1, HTTP 404/405): a HIS parses every reply as one.
`build_router(config)` is what the app factory includes; `standalone_app()` serves the router alone
(the benchmark, integration tests with a HIS).
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor

from fundguard.realtime.service import Door, RealtimeConfig, RealtimeService, Reply

log = logging.getLogger("fundguard.realtime")

UNIFIED = "/fsi/api/rsfComIfsService/callService"
BEFORE = "/fsi/api/riskConService/beforeAnalyze"
COURSE = "/fsi/api/riskConService/courseAnalyze"
NOOP = "/fsi/api/noop"
#: the national platform's namespace: every reply under it is a national envelope
NATIONAL_PREFIX = "/fsi/"
_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]


class _AnyPath(PathConvertor):
    """`path`, but also across a percent-encoded line break (`.*` stops there, and FastAPI's 404 would answer)."""

    regex = r"[\s\S]*"


register_url_convertor("national_rest", _AnyPath())

_EXAMPLE_3101 = {
    "infno": "3101", "msgid": "H43079900001202506141427240001", "mdtrtarea_admvs": "430799",
    "insuplc_admdvs": "430796", "recer_sys_code": "IMS", "infver": "V1.0", "opter_type": "1", "opter": "D01",
    "opter_name": "医生01", "inf_time": "2025-06-14 14:27:24", "fixmedins_code": "H43079900001",
    "fixmedins_name": "某市第二人民医院",
    "input": {"data": {"trig_scen": "2", "rule_ids": [], "task_id": "", "patient_dtos": [{
        "patn_id": "1058158", "patn_name": "患者甲", "gend": "1", "brdy": "1951-08-27", "poolarea": "430796",
        "curr_mdtrt_id": "2001668", "fsi_encounter_dtos": [{
            "mdtrt_id": "2001668", "medins_id": "H43079900001", "medins_lv": "05", "adm_date": "2025-06-14 14:00:00",
            "dscg_date": None, "dscg_main_dise_codg": "K29.700", "dr_codg": "D01", "adm_dept_codg": "A03",
            "med_mdtrt_type": "1", "med_type": "11", "insutype": "390", "hifp_payamt": 0,
            "fsi_diagnose_dtos": [{"dise_id": 1, "maindise_flag": 1, "dias_srt_no": 1, "dise_codg": "K29.700",
                                   "dise_name": "胃炎"}],
            "fsi_order_dtos": [{"rx_id": "6099", "rxno": "RX1", "hilist_type": "101", "chrg_type": "11",
                                "hilist_code": "ZD03AAA0043010100166", "hilist_name": "艾附暖宫丸", "cnt": 1,
                                "pric": 25.5, "sumamt": 25.5, "drord_begn_date": "2025-06-14 14:20:00",
                                "drord_dr_codg": "D01", "drord_dr_profttl": "233", "curr_drord_flag": 1}],
            "fsi_operation_dtos": []}]}]}},
}
_EXAMPLE_3103 = {
    "infno": "3103", "fixmedins_code": "H43079900001", "inf_time": "2025-06-14 14:28:00",
    "input": {"data": {"warn_type": "1", "warns": [
        {"warn_rslt_id": "5d0f…", "dspo_way": "2", "dspo_way_rea": "已改为其他药品"}]}},
}
_ENVELOPE_SCHEMA = {
    "type": "object",
    "description": "国家平台统一报文 (national-interface.md §1): infno, msgid, fixmedins_code, inf_time … "
    "and input.data. Tolerant: numbers as strings, camelCase keys, single objects for lists, unknown fields.",
    "required": ["infno", "input"],
    "properties": {
        "infno": {"type": "string", "enum": ["3101", "3102", "3103"]},
        "fixmedins_code": {"type": "string"},
        "msgid": {"type": "string"},
        "inf_time": {"type": "string", "example": "2025-06-14 14:27:24"},
        "input": {"type": "object", "properties": {"data": {"type": "object"}}},
    },
    "additionalProperties": True,
}
_RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "infcode": {"type": "integer", "description": "0 成功, -1 失败 (部署设置可改为字符串)"},
        "inf_refmsgid": {"type": "string"},
        "refmsg_time": {"type": "string"},
        "respond_time": {"type": "string"},
        "err_msg": {"type": "string", "description": "失败原因, 指出字段路径"},
        "output": {"type": "object", "properties": {"result": {"type": "array", "items": {"type": "object", "properties": {
            k: {"type": "string"} for k in ("jr_id", "rule_id", "rule_name", "vola_cont", "patn_id", "mdtrt_id",
                                             "vola_amt_stas", "sev_deg", "vola_evid", "vola_bhvr_type", "task_id")
        } | {"vola_amt": {"type": "number"}, "judge_result_detail_dtos": {"type": "array", "items": {"type": "object"}}}}}}},
    },
}


def _openapi(examples: dict[str, Any]) -> dict:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {
                "schema": _ENVELOPE_SCHEMA,
                "examples": {k: {"value": v} for k, v in examples.items()},
            }},
        },
        "responses": {"200": {"content": {"application/json": {"schema": _RESPONSE_SCHEMA}}}},
    }


#: the largest request body read (a stay of several thousand orders is well under 8 MB); a larger one is
#: refused before it is read whole or authenticated
MAX_BODY_BYTES = 8 * 1024 * 1024


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is known to exceed `limit` bytes (by Content-Length or while reading)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _json(status: int, data: bytes, headers: dict[str, str] | None = None) -> Response:
    """An encoded envelope (`Reply.encoded`) as the HTTP response."""
    return Response(content=data, status_code=status, media_type="application/json; charset=utf-8", headers=headers)


def _shown(path: str, limit: int = 80) -> str:
    """A request path fit for an error message and a log line: printable characters only, cut to `limit`."""
    clean = "".join(c if c.isprintable() else "?" for c in path)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def build_router(config: RealtimeConfig | RealtimeService, *, include_noop: bool = False,
                 processes: int = 0) -> APIRouter:
    """The national paths over one `RealtimeService` (built from `config` unless a service is given).

    `processes` > 0: requests are analysed in that many worker processes (`fundguard.realtime.pool`),
    each with its own service built from `config`; `router.pool` is then the pool, to be closed. This
    process then builds no service of its own from a config (`router.service` None): only the `Door`
    that answers what never reaches a service (a body too large, an unknown path or method)."""
    service = config if isinstance(config, RealtimeService) else None
    settings = config.config if isinstance(config, RealtimeService) else config
    pool = None
    if processes > 0:
        from fundguard.realtime.pool import ServicePool

        pool = ServicePool(settings, processes)
    elif service is None:
        service = RealtimeService(settings)
    # in pool mode the analysis processes' start-up lines (the --no-auth warning among them) reach this
    # process's log (`realtime.pool`): the door does not say it again
    door = service.door if service is not None else Door(settings, announce=False)
    router = APIRouter(tags=["国家接口 3101/3102/3103"])
    router.service = service  # type: ignore[attr-defined]
    router.pool = pool  # type: ignore[attr-defined]
    both = _openapi({"3101 事前分析": _EXAMPLE_3101, "3103 反馈": _EXAMPLE_3103})

    async def _call(request: Request, path_infno: str | None = None, expect: str | None = None) -> Response:
        try:
            body = await _read_body(request, MAX_BODY_BYTES)
            if body is None:
                reply = door.too_large(MAX_BODY_BYTES)
            elif pool is not None:
                return _json(*await pool.handle(body, request.headers, path_infno=path_infno, expect_infno=expect))
            else:
                assert service is not None  # noqa: S101 (no pool: a service was given or built)
                reply = await run_in_threadpool(service.handle, body, request.headers, path_infno=path_infno,
                                                expect_infno=expect)
        except Exception:  # `handle` answers its own errors; this is the door's (e.g. reading the body)
            log.exception("国家接口请求处理失败 (%s)", _shown(request.url.path))
            reply = door.refuse(500, "服务内部错误, 请联系管理员")
        return _json(reply.status, reply.encoded())

    @router.post(UNIFIED, summary="统一入口: 按 infno 分派 3101/3102/3103", openapi_extra=both)
    async def call_service(request: Request) -> Response:
        return await _call(request)

    @router.post(UNIFIED + "/{infno}", summary="统一入口 (路径带交易编号)", openapi_extra=both)
    async def call_service_infno(infno: str, request: Request) -> Response:
        return await _call(request, path_infno=infno)

    @router.post(BEFORE, summary="3101 明细审核事前分析 (旧式路径)", openapi_extra=_openapi({"3101": _EXAMPLE_3101}))
    async def before_analyze(request: Request) -> Response:
        return await _call(request, expect="3101")

    @router.post(COURSE, summary="3102 明细审核事中分析 (旧式路径)",
                 openapi_extra=_openapi({"3102": dict(_EXAMPLE_3101, infno="3102")}))
    async def course_analyze(request: Request) -> Response:
        return await _call(request, expect="3102")

    if include_noop:
        @router.post(NOOP, summary="空操作 (基准测试的框架开销下限)", include_in_schema=False)
        async def noop(request: Request) -> Response:
            await request.body()
            return _json(200, Reply(200, {"infcode": 0, "err_msg": "", "output": {}}).encoded())

    national = [r for r in router.routes if isinstance(r, APIRoute)]

    # Last, so that it only sees what no national route takes: an unknown path, or a known one with a
    # method other than POST (the routes above match it partially). Without it FastAPI would answer
    # {"detail": ...}, which a HIS cannot read.
    @router.api_route(NATIONAL_PREFIX + "{rest:national_rest}", methods=_ANY_METHOD, include_in_schema=False)
    async def not_a_national_route(request: Request, rest: str) -> Response:
        path = request.url.path
        if any(r.path_regex.match(path) for r in national):
            reply = door.refuse(405, f"{_shown(path)}: 不支持 {_shown(request.method, 10)} 请求, 国家接口只接受 POST")
            return _json(reply.status, reply.encoded(), headers={"Allow": "POST"})
        reply = door.refuse(404, f"{_shown(path)}: 接口路径不存在 (3101/3102/3103 请 POST 到 {UNIFIED})")
        return _json(reply.status, reply.encoded())

    return router


def standalone_app(config: RealtimeConfig | None = None, *, include_noop: bool = True,
                   processes: int | None = None) -> FastAPI:
    """A FastAPI app with only the national paths; configured from `FUNDGUARD_RT_*` variables when no
    config is given (`FUNDGUARD_RT_DB`, `FUNDGUARD_RT_HISTORY`, `FUNDGUARD_RT_KB`, `FUNDGUARD_RT_NO_AUTH=1`,
    `FUNDGUARD_RT_ADMDVS`, `FUNDGUARD_RT_PROCESSES`: analysis processes, to use more than one core)."""
    if config is None:
        config = RealtimeConfig(
            db_url=os.environ.get("FUNDGUARD_RT_DB", "sqlite:///var/realtime.db"),
            history_path=os.environ.get("FUNDGUARD_RT_HISTORY") or None,
            kb_path=os.environ.get("FUNDGUARD_RT_KB") or None,
            auth=os.environ.get("FUNDGUARD_RT_NO_AUTH") != "1",
            infcode_as_string=os.environ.get("FUNDGUARD_RT_INFCODE_STRING") == "1",
            admdvs=os.environ.get("FUNDGUARD_RT_ADMDVS") or "000000",  # this centre's division: inf_refmsgid prefix
        )
    if processes is None:
        from fundguard.logs import show_on_console

        # configured from the environment: started by uvicorn, which sets up only its own loggers; the
        # call lines and start-up warnings go beside its lines (unless logging was set up otherwise)
        show_on_console()
        text = os.environ.get("FUNDGUARD_RT_PROCESSES") or "0"
        if not (text.isascii() and text.isdigit()):
            # read at start-up from the environment: one line for the operator, not uvicorn's trace
            raise SystemExit(f"FUNDGUARD_RT_PROCESSES 应为非负整数 (分析进程数, 0 为不用), 得到 {text!r}")
        processes = int(text)
    router = build_router(config, include_noop=include_noop, processes=processes)
    service = router.service  # type: ignore[attr-defined]
    pool = router.pool  # type: ignore[attr-defined]

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        if pool is not None:
            pool.close()
        if service is not None:
            service.close()

    app = FastAPI(title="FundGuard 实时审核 (3101/3102/3103)", lifespan=lifespan)
    app.include_router(router)
    app.state.realtime = service
    app.state.realtime_pool = pool
    return app
