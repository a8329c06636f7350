"""A bureau's rule library (`fundguard rules export`, then edited) in the real-time checks and the app:
edited names, parameters and scenes are read from it; a `sql` rule whose SQL was edited (its Python twin
implements the built-in SQL only) or a new `sql` rule is judged in real time by its own SQL, and the
start says so."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fundguard.cli import app as cli_app
from fundguard.engine.registry import load_registry, rule_files, rules_root

from .payloads import FEMALE_ONLY_DRUG, body, order, request

DRUG = {"hilist_type": "101", "chrg_type": "11", "pric": 25.5}


def _export(target: Path) -> Path:
    root = rules_root()
    for path in rule_files(root, ".yaml", ".sql"):
        dest = target / path.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    return target


def _edit(lib: Path, pattern: str, old: str, new: str) -> None:
    path = next(lib.glob(f"*/{pattern}"))
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def ceiling_item():
    """An item with a price ceiling in the default edition and no other restriction on a plain visit."""
    from fundguard.kb import Edition, default_edition_path

    hilist = Edition.open(default_edition_path()).tables["kb_hilist"].to_pylist()
    return next(r for r in hilist if r.get("pric_uplmt_amt") and not r["hilist_code"].endswith("*")
                and r["hilist_code"].startswith("00"))


def _b01(service, item, over: float) -> list[dict]:
    price = float(item["pric_uplmt_amt"]) + over
    payload = request(gend="1", orders=[order("RX-1", item["hilist_code"], pric=price)])
    reply = service.handle(body(payload), {})
    assert reply.status == 200 and reply.body["infcode"] == 0, reply.body
    return [r for r in reply.body["output"]["result"] if r["rule_id"] == "B01"]


def test_library_names_and_parameters_reach_real_time(make_service, tmp_path, ceiling_item):
    lib = _export(tmp_path / "lib")
    _edit(lib, "A01_*.yaml", "name: 限性别项目", "name: 限性别项目（本局）")
    _edit(lib, "B01_*.yaml", "default: 0.005", "default: 50")
    builtin = make_service(auth=False)
    local = make_service(auth=False, registry=load_registry(lib))
    assert len(_b01(builtin, ceiling_item, 10)) == 1
    assert _b01(local, ceiling_item, 10) == []  # within the library's tolerance of 50
    assert len(_b01(local, ceiling_item, 60)) == 1
    payload = request(gend="1", orders=[order("RX-BAD", FEMALE_ONLY_DRUG, **DRUG)])
    a01 = [r for r in local.handle(body(payload), {}).body["output"]["result"] if r["rule_id"] == "A01"]
    assert [r["rule_name"] for r in a01] == ["限性别项目（本局）"]


def test_edited_sql_rule_runs_by_its_sql_in_real_time(make_service, tmp_path, ceiling_item, caplog):
    lib = _export(tmp_path / "lib")
    _edit(lib, "B01_*.sql", "> $tolerance", "> $tolerance + 100")
    with caplog.at_level(logging.INFO, logger="fundguard.realtime"):
        local = make_service(auth=False, registry=load_registry(lib))
    said = [r.getMessage() for r in caplog.records if "按规则 SQL" in r.getMessage()]
    assert len(said) == 1 and "B01" in said[0] and "B02" not in said[0]
    b01 = local.registry.get("B01")
    assert local.evaluator.by_sql(b01) and local.evaluator.skip_reason(b01) is None
    assert _b01(local, ceiling_item, 60) == []  # the twin would flag it; the edited SQL does not
    flagged = _b01(local, ceiling_item, 150)
    assert len(flagged) == 1 and flagged[0]["vola_amt"] == 150.0
    assert [d["rx_id"] for d in flagged[0]["judge_result_detail_dtos"]] == ["RX-1"]
    # the other twins still run, and an unedited copy of a sql rule keeps its twin (line endings aside)
    assert not local.evaluator.by_sql(local.registry.get("B02"))
    crlf = _export(tmp_path / "crlf")
    sql = next(crlf.glob("*/B01_*.sql"))
    sql.write_bytes(sql.read_bytes().replace(b"\n", b"\r\n"))
    same = make_service(auth=False, registry=load_registry(crlf))
    assert not same.evaluator.by_sql(same.registry.get("B01"))
    assert len(_b01(same, ceiling_item, 60)) == 1


def test_a_new_sql_rule_of_the_library_runs_in_real_time(make_service, tmp_path, ceiling_item):
    lib = _export(tmp_path / "lib")
    b01_yaml, b01_sql = next(lib.glob("*/B01_*.yaml")), next(lib.glob("*/B01_*.sql"))
    (b01_yaml.parent / "B12_price_far_over_ceiling.yaml").write_text(
        b01_yaml.read_text(encoding="utf-8").replace("id: B01", "id: B12").replace("slug: price_over_ceiling", "slug: price_far_over_ceiling")
        .replace("name: 超标准收费", "name: 远超限价收费"), encoding="utf-8")
    (b01_yaml.parent / "B12_price_far_over_ceiling.sql").write_text(
        b01_sql.read_text(encoding="utf-8").replace("> $tolerance", "> $tolerance + 100"), encoding="utf-8")
    local = make_service(auth=False, registry=load_registry(lib))
    price = float(ceiling_item["pric_uplmt_amt"]) + 150
    reply = local.handle(body(request(gend="1", orders=[order("RX-1", ceiling_item["hilist_code"], pric=price)])), {})
    rules = sorted(r["rule_id"] for r in reply.body["output"]["result"])
    assert "B01" in rules and "B12" in rules


def test_serve_app_reads_the_library(tmp_path, ceiling_item):
    from fundguard.api.app import create_app
    from fundguard.api.national import UNIFIED
    from fundguard.workspace import AppConfig

    lib = _export(tmp_path / "lib")
    _edit(lib, "A01_*.yaml", "name: 限性别项目", "name: 限性别项目（本局）")
    _edit(lib, "B01_*.sql", "> $tolerance", "> $tolerance + 100")
    config = AppConfig(workspace=tmp_path / "ws", db_url=f"sqlite:///{tmp_path / 'app.db'}", no_auth=True,
                       rules_dir=lib, national={"background_log": False})
    (tmp_path / "ws").mkdir()
    with TestClient(create_app(config), client=("127.0.0.1", 50000)) as client:  # no-auth: local clients only
        doc = client.get("/api/v1/rules/A01")
        assert doc.status_code == 200 and doc.json()["name"] == "限性别项目（本局）"
        payload = request(gend="1", orders=[order("RX-BAD", FEMALE_ONLY_DRUG, **DRUG),
                                            order("RX-2", ceiling_item["hilist_code"],
                                                  pric=float(ceiling_item["pric_uplmt_amt"]) + 60)])
        reply = client.post(UNIFIED, content=body(payload), headers={"Content-Type": "application/json"})
        results = reply.json()["output"]["result"]
        assert [r["rule_name"] for r in results if r["rule_id"] == "A01"] == ["限性别项目（本局）"]
        assert not [r for r in results if r["rule_id"] == "B01"]  # +60 is within the edited SQL's margin


def test_serve_refuses_a_bad_library_before_listening(tmp_path):
    lib = _export(tmp_path / "lib")
    _edit(lib, "A01_*.yaml", "severity: 1", "severity: high")
    r = CliRunner().invoke(cli_app, ["serve", "--rules-dir", str(lib), "--workspace", str(tmp_path / "ws"), "--port", "1"])
    assert r.exit_code == 1
    assert "A01_item_for_other_sex.yaml" in r.output and "severity" in r.output
    assert "正在启动" not in r.output


def test_rules_test_says_which_rules_real_time_judges_by_their_sql(tmp_path):
    lib = _export(tmp_path / "lib")
    _edit(lib, "B01_*.sql", "> $tolerance", "> $tolerance + 0")  # same flags, other SQL
    runner = CliRunner()
    r = runner.invoke(cli_app, ["rules", "test", "B01", "--rules-dir", str(lib)])
    assert r.exit_code == 0, r.output
    assert "实时审核 (serve): B01 的 SQL 与内置版本不同" in r.output and "按规则 SQL" in r.output
    r = runner.invoke(cli_app, ["rules", "test", "B02", "--rules-dir", str(lib)])
    assert r.exit_code == 0 and "实时审核" not in r.output
