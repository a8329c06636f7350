"""Audit runs: list, one run, and its summary (counts and amounts by category, severity, rule,
institution, region, department, doctor and month) within the caller's scope."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, HTTPException

from fundguard.api.v1.deps import FilterDep, RunDep, Svc, Who
from fundguard.api.v1.schemas import RunDetail, RunOut, Summary
from fundguard.workspace.queries import run_overview, run_summary

router = APIRouter(tags=["runs"])


@router.get("/runs", response_model=list[RunOut], summary="审核运行列表 (最新在前; 索引建立中的运行 status 为 indexing, 无计数)")
def list_runs(svc: Svc, who: Who) -> list[dict]:
    ws = svc.workspace
    out = []
    for r in ws.runs.values():
        if r.index is not None:
            out.append({**run_overview(ws, r, who), "status": "ready"})
        elif ws.is_building(r):
            # its counts come from the index (scoped to the caller): none until it is built
            info = r.summary()
            out.append({k: info[k] for k in ("run_id", "started", "finished", "engine", "kb_content_hash")}
                       | {"status": "indexing"})
    return out


@router.get("/runs/{run_id}", response_model=RunDetail, summary="一次运行 (run_id 或 latest)")
def read_run(run: RunDep, svc: Svc, who: Who) -> dict:
    return run_overview(svc.workspace, run, who)


@router.get("/runs/{run_id}/summary", response_model=Summary, summary="总览: 按类别、严重程度、规则、机构、区划、科室、医师、月份")
def read_summary(run: RunDep, svc: Svc, who: Who, flt: FilterDep) -> dict:
    # the summary is read from per-institution/region cubes: other filters would be silently ignored
    unsupported = [f.name for f in dataclasses.fields(flt)
                   if f.name not in ("fixmedins_code", "admdvs") and getattr(flt, f.name) not in (None, [], "")]
    if unsupported:
        raise HTTPException(422, f"总览只支持按机构 (fixmedins_code) 与区划 (admdvs) 筛选, 不支持: {', '.join(unsupported)}")
    out = run_summary(svc.workspace, run, who, flt)
    out["realtime"] = svc.realtime_counts(who)
    return out
