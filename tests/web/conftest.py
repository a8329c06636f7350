"""Fixtures for the web tests: a real synthetic audit (synth → engine), an app over it, users of each role."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

PASSWORD = "correct-horse-battery"


def pg_url_with_schema() -> tuple[str, str] | None:
    """FUNDGUARD_TEST_PG_URL with a fresh schema as search_path (so parallel suites never collide)."""
    url = os.environ.get("FUNDGUARD_TEST_PG_URL")
    if not url:
        return None
    schema = f"fg_web_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", schema


@pytest.fixture(scope="session")
def synth_workspace(tmp_path_factory) -> Path:
    """`ws/audit` holds flags.parquet and run.json of an audit of a small synthetic dataset."""
    from fundguard.engine import run_audit
    from fundguard.synth import generate

    root = tmp_path_factory.mktemp("websynth")
    generate(root / "dataset", persons=1500, seed=11)
    run_audit(root / "dataset", root / "ws" / "audit")
    return root / "ws"


@pytest.fixture(scope="session")
def app_services(synth_workspace):
    from fundguard.workspace import AppConfig, Services

    config = AppConfig(workspace=synth_workspace, db_url=f"sqlite:///{synth_workspace / 'app.db'}")
    return Services(config)


@pytest.fixture(scope="session")
def users(app_services) -> dict[str, str]:
    """username per role; the institution user is bound to the institution with the most flags."""
    from fundguard.workspace import Role, Scope

    store = app_services.users
    run = app_services.workspace.latest()
    orgs = [r["fixmedins_code"] for r in run.index.institutions(Scope()) if r["fixmedins_code"]]
    assert len(orgs) >= 2, "the synthetic audit should flag at least two institutions"
    store.create("admin1", PASSWORD, Role.ADMIN)
    store.create("auditor1", PASSWORD, Role.AUDITOR)
    store.create("inst1", PASSWORD, Role.INSTITUTION, fixmedins_code=orgs[0])
    return {"admin": "admin1", "auditor": "auditor1", "institution": "inst1", "own_org": orgs[0], "other_org": orgs[1]}


@pytest.fixture(scope="session")
def app(app_services, users):
    from fundguard.api.app import create_app

    return create_app(app_services.config, services=app_services)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"},
                       follow_redirects=False)
