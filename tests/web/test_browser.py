"""Browser tests: headless Chromium from the distribution (never downloaded) driven by Playwright against a real
uvicorn server over a synthetic audit. Screenshots of every page go to test-artifacts/screenshots/.

Chromium missing fails the suite; only FUNDGUARD_SKIP_BROWSER=1 skips it explicitly."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("FUNDGUARD_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(app):
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if os.environ.get("FUNDGUARD_SKIP_BROWSER") == "1":
        pytest.skip("FUNDGUARD_SKIP_BROWSER=1")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/ensure-browser (or set FUNDGUARD_SKIP_BROWSER=1)")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS, accept_downloads=True,
            viewport={"width": 1400, "height": 1000}, locale="zh-CN",
        )
        yield context
        context.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _login(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/runs/latest/flags")
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/runs/latest/flags")


def test_auditor_walks_every_page(server, browser, users, tmp_path):
    from openpyxl import load_workbook

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{server}/login")
    _shot(page, "01-login")
    _login(page, server, users["auditor"])

    page.goto(f"{server}/runs/latest/")
    assert page.locator("[data-testid=kpis]").is_visible()
    page.wait_for_function("document.querySelectorAll('canvas.chart').length > 0 && "
                           "[...document.querySelectorAll('canvas.chart')].every(c => c.width > 0)")
    _shot(page, "02-dashboard")

    page.goto(f"{server}/runs/latest/flags")
    total = int(page.locator("[data-testid=flag-total]").inner_text().replace(",", ""))
    assert total > 0
    _shot(page, "03-flags")
    page.select_option("select[name=sev_deg]", "1")
    page.click("[data-testid=flag-filter] button[type=submit]")
    page.wait_for_url("**sev_deg=1**")
    filtered = int(page.locator("[data-testid=flag-total]").inner_text().replace(",", ""))
    assert 0 < filtered <= total
    assert page.locator("table.flags .sev").all_inner_texts() and set(page.locator("table.flags .sev").all_inner_texts()) == {"明确违规"}
    _shot(page, "04-flags-filtered")

    with page.expect_download() as info:
        page.click("[data-testid=export]")
    target = tmp_path / "export.xlsx"
    info.value.save_as(target)
    rows = list(load_workbook(target, read_only=True)["疑点"].iter_rows(values_only=True))
    assert len(rows) - 1 == filtered and {r[4] for r in rows[1:]} == {"明确违规"}

    page.locator("table.flags a.flag-link").first.click()
    page.wait_for_url("**/flags/*")
    assert page.locator("[data-testid=flag-headline]").is_visible()
    assert page.locator("[data-testid=legal-basis]").is_visible()
    assert page.locator("[data-testid=fee-lines]").is_visible()
    _shot(page, "05-flag-detail")

    page.goto(f"{server}/runs/latest/institutions")
    _shot(page, "06-institutions")
    page.locator("[data-testid=institution-table] a").first.click()
    page.wait_for_url("**/institutions/*")
    assert "机构画像" in page.content()
    _shot(page, "07-institution")

    page.goto(f"{server}/rules")
    assert page.locator("[data-testid=rule-table] tbody tr").count() > 10
    _shot(page, "08-rules")
    page.goto(f"{server}/rules/A01")
    assert page.locator("[data-testid=rule-examples]").is_visible()
    _shot(page, "09-rule")
    page.goto(f"{server}/rules/coverage")
    assert "已实现" in page.locator("[data-testid=coverage-summary]").inner_text()
    _shot(page, "10-coverage")
    assert not errors, errors
    page.close()


def test_institution_user_cannot_see_another_institution(server, browser, users):
    page = browser.new_page()
    _login(page, server, users["auditor"])
    other = page.request.get(f"{server}/api/v1/runs/latest/flags",
                             params={"fixmedins_code": users["other_org"], "limit": "1"}).json()["items"][0]["flag_id"]
    _login(page, server, users["institution"])
    assert users["own_org"] in page.locator("[data-testid=current-user]").inner_text()
    codes = set(page.locator("table.flags tbody tr td:nth-child(3)").all_inner_texts())
    assert codes and users["other_org"] not in " ".join(codes)
    _shot(page, "11-institution-user-flags")
    response = page.goto(f"{server}/runs/latest/flags/{other}")
    assert response.status == 404
    assert "不在您的权限范围内" in page.locator("[data-testid=error-message]").inner_text()
    _shot(page, "12-institution-user-denied")
    api = page.request.get(f"{server}/api/v1/runs/latest/flags/{other}")
    assert api.status == 404
    page.close()
