"""Dependencies shared by the v1 routers: the services, the authenticated caller, the run, the filter."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from fundguard.workspace import FlagFilter, Principal, Run, Services


def services(request: Request) -> Services:
    return request.app.state.services


def principal(request: Request, svc: Annotated[Services, Depends(services)]) -> Principal:
    who = svc.principal_from_session(request.session)
    if who is None:
        raise HTTPException(401, "未登录或会话已失效", headers={"WWW-Authenticate": "Cookie"})
    return who


def run(run_id: str, svc: Annotated[Services, Depends(services)], who: Annotated[Principal, Depends(principal)]) -> Run:
    found = svc.workspace.run(run_id)
    if found is not None and svc.workspace.is_building(found):
        raise HTTPException(503, f"运行 {run_id} 的疑点索引建立中, 请稍后重试", headers={"Retry-After": "5"})
    if found is None or found.index is None:
        raise HTTPException(404, f"运行 {run_id} 不存在")
    return found


def flag_filter(
    rule_id: Annotated[list[str] | None, Query(description="规则编号, 可多个")] = None,
    sev_deg: Annotated[list[int] | None, Query(description="严重程度 1/2/3, 可多个")] = None,
    category: Annotated[str | None, Query(description="规则类别, 如 限定类")] = None,
    fixmedins_code: Annotated[str | None, Query(description="定点医药机构编号")] = None,
    admdvs: Annotated[str | None, Query(description="医保区划代码或其前缀")] = None,
    date_from: Annotated[dt.date | None, Query(description="疑点日期起 (含)")] = None,
    date_to: Annotated[dt.date | None, Query(description="疑点日期止 (含)")] = None,
    amount_min: Annotated[Decimal | None, Query(description="金额下限 (元)")] = None,
    amount_max: Annotated[Decimal | None, Query(description="金额上限 (元)")] = None,
    psn_no: Annotated[str | None, Query(description="参保人编号 (精确)")] = None,
    mdtrt_id: Annotated[str | None, Query(description="就诊ID (精确)")] = None,
    dept_code: Annotated[str | None, Query(description="科室")] = None,
    dr_code: Annotated[str | None, Query(description="医师编码")] = None,
) -> FlagFilter:
    flt = FlagFilter(
        rule_id=[r.strip().upper() for r in rule_id or [] if r.strip()], sev_deg=list(sev_deg or []),
        category=category or None, fixmedins_code=fixmedins_code or None, admdvs=admdvs or None,
        date_from=date_from, date_to=date_to, amount_min=amount_min, amount_max=amount_max, psn_no=psn_no or None,
        mdtrt_id=mdtrt_id or None, dept_code=dept_code or None, dr_code=dr_code or None,
    )
    problems = flt.problems()
    if problems:
        raise HTTPException(422, "; ".join(problems))
    return flt


Svc = Annotated[Services, Depends(services)]
Who = Annotated[Principal, Depends(principal)]
RunDep = Annotated[Run, Depends(run)]
FilterDep = Annotated[FlagFilter, Depends(flag_filter)]
