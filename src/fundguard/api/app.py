"""The application factory: the HTTP API under `/api/v1/`, the national 3101/3102/3103 paths when that
component is installed, and the front ends named in the config (the web pages by default).

The doors (api, web, cli) are independent packages; this factory mounts a front end by name
(`module:function`, as uvicorn names apps) so neither imports the other.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from fundguard.api.v1 import build_router
from fundguard.workspace import SESSION_COOKIE, AppConfig, Services

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
}


def config_from_env() -> AppConfig:
    """For `uvicorn fundguard.api.app:create_app --factory`: FUNDGUARD_WORKSPACE, FUNDGUARD_DB_URL, FUNDGUARD_NO_AUTH
    (served to this machine's clients only, see `LoopbackOnly`), FUNDGUARD_PSN_SEARCH_LIMIT/_WINDOW."""
    ws = os.environ.get("FUNDGUARD_WORKSPACE")
    return AppConfig(workspace=Path(ws) if ws else None, db_url=os.environ.get("FUNDGUARD_DB_URL"),
                     no_auth=os.environ.get("FUNDGUARD_NO_AUTH") == "1")


_MESSAGES = {
    "missing": "缺少必填字段",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "decimal_parsing": "应为数字",
    "float_parsing": "应为数字",
    "finite_number": "应为有限数值",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_inexact": "日期格式应为 YYYY-MM-DD",
    "string_type": "应为字符串",
    "string_too_long": "过长",
    "string_too_short": "过短",
    "json_invalid": "不是合法的 JSON",
    "model_attributes_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
    "bool_parsing": "应为 true 或 false",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
}


def _chinese(error: dict) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind in ("less_than_equal", "less_than"):
        return f"应不大于 {ctx.get('le', ctx.get('lt'))}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"应不小于 {ctx.get('ge', ctx.get('gt'))}"
    return _MESSAGES.get(kind, "取值无效")


NO_AUTH_REFUSED = ("未启用登录 (--no-auth / FUNDGUARD_NO_AUTH=1) 时只接受本机直接发出的请求 (127.0.0.1 或 ::1); "
                   "来自其他地址、经代理转发或来源不明的请求一律拒绝。需要从其他地址访问时请启用登录。")
#: headers a proxy adds: a request through one comes from elsewhere, even when the proxy itself is local
_FORWARDING_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-real-ip")


def _loopback(client: tuple[str, int] | None) -> bool:
    if not client or not client[0]:
        return False  # a Unix socket or a server that does not say: cannot be known to be local
    try:
        address = ipaddress.ip_address(client[0].split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class LoopbackOnly:
    """Without log-in (`AppConfig.no_auth`), serve only clients on this machine, whoever started the app:
    `fundguard serve --no-auth` refuses other listening addresses, but `uvicorn --factory` with
    FUNDGUARD_NO_AUTH=1 could listen anywhere, so the app checks every request's peer itself. A request
    whose peer is not a loopback address, is unknown (a Unix socket) or carries a proxy's forwarding header
    is refused (403), with the reason in Chinese."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            forwarded = any(name in _FORWARDING_HEADERS for name, _ in scope.get("headers") or ())
            if forwarded or not _loopback(scope.get("client")):
                client = scope.get("client")
                log.warning("no-auth: refused a request from %s%s", client[0] if client else "an unknown peer",
                            " through a proxy" if forwarded else "")
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await JSONResponse(status_code=403, content={"detail": NO_AUTH_REFUSED})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(config: AppConfig | None = None, *, services: Services | None = None) -> FastAPI:
    config = config or config_from_env()
    services = services or Services(config)
    app = FastAPI(
        title="FundGuard 医保基金智能监管平台 API",
        version="1",
        description="审核结果、疑点、规则库与机构画像。认证: `POST /api/v1/session` 登录后使用会话 Cookie。"
        "金额为字符串形式的十进制数 (两位小数)。",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI loads its assets from a CDN; intranets have none
        redoc_url=None,
    )
    app.state.services = services

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # in Chinese, and without pydantic's `input` (a log-in body sent as text would be echoed, password included)
        return JSONResponse(status_code=422, content={"detail": [
            {"loc": list(e.get("loc", ())), "msg": _chinese(e), "type": e.get("type", "")} for e in exc.errors()]})

    if config.no_auth:
        # innermost of the middlewares added here: its refusals carry the security headers too
        app.add_middleware(LoopbackOnly)
        log.warning("未启用登录 (no-auth): 只接受本机 (127.0.0.1 / ::1) 直接发出的请求")

    @app.middleware("http")
    async def _security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            # every page and answer is per user (scope, counts): never kept by a browser or proxy cache
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.add_middleware(
        SessionMiddleware,
        secret_key=services.session_secret,
        session_cookie=SESSION_COOKIE,
        max_age=config.session_max_age,
        same_site="lax",
        https_only=config.https_only,
    )
    app.include_router(build_router(), prefix="/api/v1")
    _include_national(app, config, services)
    for name in config.frontends:
        module_name, _, func = name.partition(":")
        install = getattr(importlib.import_module(module_name), func or "install")
        install(app)
    return app


def _include_national(app: FastAPI, config: AppConfig, services: Services) -> None:
    try:
        from fundguard.api import national
        from fundguard.realtime.service import RealtimeConfig
    except ImportError:
        log.info("national 3101/3102/3103 interfaces not installed")
        return
    options = {"db_url": config.resolved_db_url(), "auth": not config.no_auth, **config.national}
    if config.rules_dir is not None and "registry" not in options:
        options["registry"] = services.workspace.registry
    if config.workspace is not None and "history_path" not in options:
        # used as soon as `fundguard history load` writes it, even after the server started
        options["history_path"] = Path(config.workspace) / "history.sqlite"
    try:
        router = national.build_router(RealtimeConfig(**options))
    except Exception as exc:  # the app still serves audits when the real-time part cannot start
        log.error("national interfaces not mounted: %s", exc)
        return
    app.include_router(router)
    services.realtime_store = router.service.store
