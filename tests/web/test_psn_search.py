"""Exact searches by `psn_no`: each one is in the access log with the user and the identifier masked; a role
that sees identifiers masked may search a bounded number of distinct identifiers per window (429 in Chinese
on the API, an error on the page), so it cannot test guesses of a person's identifier without end."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text
from typer.testing import CliRunner

from .conftest import PASSWORD, login

LIMIT = 3


@pytest.fixture(scope="module")
def limited(synth_workspace, tmp_path_factory):
    """An app over the synthetic audit allowing 3 distinct exact psn_no searches per 10 minutes."""
    from fundguard.api.app import create_app
    from fundguard.workspace import AppConfig, Role, Services

    db = tmp_path_factory.mktemp("psnsearch") / "app.db"
    services = Services(AppConfig(workspace=synth_workspace, db_url=f"sqlite:///{db}", psn_search_limit=LIMIT,
                                  psn_search_window=600))
    for name, role in (("adm", Role.ADMIN), ("adm2", Role.ADMIN), ("aud", Role.AUDITOR)):
        services.users.create(name, PASSWORD, role)
    return create_app(services.config, services=services), services


@pytest.fixture(scope="module")
def real_psn(synth_workspace, limited) -> str:
    from fundguard.workspace import FlagFilter, Scope

    _, services = limited
    return next(f["psn_no"] for f in services.workspace.latest().index.iter_flags(FlagFilter(), Scope()) if f["psn_no"])


def api_login(client, username: str) -> None:
    assert client.post("/api/v1/session", json={"username": username, "password": PASSWORD}).status_code == 200


def _log(services, username: str) -> list[tuple[str, str]]:
    return [(action, obj) for _, user, action, obj in reversed(services.users.access_log(1000))
            if user == username and action.startswith("psn_search")]


def test_a_masked_role_may_search_a_bounded_number_of_distinct_ids(limited, real_psn):
    from fundguard.contract.masking import mask_id

    app, services = limited
    guesses = [f"{real_psn}X{i}" for i in range(LIMIT)]  # three more distinct identifiers
    with TestClient(app) as client:
        api_login(client, "adm")
        found = client.get("/api/v1/runs/latest/flags", params={"psn_no": real_psn})
        assert found.status_code == 200 and found.json()["total"] > 0
        assert {f["psn_no"] for f in found.json()["items"]} == {mask_id(real_psn)}
        for guess in guesses[:LIMIT - 1]:
            r = client.get("/api/v1/runs/latest/flags", params={"psn_no": guess})
            assert r.status_code == 200 and r.json()["total"] == 0
        # the same identifiers again (a further page, the export of the same search) are not new ones
        assert client.get("/api/v1/runs/latest/flags", params={"psn_no": real_psn, "limit": 1}).status_code == 200
        assert client.get("/api/v1/runs/latest/flags.xlsx", params={"psn_no": guesses[0]}).status_code == 200

        refused = client.get("/api/v1/runs/latest/flags", params={"psn_no": guesses[LIMIT - 1]})
        assert refused.status_code == 429
        assert "过于频繁" in refused.json()["detail"] and f"最多查询 {LIMIT} 个" in refused.json()["detail"]
        assert 1 <= int(refused.headers["retry-after"]) <= 600
        assert client.get("/api/v1/runs/latest/flags.xlsx", params={"psn_no": "P-OTHER"}).status_code == 429
        # searches already counted still answer; other filters are not limited
        assert client.get("/api/v1/runs/latest/flags", params={"psn_no": real_psn}).status_code == 200
        assert client.get("/api/v1/runs/latest/flags", params={"rule_id": "A01"}).status_code == 200

    log = _log(services, "adm")
    assert [a for a, _ in log] == ["psn_search"] * 5 + ["psn_search_limited"] * 2 + ["psn_search"]
    run_id = services.workspace.latest().run_id
    assert log[0][1] == f"{run_id} api flags psn_no={mask_id(real_psn)}"
    assert log[4][1].startswith(f"{run_id} api export psn_no=")
    everything = " ".join(obj for _, obj in log)
    assert real_psn not in everything and not [g for g in guesses if g in everything]
    with services.users.engine.connect() as con:
        stored = con.execute(text("SELECT username, digest FROM app_id_search")).all()
    assert stored and not [d for _, d in stored if real_psn in d or any(g in d for g in guesses)]


def test_the_pages_share_the_budget_and_say_so_in_chinese(limited, real_psn):
    from fundguard.contract.masking import mask_id

    app, services = limited
    with TestClient(app) as client:
        assert login(client, "adm2").status_code == 303
        for i in range(LIMIT):
            assert client.get("/runs/latest/flags", params={"psn_no": f"Q{i:08d}"}).status_code == 200
        page = client.get("/runs/latest/flags", params={"psn_no": real_psn})
        assert page.status_code == 429 and page.headers["retry-after"]
        assert "按参保人编号精确查询过于频繁" in page.text and 'class="error"' in page.text
        assert 'data-testid="flag-total">0<' in page.text  # nothing of the refused search is shown
        export = client.get("/runs/latest/flags.xlsx", params={"psn_no": real_psn})
        assert export.status_code == 429 and "查询过于频繁" in export.text
        api_login(client, "adm2")  # the API counts the same searches (the database does)
        assert client.get("/api/v1/runs/latest/flags", params={"psn_no": "Q99999999"}).status_code == 429
        assert client.get("/api/v1/runs/latest/flags", params={"psn_no": "Q00000001"}).status_code == 200
        assert client.get("/runs/latest/flags").status_code == 200  # the browser without psn_no works
    actions = [a for a, obj in _log(services, "adm2")]
    assert actions.count("psn_search_limited") == 3 and actions.count("psn_search") == LIMIT + 1
    run_id = services.workspace.latest().run_id
    assert f"{run_id} web flags psn_no=Q00*****0" in [obj for _, obj in _log(services, "adm2")]
    assert f"{run_id} web export psn_no={mask_id(real_psn)}" in [obj for _, obj in _log(services, "adm2")]


def test_the_limit_lasts_for_the_window_only(limited):
    app, services = limited
    services.users.create("adm3", PASSWORD, "admin")
    with TestClient(app) as client:
        api_login(client, "adm3")
        for i in range(LIMIT):
            assert client.get("/api/v1/runs/latest/flags", params={"psn_no": f"W{i:08d}"}).status_code == 200
        assert client.get("/api/v1/runs/latest/flags", params={"psn_no": "W-NEXT"}).status_code == 429
        with services.users.engine.begin() as con:  # ten minutes and a second pass
            con.execute(text("UPDATE app_id_search SET at = :at WHERE username = 'adm3'"),
                        {"at": dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=601)})
        assert client.get("/api/v1/runs/latest/flags", params={"psn_no": "W-NEXT"}).status_code == 200
        with services.users.engine.connect() as con:
            left = con.execute(text("SELECT count(*) FROM app_id_search WHERE username = 'adm3'")).scalar()
    assert left == 1  # the expired searches are gone from the table, not only ignored


def test_roles_that_see_whole_identifiers_are_logged_not_limited(limited):
    app, services = limited
    with TestClient(app) as client:
        api_login(client, "aud")
        for i in range(LIMIT * 3):
            assert client.get("/api/v1/runs/latest/flags", params={"psn_no": f"A{i:08d}"}).status_code == 200
    log = _log(services, "aud")
    assert len(log) == LIMIT * 3 and {a for a, _ in log} == {"psn_search"}
    assert log[0][1] == f"{services.workspace.latest().run_id} api flags psn_no=A00*****0" and "A00000000" not in " ".join(o for _, o in log)


def test_limit_and_window_are_configurable(monkeypatch, tmp_path):
    from fundguard.cli import app as cli_app
    from fundguard.workspace import AppConfig

    monkeypatch.delenv("FUNDGUARD_PSN_SEARCH_LIMIT", raising=False)
    monkeypatch.delenv("FUNDGUARD_PSN_SEARCH_WINDOW", raising=False)
    assert AppConfig().resolved_psn_search_limit() == (30, 600)
    monkeypatch.setenv("FUNDGUARD_PSN_SEARCH_LIMIT", "5")
    monkeypatch.setenv("FUNDGUARD_PSN_SEARCH_WINDOW", "60")
    assert AppConfig().resolved_psn_search_limit() == (5, 60)
    assert AppConfig(psn_search_limit=7).resolved_psn_search_limit() == (7, 60)
    monkeypatch.setenv("FUNDGUARD_PSN_SEARCH_LIMIT", "many")
    with pytest.raises(ValueError, match="FUNDGUARD_PSN_SEARCH_LIMIT"):
        AppConfig().resolved_psn_search_limit()
    r = CliRunner().invoke(cli_app, ["serve", "--workspace", str(tmp_path / "ws"), "--port", "1"])
    assert r.exit_code == 2 and "FUNDGUARD_PSN_SEARCH_LIMIT 应为整数" in r.output and "正在启动" not in r.output
    r = CliRunner().invoke(cli_app, ["serve", "--workspace", str(tmp_path / "ws"), "--psn-search-window", "0"])
    assert r.exit_code == 2


def test_excel_of_a_psn_search_is_masked(limited, real_psn):
    from fundguard.contract.masking import mask_id

    app, services = limited
    services.users.create("adm4", PASSWORD, "admin")
    with TestClient(app) as client:
        api_login(client, "adm4")
        r = client.get("/api/v1/runs/latest/flags.xlsx", params={"psn_no": real_psn})
    wb = load_workbook(io.BytesIO(r.content), read_only=True)
    rows = list(wb["疑点"].iter_rows(min_row=2, values_only=True))
    about = dict(row[:2] for row in wb["筛选条件"].iter_rows(values_only=True))
    cells = [str(c) for row in rows for c in row if c is not None] + [str(v) for v in about.values()]
    assert rows and mask_id(real_psn) in cells and not [c for c in cells if real_psn in c]
    assert about["参保人 (已脱敏)"] == mask_id(real_psn)  # the export says whose flags it holds


def test_the_filter_form_keeps_the_person_searched(limited, real_psn):
    # the person filter is a field of the form: shown with the value searched, kept when the form is sent again
    app, _ = limited
    with TestClient(app) as client:
        assert login(client, "aud").status_code == 303
        page = client.get("/runs/latest/flags", params={"psn_no": real_psn}).text
        start = page.index('data-testid="flag-filter"')
        form = page[start:page.index('</form>', start)]
        assert f'name="psn_no" value="{real_psn}"' in form
        assert 'name="psn_no" value=""' in client.get("/runs/latest/flags").text
