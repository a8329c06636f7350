"""Page routes. Each parses the request, asks the workspace (scoped to the caller) and renders a template."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope as AsgiScope

from fundguard.workspace import (
    GRANULARITY_LABELS,
    SCENE_LABELS,
    SEVERITY_LABELS,
    SORTS,
    CursorError,
    FlagFilter,
    FlagPage,
    Principal,
    Run,
    SearchLimited,
    Services,
    csrf_ok,
    csrf_token,
    log_in,
    log_out,
    mask_flag,
    mask_id,
    write_flags_xlsx,
)
from fundguard.workspace.queries import flag_detail, institution_profile, run_overview, run_summary

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
SORT_LABELS = {"amount_desc": "金额从高到低", "amount_asc": "金额从低到高", "date_desc": "日期从新到旧",
               "date_asc": "日期从旧到新"}
MED_TYPE_LABELS = {"11": "普通门诊", "13": "急诊", "14": "门诊慢特病", "21": "住院", "41": "定点药店购药",
                   "51": "生育门诊", "52": "生育住院"}
GEND_LABELS = {"1": "男", "2": "女", "9": "未说明"}


def _money(value: Any) -> str:
    if value is None or value == "":
        return ""
    return f"{Decimal(str(value)):,.2f}"


#: China Standard Time (no daylight saving): the time every bureau reads, whatever the server's zone
CHINA_TIME = dt.timezone(dt.timedelta(hours=8), "北京时间")


def _local_time(value: Any) -> str:
    """An ISO timestamp with its offset (run.json records UTC) as Beijing time, `2026-11-25 11:12:45`;
    a value without an offset or not a timestamp is shown as it is."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return str(value)
    return moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S")


templates.env.filters["money"] = _money
templates.env.filters["local_time"] = _local_time
templates.env.filters["mask"] = mask_id
templates.env.filters["tojson_pretty"] = lambda v: json.dumps(v, ensure_ascii=False, indent=2, default=str)
templates.env.globals.update(SEVERITY_LABELS=SEVERITY_LABELS, SCENE_LABELS=SCENE_LABELS,
                             GRANULARITY_LABELS=GRANULARITY_LABELS, SORT_LABELS=SORT_LABELS,
                             MED_TYPE_LABELS=MED_TYPE_LABELS, GEND_LABELS=GEND_LABELS)


#: what `/static/` serves: style sheets, scripts and their source maps, fonts, images. Anything else in the
#: folder (the empty `__init__.py` that make it a package, `__pycache__`, licence and version notes) is 404.
ASSET_SUFFIXES = frozenset({
    ".css", ".js", ".mjs", ".map",
    ".woff", ".woff2", ".ttf", ".otf", ".eot",
    ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp", ".avif",
})


class AssetFiles(StaticFiles):
    """`StaticFiles` that serves asset types only (`ASSET_SUFFIXES`) and no hidden file or folder; its
    caching headers (ETag, Last-Modified, conditional 304) are StaticFiles' own."""

    async def get_response(self, path: str, scope: AsgiScope) -> Response:
        parts = PurePosixPath(path.replace("\\", "/")).parts
        if not parts or PurePosixPath(parts[-1]).suffix.lower() not in ASSET_SUFFIXES \
                or any(part.startswith(".") or part == "__pycache__" for part in parts):
            raise StarletteHTTPException(status_code=404)
        return await super().get_response(path, scope)


class LoginRequired(Exception):
    pass


class NotFound(Exception):
    def __init__(self, message: str):
        self.message = message


def _svc(request: Request) -> Services:
    return request.app.state.services


def _who(request: Request) -> Principal:
    who = _svc(request).principal_from_session(request.session)
    if who is None:
        raise LoginRequired()
    return who


class IndexBuilding(Exception):
    def __init__(self, run_id: str):
        self.run_id = run_id


def _run(request: Request, run_id: str) -> Run:
    ws = _svc(request).workspace
    run = ws.run(run_id)
    if run is not None and ws.is_building(run):
        raise IndexBuilding(run.run_id)
    if run is None or run.index is None:
        raise NotFound(f"运行 {run_id} 不存在（请先运行审核：fundguard audit，或 fundguard demo）")
    return run


