"""Flags (疑点) of a run: filtered, sorted, keyset-paginated lists; one flag with its evidence; Excel export."""

from __future__ import annotations

import tempfile
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse

from fundguard.api.v1.deps import FilterDep, RunDep, Svc, Who
from fundguard.api.v1.schemas import FlagDetail, FlagPageOut
from fundguard.workspace import (
    SORTS,
    CursorError,
    FlagFilter,
    Principal,
    SearchLimited,
    Services,
    mask_flag,
    write_flags_xlsx,
)
from fundguard.workspace.queries import flag_detail

router = APIRouter(tags=["flags"])
SortQ = Annotated[str, Query(description="排序: " + ", ".join(SORTS))]
#: an exact psn_no search beyond the limit of a role that sees identifiers masked
LIMITED = {429: {"description": "按参保人编号精确查询过于频繁 (脱敏角色每个时间窗内不同编号的个数有上限; 见 Retry-After)"}}


def _psn_search(svc: Services, who: Principal, flt: FlagFilter, where: str) -> None:
    """An exact `psn_no` search is logged, and limited for roles that see identifiers masked (429)."""
    try:
        svc.check_psn_search(who, flt.psn_no, where)
    except SearchLimited as exc:
        raise HTTPException(429, exc.message, headers={"Retry-After": str(exc.retry_after)}) from exc


@router.get("/runs/{run_id}/flags", response_model=FlagPageOut, summary="疑点列表 (筛选、排序、游标分页; 标识已脱敏)",
            responses=LIMITED)
def list_flags(
    run: RunDep, svc: Svc, who: Who, flt: FilterDep, sort: SortQ = "amount_desc",
    after: Annotated[str | None, Query(description="上一页返回的 next_cursor")] = None,
    before: Annotated[str | None, Query(description="上一页返回的 prev_cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict:
    _psn_search(svc, who, flt, f"{run.run_id} api flags")
    try:
        page = run.index.page(flt, who.scope, sort=sort, after=after, before=before, limit=limit)
    except CursorError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"items": [mask_flag(f) for f in page.items], "total": page.total, "limit": page.limit,
            "sort": page.sort, "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor}


@router.get("/runs/{run_id}/flags.xlsx", summary="按当前筛选导出 Excel (最多 10 万行; 标识已脱敏)",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}},
                       **LIMITED})
def export_flags(run: RunDep, svc: Svc, who: Who, flt: FilterDep, sort: SortQ = "amount_desc") -> StreamingResponse:
    if sort not in SORTS:
        raise HTTPException(422, f"未知的排序方式 {sort}")
    _psn_search(svc, who, flt, f"{run.run_id} api export")
    names = {r.id: r.name for r in svc.workspace.registry}
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    n = write_flags_xlsx(spool, run.index, flt, who.scope, run_id=run.run_id, sort=sort, rule_names=names,
                         user=who.username)
    svc.users.log_access(who.username, "export", f"{run.run_id} rows={n}")
    spool.seek(0)
    filename = f"fundguard-flags-{run.run_id}.xlsx"
    return StreamingResponse(
        iter(lambda: spool.read(1 << 16), b""),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/runs/{run_id}/flags/{flag_id}", response_model=FlagDetail,
            summary="一个疑点及其证据: 费用明细、知识库条目、参数、依据; 同一参保人与机构的其他疑点")
def read_flag(run: RunDep, svc: Svc, who: Who, flag_id: str) -> dict:
    flag = flag_detail(svc.workspace, run, who, flag_id)
    if flag is None:
        raise HTTPException(404, "疑点不存在或不在您的权限范围内")
    if who.sees_identifiers:
        svc.users.log_access(who.username, "view_flag", f"{run.run_id}/{flag_id}")
    return flag
