"""Institutions (机构) of a run within the caller's scope, and one institution's profile."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from fundguard.api.v1.deps import RunDep, Svc, Who
from fundguard.api.v1.schemas import InstitutionItem, InstitutionProfile
from fundguard.workspace.queries import institution_profile

router = APIRouter(tags=["institutions"])


@router.get("/runs/{run_id}/institutions", response_model=list[InstitutionItem], summary="有疑点的机构 (按金额)")
def list_institutions(run: RunDep, who: Who) -> list[dict]:
    return run.index.institutions(who.scope)


@router.get("/runs/{run_id}/institutions/{fixmedins_code}", response_model=InstitutionProfile, summary="机构画像")
def read_institution(run: RunDep, svc: Svc, who: Who, fixmedins_code: str) -> dict:
    profile = institution_profile(svc.workspace, run, who, fixmedins_code)
    if profile is None:
        raise HTTPException(404, "机构不存在或不在您的权限范围内")
    return profile