def _render(request: Request, name: str, who: Principal | None, status: int = 200, **ctx: Any) -> HTMLResponse:
    svc = _svc(request)
    latest = svc.workspace.latest()
    ctx.setdefault("run", None)
    ctx.update(request=request, who=who, csrf=csrf_token(request.session), no_auth=svc.config.no_auth,
               latest_run_id=latest.run_id if latest else None)
    return templates.TemplateResponse(request, name, ctx, status_code=status)


def _parse_filter(request: Request) -> tuple[FlagFilter, list[str]]:
    q = request.query_params
    errors: list[str] = []

    def date(name: str) -> dt.date | None:
        v = q.get(name) or ""
        if not v:
            return None
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            errors.append(f"日期格式应为 YYYY-MM-DD：{v}")
            return None

    def money(name: str) -> Decimal | None:
        v = (q.get(name) or "").replace(",", "").strip()
        if not v:
            return None
        try:
            d = Decimal(v)
        except InvalidOperation:
            errors.append(f"金额应为数字：{v[:40]}")
            return None
        if not d.is_finite() or abs(d) >= Decimal(10) ** 14:
            errors.append(f"金额超出范围：{v[:40]}")
            return None
        return d

    def text(name: str) -> str | None:
        # control characters cannot be in any code or be written to Excel: dropped
        v = "".join(ch for ch in (q.get(name) or "") if ord(ch) >= 32).strip()[:200]
        return v or None

    sev = [int(s) for s in q.getlist("sev_deg") if s in ("1", "2", "3")]
    rule_ids = ["".join(ch for ch in r if ord(ch) >= 32).strip().upper()[:200] for r in q.getlist("rule_id")]
    flt = FlagFilter(
        rule_id=[r for r in rule_ids if r], sev_deg=sev,
        category=text("category"), fixmedins_code=text("fixmedins_code"),
        admdvs=text("admdvs"), date_from=date("date_from"), date_to=date("date_to"),
        amount_min=money("amount_min"), amount_max=money("amount_max"), psn_no=text("psn_no"),
        dept_code=text("dept_code"), dr_code=text("dr_code"),
    )
    return flt, errors


def _filter_query(request: Request, drop: tuple[str, ...] = ("after", "before")) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k not in drop and v != ""]


router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _render(request, "login.html", None, next=_safe_next(next), error=None)


def _safe_next(target: str) -> str:
    # Only local paths: never redirect to another site after log-in.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, username: str = Form(""), password: str = Form(""), csrf_token_: str = Form("", alias="csrf_token"),
          next: str = Form("/")) -> Response:
    svc = _svc(request)
    if not csrf_ok(request.session, csrf_token_):
        return _render(request, "login.html", None, status=400, next=_safe_next(next), error="页面已过期，请重新登录")
    user = svc.users.authenticate(username.strip(), password)
    if user is None:
        return _render(request, "login.html", None, status=401, next=_safe_next(next),
                       error="用户名或密码错误（连续失败 5 次将锁定 5 分钟）")
    log_in(request.session, user)
    svc.users.log_access(user.username, "login", "web")
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf_token_: str = Form("", alias="csrf_token")) -> Response:
    if csrf_ok(request.session, csrf_token_):
        log_out(request.session, _svc(request))
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(request: Request) -> Response:
    _who(request)
    return RedirectResponse("/runs/latest/", status_code=303)


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request) -> HTMLResponse:
    who = _who(request)
    ws = _svc(request).workspace
    runs = [run_overview(ws, r, who) for r in ws.runs.values() if r.index is not None]
    building = [{"run_id": r.run_id, "finished": r.finished} for r in ws.runs.values()
                if ws.is_building(r)]
    return _render(request, "runs.html", who, runs=runs, building=building)


@router.get("/runs/{run_id}/", response_class=HTMLResponse)
def dashboard(request: Request, run_id: str) -> HTMLResponse:
    who = _who(request)
    svc = _svc(request)
    run = _run(request, run_id)
    overview = run_overview(svc.workspace, run, who)
    summary = run_summary(svc.workspace, run, who)
    charts = {
        "category": _chart(summary["by_category"], "bar"),
        "severity": _chart(summary["by_severity"], "doughnut", label_key="label"),
        "month": _chart(summary["by_month"], "line"),
        "institution": _chart(summary["by_institution"][:10], "bar", label_key="label", horizontal=True),
    }
    return _render(request, "dashboard.html", who, run=run, overview=overview, summary=summary,
                   charts={k: json.dumps(v, ensure_ascii=False) for k, v in charts.items()},
                   realtime=svc.realtime_counts(who))


