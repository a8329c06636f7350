"""HTTP API v1: one router module per resource (session, runs, flags, institutions, rules)."""

from fastapi import APIRouter

from fundguard.api.v1 import flags, institutions, rules, runs, session


def build_router() -> APIRouter:
    router = APIRouter()
    for module in (session, runs, flags, institutions, rules):
        router.include_router(module.router)
    return router
