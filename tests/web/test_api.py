"""The app over a real synthetic audit, through HTTP: log-in and CSRF, scopes per role (institution users see
only their institution, on pages and in the API), masking in lists, evidence, Excel export, OpenAPI, no CDN."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from .conftest import PASSWORD, csrf_from, login


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def api_login(client, username: str) -> None:
    r = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text


def test_everything_needs_a_login(client):
    assert client.get("/api/v1/runs").status_code == 401
    assert client.get("/api/v1/rules").status_code == 401
    r = client.get("/runs/latest/flags?rule_id=A01", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Fruns%2Flatest%2Fflags")
    assert client.get("/static/app.css").status_code == 200


def test_login_needs_csrf_token_and_right_password(client, users):
    r = client.post("/login", data={"username": users["auditor"], "password": PASSWORD, "next": "/"})
    assert r.status_code == 400
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"username": users["auditor"], "password": "nope-nope-nope", "csrf_token": token})
    assert r.status_code == 401
    r = login(client, users["auditor"])
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/api/v1/session").json()["role"] == "auditor"


def test_login_never_redirects_off_site(client, users):
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"username": users["auditor"], "password": PASSWORD, "csrf_token": token,
                                    "next": "//evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_logout_needs_csrf_and_ends_the_session(client, users):
    login(client, users["auditor"])
    html = client.get("/runs/latest/").text
    client.post("/logout", data={"csrf_token": "forged"})
    assert client.get("/api/v1/session").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_from(html)})
    assert client.get("/api/v1/session").status_code == 401


def test_password_change_ends_existing_sessions(client, app_services):
    from fundguard.workspace import Role

    app_services.users.create("temp_aud", PASSWORD, Role.AUDITOR)
    api_login(client, "temp_aud")
    assert client.get("/api/v1/runs").status_code == 200
    app_services.users.set_password("temp_aud", PASSWORD + "-2")
    assert client.get("/api/v1/runs").status_code == 401


def test_flags_list_is_paginated_filtered_and_masked(client, users):
    api_login(client, users["auditor"])
    run = client.get("/api/v1/runs/latest").json()
    assert run["flags"] > 20
    seen, after = [], None
    while True:
        page = client.get("/api/v1/runs/latest/flags", params={"limit": 7, **({"after": after} if after else {})}).json()
        seen += page["items"]
        after = page["next_cursor"]
        if not after:
            break
    assert len(seen) == run["flags"] == page["total"]
    amounts = [Decimal(f["vola_amt"]) for f in seen]
    assert amounts == sorted(amounts, reverse=True)
    assert sum(amounts) == Decimal(run["vola_amt"])
    assert all("*" in f["psn_no"] for f in seen if f["psn_no"])
    rule = seen[0]["rule_id"]
    only = client.get("/api/v1/runs/latest/flags", params={"rule_id": rule, "limit": 1000}).json()
    assert only["items"] and {f["rule_id"] for f in only["items"]} == {rule}
    assert only["total"] == sum(1 for f in seen if f["rule_id"] == rule)
    assert client.get("/api/v1/runs/latest/flags", params={"after": "garbage"}).status_code == 422


def test_flag_evidence(client, users):
    api_login(client, users["auditor"])
    items = client.get("/api/v1/runs/latest/flags", params={"limit": 200}).json()["items"]
    line = next(f for f in items if f["granularity"] == "line")
    flag = client.get(f"/api/v1/runs/latest/flags/{line['flag_id']}").json()
    assert flag["fee_lines"] and flag["fee_lines"][0]["feedetl_sn"] in flag["feedetl_sn"]
    assert flag["rule"]["legal_basis"]["regulation"].startswith("《")
    assert "params" in flag["evidence"] and flag["message"]
    assert "*" not in (flag["psn_no"] or "") and flag["identifiers_masked"] is False
    assert flag["person"] is not None and flag["institution"] is not None
    html = client.get(f"/runs/latest/flags/{line['flag_id']}").text
    for part in ("疑点所涉费用明细", "违规依据", "知识库条目", "该参保人的其他疑点", flag["fee_lines"][0]["feedetl_sn"]):
        assert part in html


def test_admin_sees_identifiers_masked_on_a_flag(client, users):
    api_login(client, users["admin"])
    fid = client.get("/api/v1/runs/latest/flags", params={"limit": 1}).json()["items"][0]["flag_id"]
    flag = client.get(f"/api/v1/runs/latest/flags/{fid}").json()
    assert flag["identifiers_masked"] is True and "*" in flag["psn_no"]


def test_institution_user_sees_only_their_institution(client, users):
    api_login(client, users["auditor"])
    other = client.get("/api/v1/runs/latest/flags", params={"fixmedins_code": users["other_org"], "limit": 1}).json()
    other_id = other["items"][0]["flag_id"]
    client.delete("/api/v1/session")

    api_login(client, users["institution"])
    page = client.get("/api/v1/runs/latest/flags", params={"limit": 1000}).json()
    assert page["items"] and {f["fixmedins_code"] for f in page["items"]} == {users["own_org"]}
    assert client.get("/api/v1/runs/latest/flags", params={"fixmedins_code": users["other_org"]}).json()["total"] == 0
    assert client.get(f"/api/v1/runs/latest/flags/{other_id}").status_code == 404
    assert client.get(f"/api/v1/runs/latest/institutions/{users['other_org']}").status_code == 404
    assert [i["fixmedins_code"] for i in client.get("/api/v1/runs/latest/institutions").json()] == [users["own_org"]]
    summary = client.get("/api/v1/runs/latest/summary").json()
    assert [r["key"] for r in summary["by_institution"]] == [users["own_org"]]
    assert summary["totals"]["flags"] == page["total"]
    assert client.get(f"/runs/latest/flags/{other_id}").status_code == 404
    assert client.get(f"/runs/latest/institutions/{users['other_org']}").status_code == 404
    wb = load_workbook(io.BytesIO(client.get("/api/v1/runs/latest/flags.xlsx").content), read_only=True)
    orgs = {row[5] for row in wb["疑点"].iter_rows(min_row=2, values_only=True)}
    assert orgs == {users["own_org"]}


def test_excel_export_follows_the_filter(client, users):
    api_login(client, users["auditor"])
    sev = 2
    want = client.get("/api/v1/runs/latest/flags", params={"sev_deg": sev, "limit": 1000}).json()
    r = client.get("/runs/latest/flags.xlsx", params={"sev_deg": sev})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content), read_only=True)
    rows = list(wb["疑点"].iter_rows(values_only=True))
    assert rows[0][:3] == ("疑点编号", "规则编号", "规则名称")
    assert [row[0] for row in rows[1:]] == [f["flag_id"] for f in want["items"]]
    assert [Decimal(str(row[13])).quantize(Decimal("0.01")) for row in rows[1:]] == [Decimal(f["vola_amt"]) for f in want["items"]]
    assert all("*" in (row[11] or "*") for row in rows[1:])


def test_pages_render(client, users):
    login(client, users["auditor"])
    run = client.get("/api/v1/runs/latest").json()["run_id"]
    org = users["own_org"]
    for path, text in [
        (f"/runs/{run}/", "按规则类别"), ("/runs/latest/flags?sort=date_desc&sev_deg=1", "疑点"),
        (f"/runs/{run}/institutions", "机构"), (f"/runs/{run}/institutions/{org}", "月度趋势"),
        ("/rules", "规则库"), ("/rules/A01", "限性别项目"), ("/rules/coverage", "已实现"), ("/runs", run),
    ]:
        r = client.get(path)
        assert r.status_code == 200 and text in r.text, path
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        # everything local: no script, style or image from another host
        assert not re.search(r'(src|href)="(https?:)?//', r.text), path
    assert client.get("/rules/Z99").status_code == 404


def test_rules_api_and_coverage(client, users):
    api_login(client, users["auditor"])
    rules = client.get("/api/v1/rules").json()
    assert rules and all(r["examples"] and r["legal_basis"]["regulation"] for r in rules)
    cov = client.get("/api/v1/rules/coverage").json()
    assert 0 < cov["implemented"] <= cov["total"]
    codes = {c for r in rules for c in r["gz_codes"]}
    assert {row["gz_code"] for row in cov["rows"] if row["rules"]} <= codes


def test_openapi_documents_the_v1_api(client):
    spec = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/runs", "/api/v1/runs/{run_id}/flags", "/api/v1/runs/{run_id}/flags/{flag_id}",
                 "/api/v1/runs/{run_id}/flags.xlsx", "/api/v1/runs/{run_id}/institutions/{fixmedins_code}",
                 "/api/v1/rules", "/api/v1/rules/coverage", "/api/v1/runs/{run_id}/summary", "/api/v1/session"):
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/api/v1/runs/{run_id}/flags"]["get"]["parameters"]}
    assert {"rule_id", "sev_deg", "fixmedins_code", "admdvs", "date_from", "amount_min", "after", "limit"} <= params


def test_the_dashboard_shows_what_the_run_says_about_its_inputs(app, app_services, users):
    # the default edition's DRG and exclusive-pair tables are sample rows only: a bureau reads that on the
    # dashboard, not only in run.json; an institution's user does not get the bureau's notes
    from fastapi.testclient import TestClient

    from .conftest import login

    run = app_services.workspace.latest()
    with TestClient(app) as c:
        login(c, users["auditor"])
        page = c.get(f"/runs/{run.run_id}/").text
        assert 'data-testid="run-warnings"' in page and "source = sample" in page
    with TestClient(app) as c:
        login(c, users["institution"])
        page = c.get(f"/runs/{run.run_id}/").text
        assert "运行提示" not in page


def test_run_times_are_shown_in_beijing_time(client, users, synth_workspace):
    # run.json records UTC (an offset in the text); an auditor reads China Standard Time, UTC+8
    import datetime as dt
    import json

    from fundguard.web.pages import _local_time

    assert _local_time("2026-11-24T20:30:05+00:00") == "2026-11-25 04:30:05"  # the next day in Beijing
    assert _local_time("2026-11-25T04:30:05+08:00") == "2026-11-25 04:30:05"
    assert _local_time("2026-11-25 04:30") == "2026-11-25 04:30"  # no offset: not guessed, shown as it is
    finished = json.loads((synth_workspace / "audit" / "run.json").read_text(encoding="utf-8"))["finished"]
    assert finished.endswith("+00:00")
    beijing = (dt.datetime.fromisoformat(finished).replace(tzinfo=None) + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
    login(client, users["auditor"])
    runs = client.get("/runs").text
    assert "完成时间（北京时间）" in runs and beijing in runs and finished not in runs
    assert beijing in client.get("/runs/latest/").text