def _chart(rows: list[dict], kind: str, *, label_key: str = "key", horizontal: bool = False) -> dict:
    return {
        "type": kind, "horizontal": horizontal,
        "labels": [str(r.get(label_key) or r["key"] or "（空）") for r in rows],
        "flags": [r["flags"] for r in rows],
        "amounts": [float(r["vola_amt"]) for r in rows],
    }


@router.get("/runs/{run_id}/flags", response_class=HTMLResponse)
def flag_browser(request: Request, run_id: str) -> HTMLResponse:
    who = _who(request)
    svc = _svc(request)
    run = _run(request, run_id)
    flt, errors = _parse_filter(request)
    q = request.query_params
    sort = q.get("sort") if q.get("sort") in SORTS else "amount_desc"
    try:
        limit = max(10, min(int(q.get("limit") or 50), 500))
    except ValueError:
        limit = 50
    limited = _psn_search(svc, who, flt, f"{run.run_id} web flags")
    if limited is not None:
        errors.append(limited.message)
        page = FlagPage([], None, None, 0, limit, sort)
    else:
        try:
            page = run.index.page(flt, who.scope, sort=sort, after=q.get("after") or None,
                                  before=q.get("before") or None, limit=limit)
        except CursorError as exc:
            errors.append(str(exc))
            page = run.index.page(flt, who.scope, sort=sort, limit=limit)
    base = _filter_query(request)
    rules = [r for r in svc.workspace.rule_docs()]
    present = {r["key"] for r in run.index.breakdown("rule_id", who.scope)}
    response = _render(
        request, "flags.html", who, status=429 if limited else 200, run=run, page=page,
        items=[mask_flag(f) for f in page.items], flt=flt,
        errors=errors, sort=sort, limit=limit, rules=[r for r in rules if r["id"] in present],
        categories=[r["key"] for r in run.index.breakdown("category", who.scope) if r["key"]],
        next_url=f"?{urlencode([*base, ('after', page.next_cursor)])}" if page.next_cursor else None,
        prev_url=f"?{urlencode([*base, ('before', page.prev_cursor)])}" if page.prev_cursor else None,
        first_url=f"?{urlencode(base)}" if (q.get("after") or q.get("before")) else None,
        export_url=f"/runs/{run.run_id}/flags.xlsx?{urlencode(base)}",
    )
    if limited is not None:
        response.headers["Retry-After"] = str(limited.retry_after)
    return response


def _psn_search(svc: Services, who: Principal, flt: FlagFilter, where: str) -> SearchLimited | None:
    """An exact `psn_no` search is logged, and limited for roles that see identifiers masked."""
    try:
        svc.check_psn_search(who, flt.psn_no, where)
    except SearchLimited as exc:
        return exc
    return None


@router.get("/runs/{run_id}/flags.xlsx")
def export(request: Request, run_id: str) -> Response:
    who = _who(request)
    svc = _svc(request)
    run = _run(request, run_id)
    flt, _ = _parse_filter(request)
    sort = request.query_params.get("sort") if request.query_params.get("sort") in SORTS else "amount_desc"
    limited = _psn_search(svc, who, flt, f"{run.run_id} web export")
    if limited is not None:
        response = _render(request, "error.html", who, status=429, run=run, title="查询过于频繁",
                           message=limited.message)
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    names = {r.id: r.name for r in svc.workspace.registry}
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    n = write_flags_xlsx(spool, run.index, flt, who.scope, run_id=run.run_id, sort=sort, rule_names=names,
                         user=who.username)
    svc.users.log_access(who.username, "export", f"{run.run_id} rows={n}")
    spool.seek(0)
    return StreamingResponse(
        iter(lambda: spool.read(1 << 16), b""),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="fundguard-flags-{run.run_id}.xlsx"'},
    )


