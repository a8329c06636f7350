"""Shared fixtures: the default knowledge edition in memory once per session; a service per test."""

from __future__ import annotations

import pytest

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
        svc = RealtimeService(RealtimeConfig(**kw), knowledge=knowledge)
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
