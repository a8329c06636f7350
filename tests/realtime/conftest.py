"""Shared fixtures: the default knowledge edition in memory once per session; a service per test; the
call-log database on SQLite, and on PostgreSQL too when FUNDGUARD_TEST_PG_URL is set (CI)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from fundguard.kb import Edition, default_edition_path
from fundguard.realtime.knowledge import Knowledge
from fundguard.realtime.service import RealtimeConfig, RealtimeService

from .payloads import ORG


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    kb = Knowledge.from_edition(Edition.open(default_edition_path()))
    kb.warm()
    return kb


@pytest.fixture
def make_service(tmp_path, knowledge):
    made = []

    def make(**kw) -> RealtimeService:
        kw.setdefault("db_url", f"sqlite:///{tmp_path}/rt-{len(made)}.db")
        kw.setdefault("background_log", False)
        kb = kw.pop("knowledge", knowledge)
        svc = RealtimeService(RealtimeConfig(**kw), knowledge=kb)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.close()


@pytest.fixture
def service(make_service):
    """Auth off (as `--no-auth`): the analysis tests; auth has its own tests."""
    return make_service(auth=False)


@pytest.fixture
def secure(make_service):
    svc = make_service(auth=True)
    paasid, secret = svc.store.register_institution(ORG)
    return svc, paasid, secret


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """A fresh call-log database URL: a SQLite file, or a new schema of FUNDGUARD_TEST_PG_URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rt.db'}"
        return
    url = os.environ.get("FUNDGUARD_TEST_PG_URL")
    if not url:
        pytest.skip("FUNDGUARD_TEST_PG_URL not set (CI sets it)")
    schema = f"fg_rt_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.split("?")[0])
    with admin.begin() as con:
        con.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as con:
            con.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
