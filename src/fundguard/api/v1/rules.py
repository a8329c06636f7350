"""The rule library (规则库) and its coverage of the national framework."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from fundguard.api.v1.deps import Svc, Who

router = APIRouter(tags=["rules"])


@router.get("/rules", summary="全部规则: 文档、参数、国家规则编码、示例")
def list_rules(svc: Svc, who: Who) -> list[dict]:
    return svc.workspace.rule_docs()


@router.get("/rules/coverage", summary="国家规则框架覆盖情况 (按规则声明的 gz_codes 统计)")
def read_coverage(svc: Svc, who: Who) -> dict:
    return svc.workspace.coverage()


@router.get("/rules/{rule_id}", summary="一条规则")
def read_rule(rule_id: str, svc: Svc, who: Who) -> dict:
    doc = svc.workspace.rule_doc(rule_id.upper())
    if doc is None:
        raise HTTPException(404, f"规则 {rule_id} 不存在")
    return doc
