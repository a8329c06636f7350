"""Engine behaviour: registry validation, parameter and rule selection errors, determinism, atomic output."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from fundguard.engine import ParamError, RuleFileError, UnknownRuleError, load_registry, run_audit  # noqa: F401
from fundguard.engine.macros import MacroError, expand
from fundguard.engine.registry import load_rule_file
from fundguard.engine.run import compute_run_id


# --- macros -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("brdy", "at", "age"),
    [
        ("1980-06-15", "2025-06-14", 44),
        ("1980-06-15", "2025-06-15", 45),  # the birthday counts the new age
        ("2004-02-29", "2022-02-28", 17),  # 29 Feb turns over on 1 Mar in other years
        ("2004-02-29", "2022-03-01", 18),
        ("2004-02-29", "2024-02-29", 20),  # and on 29 Feb in leap years
        ("2004-02-29", "2024-02-28", 19),
        ("2025-01-01", "2025-12-31", 0),
    ],
)
def test_age_years_macro(brdy, at, age):
    sql = expand(f"SELECT {{{{ age_years(DATE '{brdy}', TIMESTAMP '{at} 10:00:00') }}}}")
    assert duckdb.connect().execute(sql).fetchone()[0] == age


def test_date_macros():
    con = duckdb.connect()
    assert con.execute(expand("SELECT {{ days_between(DATE '2025-02-27', TIMESTAMP '2025-03-01 23:00:00') }}")).fetchone()[0] == 2
    assert str(con.execute(expand("SELECT {{ add_days({{ to_date(TIMESTAMP '2025-02-28 12:00:00') }}, 1) }}")).fetchone()[0]) == "2025-03-01"
    assert con.execute(expand("SELECT {{ seconds_between(TIMESTAMP '2025-01-01 09:00:00', TIMESTAMP '2025-01-01 15:00:00') }}")).fetchone()[0] == 21600


def test_spark_macros_expand():
    assert "datediff" in expand("{{ days_between(a, b) }}", "spark")


def test_unknown_macro():
    with pytest.raises(MacroError, match="未知的宏"):
        expand("SELECT {{ nope(x) }}")


# --- registry -----------------------------------------------------------------------------------------
def test_library_loads_and_ids_match_files(library):
    for rule in library:
        assert Path(rule.path).name.startswith(f"{rule.id}_{rule.slug}")


def _write(root: Path, name: str, text: str) -> Path:
    p = root / "a_restrictions" / name
    p.write_text(text, encoding="utf-8")
    return p


def test_bad_rule_file_names_file_and_field(bad_rules_root):
    src = (bad_rules_root / "a_restrictions" / "A01_item_for_other_sex.yaml").read_text(encoding="utf-8")
    path = _write(bad_rules_root, "A11_broken.yaml", src.replace("id: A01", "id: A11").replace("slug: item_for_other_sex", "slug: broken").replace("severity: 1", "severity: 7"))
    with pytest.raises(RuleFileError) as exc:
        load_rule_file(path)
    assert "A11_broken.yaml" in str(exc.value) and "severity" in str(exc.value)
    with pytest.raises(RuleFileError):
        load_registry(bad_rules_root)


def test_unknown_kind_and_unparseable_yaml(bad_rules_root):
    src = (bad_rules_root / "a_restrictions" / "A01_item_for_other_sex.yaml").read_text(encoding="utf-8")
    p = _write(bad_rules_root, "A12_x.yaml", src.replace("id: A01", "id: A12").replace("slug: item_for_other_sex", "slug: x").replace("kind: item_restriction", "kind: nope"))
    with pytest.raises(RuleFileError, match="kind"):
        load_rule_file(p)
    p2 = _write(bad_rules_root, "A13_y.yaml", "id: [unclosed")
    with pytest.raises(RuleFileError, match="YAML"):
        load_rule_file(p2)


def test_sql_kind_requires_sql_file(bad_rules_root):
    src = (bad_rules_root / "a_restrictions" / "A08_item_not_in_catalog.yaml").read_text(encoding="utf-8")
    p = _write(bad_rules_root, "A14_z.yaml", src.replace("id: A08", "id: A14").replace("slug: item_not_in_catalog", "slug: z"))
    with pytest.raises(RuleFileError, match=r"\.sql"):
        load_rule_file(p)


def test_unknown_rule_id(library):
    with pytest.raises(UnknownRuleError, match="Z99"):
        library.select(["A01", "Z99"])


def test_param_override_errors(library):
    rule = library.get("B01")
    assert rule.bind_params({"tolerance": "0.01"})["tolerance"] == Decimal("0.01")
    with pytest.raises(ParamError, match="nope"):
        rule.bind_params({"nope": 1})
    with pytest.raises(ParamError, match="tolerance"):
        rule.bind_params({"tolerance": "abc"})
    with pytest.raises(ParamError):
        rule.bind_params({"tolerance": -1})


# --- runs ---------------------------------------------------------------------------------------------
def test_two_runs_identical_flags(dataset, tmp_path, library):
    a, b = tmp_path / "a", tmp_path / "b"
    run_a = run_audit(dataset, a, registry=library)
    run_b = run_audit(dataset, b, registry=library)
    ta, tb = pq.read_table(a / "flags.parquet"), pq.read_table(b / "flags.parquet")
    assert ta.equals(tb)
    assert run_a["run_id"] == run_b["run_id"]
    assert ta.column("flag_id").to_pylist() == sorted(ta.column("flag_id").to_pylist())
    run = json.loads((a / "run.json").read_text(encoding="utf-8"))
    assert {r["id"] for r in run["rules"]} == set(library.rules)
    assert run["kb"]["content_hash"] and run["dataset"]["tables"]["feedetl"]["rows"] == 3
    skipped = {r["id"]: r["reason"] for r in run["rules"] if r["status"] == "skipped"}
    assert "hilist_complete" in skipped.get("A08", "")


def test_rule_selection_and_params_file(dataset, tmp_path, library):
    params = tmp_path / "p.yaml"
    params.write_text("B06: {}\n", encoding="utf-8")
    run = run_audit(dataset, tmp_path / "o", rules=["B06"], params_file=params, registry=library)
    assert [r["id"] for r in run["rules"]] == ["B06"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"rules": ["Z99"]}, UnknownRuleError),
        ({"params": {"B01": {"nope": 1}}}, ParamError),
        ({"params": {"Z99": {"x": 1}}}, UnknownRuleError),
    ],
)
def test_nothing_written_on_error(dataset, tmp_path, kwargs, error, library):
    out = tmp_path / "out"
    with pytest.raises(error):
        run_audit(dataset, out, registry=library, **kwargs)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_contract_failure_writes_nothing(tmp_path, library):
    from fundguard.contract import ContractError

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "psn.csv").write_text("psn_no\nP1\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(ContractError):
        run_audit(bad, out, registry=library)
    assert not out.exists()


def test_fee_lines_read_in_place_and_a_file_changed_mid_run_writes_nothing(dataset, tmp_path, library):
    import shutil

    from fundguard.engine.run import AuditError

    copy = tmp_path / "ds"
    shutil.copytree(dataset, copy)
    run = run_audit(copy, tmp_path / "ok", rules=["B06"], registry=library)
    assert run["dataset"]["tables"]["feedetl"]["rows"] == 3
    fewer = pq.read_table(copy / "feedetl.parquet").slice(0, 2)

    def replace_fee_lines(rule_id, done, total):  # the fee-line file changes while the rules run
        pq.write_table(fewer, copy / "feedetl.parquet")

    out = tmp_path / "out"
    with pytest.raises(AuditError, match="feedetl.parquet"):
        run_audit(copy, out, rules=["B06"], registry=library, progress=replace_fee_lines)
    assert not out.exists()


def test_run_id_depends_on_inputs():
    assert compute_run_id({"a": "1"}, "k", {"A01": "v"}) != compute_run_id({"a": "2"}, "k", {"A01": "v"})