@router.get("/runs/{run_id}/flags/{flag_id}", response_class=HTMLResponse)
def flag_page(request: Request, run_id: str, flag_id: str) -> HTMLResponse:
    who = _who(request)
    svc = _svc(request)
    run = _run(request, run_id)
    flag = flag_detail(svc.workspace, run, who, flag_id)
    if flag is None:
        raise NotFound("疑点不存在或不在您的权限范围内")
    if who.sees_identifiers:
        svc.users.log_access(who.username, "view_flag", f"{run.run_id}/{flag_id}")
    return _render(request, "flag.html", who, run=run, flag=flag)


@router.get("/runs/{run_id}/institutions", response_class=HTMLResponse)
def institutions_page(request: Request, run_id: str) -> Response:
    who = _who(request)
    run = _run(request, run_id)
    if who.scope.fixmedins_code is not None:
        return RedirectResponse(f"/runs/{run.run_id}/institutions/{who.scope.fixmedins_code}", status_code=303)
    return _render(request, "institutions.html", who, run=run, rows=run.index.institutions(who.scope))


@router.get("/runs/{run_id}/institutions/{code}", response_class=HTMLResponse)
def institution_page(request: Request, run_id: str, code: str) -> HTMLResponse:
    who = _who(request)
    svc = _svc(request)
    run = _run(request, run_id)
    profile = institution_profile(svc.workspace, run, who, code)
    if profile is None:
        raise NotFound("机构不存在或不在您的权限范围内")
    top = run.index.page(FlagFilter(fixmedins_code=code), who.scope, limit=20)
    charts = {"month": json.dumps(_chart(profile["by_month"], "line"), ensure_ascii=False),
              "rule": json.dumps(_chart(profile["by_rule"][:12], "bar"), ensure_ascii=False)}
    return _render(request, "institution.html", who, run=run, p=profile, code=code, charts=charts,
                   top=[mask_flag(f) for f in top.items], top_total=top.total)


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request) -> HTMLResponse:
    who = _who(request)
    svc = _svc(request)
    latest = svc.workspace.latest()
    stats = {}
    if latest is not None and latest.index is not None:
        stats = {r["key"]: r for r in latest.index.breakdown("rule_id", who.scope)}
    return _render(request, "rules.html", who, rules=svc.workspace.rule_docs(), stats=stats, run=latest)


@router.get("/rules/coverage", response_class=HTMLResponse)
def coverage_page(request: Request) -> HTMLResponse:
    who = _who(request)
    cov = _svc(request).workspace.coverage()
    frameworks: dict[str, list[dict]] = {}
    for row in cov["rows"]:
        frameworks.setdefault(row.get("framework") or "", []).append(row)
    return _render(request, "coverage.html", who, cov=cov, frameworks=frameworks)


@router.get("/rules/{rule_id}", response_class=HTMLResponse)
def rule_page(request: Request, rule_id: str) -> HTMLResponse:
    who = _who(request)
    svc = _svc(request)
    doc = svc.workspace.rule_doc(rule_id.upper())
    if doc is None:
        raise NotFound(f"规则 {rule_id} 不存在")
    national = {r["gz_code"]: r for r in svc.workspace.coverage()["rows"]}
    latest = svc.workspace.latest()
    run_stats = None
    if latest is not None:
        run_stats = next((r for r in latest.info.get("rules", []) if r.get("id") == doc["id"]), None)
        if run_stats is not None and not who.scope.is_all:
            # the run's figures are the whole dataset's: a scoped user sees those of their scope
            scoped = {}
            if latest.index is not None:
                scoped = {r["key"]: r for r in latest.index.breakdown("rule_id", who.scope)}.get(doc["id"]) or {}
            run_stats = dict(run_stats, flags=scoped.get("flags", 0), vola_amt=scoped.get("vola_amt", 0))
    return _render(request, "rule.html", who, rule=doc, national=national, run=latest, run_stats=run_stats)


def install(app: FastAPI) -> None:
    """Add the pages, their static files and the log-in redirect to `app`."""
    app.mount("/static", AssetFiles(directory=str(HERE / "static")), name="static")
    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(IndexBuilding)
    async def _building(request: Request, exc: IndexBuilding) -> Response:
        who = _svc(request).principal_from_session(request.session)
        response = _render(request, "building.html", who, status=503, run_id=exc.run_id)
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        who = _svc(request).principal_from_session(request.session)
        return _render(request, "error.html", who, status=404, message=exc.message)
