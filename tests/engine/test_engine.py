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


def test_rule_file_errors_are_in_chinese_with_the_value_found(bad_rules_root):
    src = (bad_rules_root / "a_restrictions" / "A02_item_outside_age_band.yaml").read_text(encoding="utf-8")
    assert "\nname:" in src and "severity: " in src and "test: outside_range" in src
    top = _write(bad_rules_root, "A15_top.yaml", src.replace("id: A02", "id: A15").replace("slug: item_outside_age_band", "slug: top")
                 .replace("\nname:", "\nnmae:").replace("severity: 2", "severity: high").replace("severity: 1", "severity: high"))
    with pytest.raises(RuleFileError) as exc:
        load_rule_file(top)
    text = str(exc.value)
    assert "字段 name: 缺少此必填字段" in text
    assert "字段 nmae: 未知字段" in text
    assert "字段 severity: 取值应为 1, 2, 3 之一, 得到 'high'" in text
    assert "Field required" not in text and "Input should" not in text
    cfg = _write(bad_rules_root, "A16_cfg.yaml", src.replace("id: A02", "id: A16").replace("slug: item_outside_age_band", "slug: cfg")
                 .replace("test: outside_range", "test: outside"))
    with pytest.raises(RuleFileError) as exc:
        load_rule_file(cfg)
    assert "字段 with.test: 取值应为 'differs', 'outside_range'" in str(exc.value)
    assert "得到 'outside'" in str(exc.value)


def test_unknown_kind_and_unparseable_yaml(bad_rules_root):
    src = (bad_rules_root / "a_restrictions" / "A01_item_for_other_sex.yaml").read_text(encoding="utf-8")
    p = _write(bad_rules_root, "A12_x.yaml", src.replace("id: A01", "id: A12").replace("slug: item_for_other_sex", "slug: x").replace("kind: item_restriction", "kind: nope"))
    with pytest.raises(RuleFileError, match="kind"):
        load_rule_file(p)
    p2 = _write(bad_rules_root, "A13_y.yaml", "id: [unclosed")
    with pytest.raises(RuleFileError, match="YAML"):
        load_rule_file(p2)


def test_rule_files_saved_in_another_encoding_are_named(bad_rules_root):
    yaml_path = bad_rules_root / "a_restrictions" / "A01_item_for_other_sex.yaml"
    yaml_path.write_bytes(yaml_path.read_text(encoding="utf-8").encode("gbk"))
    with pytest.raises(RuleFileError, match="不是 UTF-8 文本") as exc:
        load_rule_file(yaml_path)
    assert "A01_item_for_other_sex.yaml" in str(exc.value)
    sql_path = bad_rules_root / "a_restrictions" / "A05_item_outside_indication.sql"
    sql_path.write_bytes(sql_path.read_bytes() + "-- 说明".encode("gbk"))
    with pytest.raises(RuleFileError, match="不是 UTF-8 文本") as exc:
        load_rule_file(sql_path.with_suffix(".yaml"))
    assert "A05_item_outside_indication.sql" in str(exc.value)


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



@pytest.mark.parametrize(
    ("param", "value", "says"),
    [("tolerance", "NaN", "有限"), ("tolerance", float("inf"), "有限"), ("tolerance", "0.0000001", "6 位小数"),
     ("tolerance", "1e15", "绝对值"), ("course_gap_days", 10**23, "范围")],
)
def test_param_values_every_engine_binds_alike(library, param, value, says):
    """NaN, infinity and values beyond SQL INTEGER / exact decimals are refused up front: DuckDB would take
    some of them and Spark fail on them, or a NaN tolerance silently switch B01 off."""
    rule = library.get("B11" if param == "course_gap_days" else "B01")
    assert param in rule.params
    with pytest.raises(ParamError, match=says):
        rule.bind_params({param: value})


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


def test_extra_encounter_columns_named_like_computed_ones_are_ignored(dataset, tmp_path):
    """A source's mdtrt may carry columns the engine computes itself (the national settlement record has
    gend and brdy): they are kept and ignored, never read by a rule in place of the computed ones."""
    import shutil

    import pyarrow as pa

    extra = tmp_path / "extra"
    shutil.copytree(dataset, extra)
    mdtrt = pq.read_table(extra / "mdtrt.parquet")
    n = mdtrt.num_rows
    for name, value in (("gend", "1"), ("stay_days", 99), ("is_inpatient", False), ("begn_date", "2020-01-01"),
                        ("death_date", "2000-01-01"), ("age_at_begn", 40), ("org_admdvs", "999999")):
        mdtrt = mdtrt.append_column(name, pa.array([value] * n))
    pq.write_table(mdtrt, extra / "mdtrt.parquet")
    registry = load_registry()
    base = run_audit(dataset, tmp_path / "a", registry=registry)
    run_audit(extra, tmp_path / "b", registry=registry)
    assert {"A03", "B06"} <= {r["id"] for r in base["rules"] if r.get("flags")}  # rules reading those columns fire
    cols = ["flag_id", "vola_amt", "message", "evidence"]
    assert pq.read_table(tmp_path / "a" / "flags.parquet", columns=cols).equals(
        pq.read_table(tmp_path / "b" / "flags.parquet", columns=cols))


def test_run_json_records_absolute_paths(dataset, tmp_path, library, monkeypatch):
    # the web app reads the dataset for a flag's evidence from wherever it is started
    monkeypatch.chdir(dataset.parent)
    run_audit(Path(dataset.name), tmp_path / "o", rules=["B06"], registry=library)
    run = json.loads((tmp_path / "o" / "run.json").read_text(encoding="utf-8"))
    assert run["dataset"]["path"] == str(dataset.resolve()) and Path(run["kb"]["path"]).is_absolute()


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
    # a manifest flag that decides whether a rule runs is part of the run, though not of the content hash
    assert compute_run_id({"a": "1"}, "k", {"A08": "v"}, {"hilist_complete": True}) != compute_run_id(
        {"a": "1"}, "k", {"A08": "v"}, {"hilist_complete": False})


# --- the output folder: checked before any work, replaced as a pair --------------------------------------
def test_out_that_is_a_file_fails_before_any_work(dataset, tmp_path, library):
    from fundguard.engine.run import AuditError

    out = tmp_path / "out"
    out.write_text("not a folder", encoding="utf-8")
    progressed = []
    with pytest.raises(AuditError, match="不是目录"):
        run_audit(dataset, out, rules=["B06"], registry=library, progress=lambda *a: progressed.append(a))
    assert progressed == []  # refused before the first rule ran
    assert out.read_text(encoding="utf-8") == "not a folder"


def test_out_with_an_unreplaceable_target_keeps_the_old_pair(dataset, tmp_path, library):
    from fundguard.engine.run import AuditError

    out = tmp_path / "out"
    out.mkdir()
    (out / "flags.parquet").write_bytes(b"OLD")
    (out / "run.json").mkdir()  # a folder where run.json should go
    with pytest.raises(AuditError, match="run.json"):
        run_audit(dataset, out, rules=["B06"], registry=library)
    assert (out / "flags.parquet").read_bytes() == b"OLD"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left behind


def test_an_earlier_run_is_replaced_whole_and_a_users_files_are_kept(dataset, tmp_path, library):
    import os

    out = tmp_path / "out"
    run_audit(dataset, out, rules=["B06", "A03"], registry=library)
    first = out.stat().st_ino
    again = run_audit(dataset, out, rules=["B06"], registry=library)
    assert [r["id"] for r in again["rules"]] == ["B06"]
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["run_id"] == again["run_id"]
    assert out.stat().st_ino != first  # the folder was swapped, not its files one by one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing staged or old left behind
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    run_audit(dataset, out, rules=["A03"], registry=library)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert [r["id"] for r in json.loads((out / "run.json").read_text(encoding="utf-8"))["rules"]] == ["A03"]
    assert os.listdir(tmp_path) == ["out"]


def test_run_json_records_the_software_versions(dataset, tmp_path, library):
    import duckdb as duckdb_module
    from typer.testing import CliRunner

    from fundguard.cli import app

    run = run_audit(dataset, tmp_path / "out", rules=["B06"], registry=library)
    assert run["versions"]["duckdb"] == duckdb_module.__version__ and run["versions"]["fundguard"]
    shown = CliRunner().invoke(app, ["--version"])
    assert shown.exit_code == 0 and f"duckdb {duckdb_module.__version__}" in shown.stdout
    assert f"engine_code {run['versions']['engine_code']}" in shown.stdout


def test_the_engine_code_is_part_of_the_run_id(tmp_path, monkeypatch):
    # a change to the shared views (refund netting, say) can change flags while every rule version stays:
    # the run records the engine code's digest, and two runs by different code never share a run_id
    import shutil

    from fundguard.engine import run as run_module

    src = Path(run_module.__file__).resolve().parent.parent
    first = run_module.engine_digest()
    assert first == run_module.engine_digest()
    before = compute_run_id({"feedetl": "x"}, "kb", {"A01": "v"})
    copy = tmp_path / "fundguard"
    shutil.copytree(src / "engine", copy / "engine")
    shutil.copytree(src / "contract", copy / "contract")
    views = copy / "engine" / "views.py"
    views.write_text(views.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    monkeypatch.setattr(run_module, "__file__", str(copy / "engine" / "run.py"))
    run_module.engine_digest.cache_clear()
    try:
        assert run_module.engine_digest() != first
        assert compute_run_id({"feedetl": "x"}, "kb", {"A01": "v"}) != before
    finally:
        monkeypatch.undo()
        run_module.engine_digest.cache_clear()
    assert run_module.engine_digest() == first


def test_a_new_out_folder_gets_the_usual_permissions(dataset, tmp_path, library):
    import os

    out = tmp_path / "out"
    previous = os.umask(0o022)
    try:
        run_audit(dataset, out, rules=["B06"], registry=library)
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o755  # not mkdtemp's private 0700: colleagues can read the run


# --- the params file ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "error", "says"),
    [
        (b"B06: {tolerance: 1}\nB06: {tolerance: 2}\n", ParamError, "重复的键"),
        (b"B06: {nope: 1}\n", ParamError, "nope"),
        (b"Z99: {x: 1}\n", UnknownRuleError, "Z99"),
        (b"B06: [1, 2\n", ParamError, "YAML"),
        (b"B01: {tolerance: -1}\n", ParamError, "tolerance"),  # B01: a rule this run leaves out
        ("B06: {说明: 值}\n".encode("gbk"), ParamError, "UTF-8"),
    ],
)
def test_bad_params_file_is_named_and_nothing_written(dataset, tmp_path, library, content, error, says):
    params = tmp_path / "p.yaml"
    params.write_bytes(content)
    out = tmp_path / "out"
    with pytest.raises(error, match=says) as info:
        run_audit(dataset, out, rules=["B06"], params_file=params, registry=library)
    assert str(params) in str(info.value)
    assert not out.exists()


# --- optional inputs a rule cannot do without ----------------------------------------------------------
def test_rule_skipped_with_reason_when_its_optional_table_is_absent(dataset, tmp_path, library):
    import shutil

    from fundguard.contract.factories import build_tables, write_dataset

    assert not (dataset / "practitioner.parquet").exists()
    run = run_audit(dataset, tmp_path / "without", rules=["A09"], registry=library)
    [a09] = run["rules"]
    assert a09["status"] == "skipped" and "practitioner" in a09["reason"]

    with_table = tmp_path / "with"
    shutil.copytree(dataset, with_table)
    write_dataset(build_tables({"practitioner": [{"prac_psn_code": "D1", "profttl": "4"}]}), tmp_path / "p")
    shutil.copy(tmp_path / "p" / "practitioner.parquet", with_table / "practitioner.parquet")
    run = run_audit(with_table, tmp_path / "o2", rules=["A09"], registry=library)
    assert run["rules"][0]["status"] == "ran"


def test_rule_skipped_when_its_optional_column_is_absent_csv_and_parquet(dataset, tmp_path):
    import shutil

    import duckdb
    import pyarrow.parquet as pq

    no_death = tmp_path / "no_death"
    shutil.copytree(dataset, no_death)
    psn = pq.read_table(no_death / "psn.parquet")
    pq.write_table(psn.drop(["death_date"]), no_death / "psn.parquet")
    run = run_audit(no_death, tmp_path / "o1", rules=["D04", "E01"])
    status = {r["id"]: r for r in run["rules"]}
    assert status["D04"]["status"] == "skipped" and "psn.death_date" in status["D04"]["reason"]
    assert status["E01"]["status"] == "ran"  # mdtrt.drg_code is there
    assert run_audit(dataset, tmp_path / "o2", rules=["D04"])["rules"][0]["status"] == "ran"

    as_csv = tmp_path / "csv_psn"
    shutil.copytree(no_death, as_csv)
    duckdb.sql(f"COPY (SELECT * FROM read_parquet('{as_csv / 'psn.parquet'}')) TO '{as_csv / 'psn.csv'}' (HEADER)")  # noqa: S608
    (as_csv / "psn.parquet").unlink()
    run = run_audit(as_csv, tmp_path / "o3", rules=["D04", "A09"])
    status = {r["id"]: r for r in run["rules"]}
    assert status["D04"]["status"] == "skipped" and "psn.death_date" in status["D04"]["reason"]
    assert status["A09"]["status"] == "skipped" and "practitioner" in status["A09"]["reason"]


def test_requires_inputs_lists_only_optional_contract_inputs(bad_rules_root):
    from fundguard.engine import RuleFileError, load_registry

    a01 = next((bad_rules_root / "a_restrictions").glob("A01_*.yaml"))
    text = a01.read_text(encoding="utf-8")
    a01.write_text(text.replace("\nkind:", "\nrequires_inputs: [feedetl]\nkind:", 1), encoding="utf-8")
    with pytest.raises(RuleFileError, match="requires_inputs"):
        load_registry(bad_rules_root)


def test_a_dataset_without_any_fee_line_is_refused(dataset, tmp_path, library):
    # an extract that lost its fee lines would otherwise pass and give flags resting on no charges
    import shutil

    import pyarrow.parquet as pq

    from fundguard.contract import ContractError

    empty = tmp_path / "empty_fees"
    shutil.copytree(dataset, empty)
    fees = pq.read_table(empty / "feedetl.parquet")
    pq.write_table(fees.slice(0, 0), empty / "feedetl.parquet")
    with pytest.raises(ContractError, match="feedetl.parquet: 没有数据行"):
        run_audit(empty, tmp_path / "o1", rules=["B06"], registry=library)
    assert not (tmp_path / "o1").exists()
    assert run_audit(dataset, tmp_path / "o2", rules=["B06"], registry=library)["warnings"] == []


def test_the_warning_for_encounters_without_fee_lines_remains_for_unchecked_inputs():
    # a cluster dataset on Spark is not read by the loader: run.json still says what looks wrong
    from fundguard.engine.run import dataset_warnings

    assert "feedetl" in dataset_warnings({"mdtrt": 5, "feedetl": 0, "diag": 2})[0]
    assert dataset_warnings({"mdtrt": 5, "feedetl": 3, "diag": 2}) == []


def test_c04_daily_count_in_the_message_is_rounded_half_away_from_zero_exactly():
    # 8.29 / 8 = 1.03625 exactly; as a DOUBLE it is 1.0362499…, which a cast to DECIMAL(16,4) rounded down
    from fundguard.engine.examples import run_example

    rule = next(r for r in load_registry() if r.id == "C04")
    index = next(i for i, ex in enumerate(rule.examples) if "1.03625" in ex.title)
    outcome = run_example(rule, index)
    assert outcome.actual == {("F1", Decimal("0.29"))}
    assert len(outcome.messages) == 1 and "日均 1.0363 单位" in outcome.messages[0], outcome.messages


def test_an_exclusive_pair_flag_rests_on_both_lines_and_names_the_other_item(tmp_path, library):
    # B04: the flag lists the line it refuses and the other item's line it conflicts with, and its
    # message names that item (not only its code)
    from fundguard.contract.factories import build_tables, write_dataset

    data = write_dataset(build_tables({
        "psn": [{"psn_no": "P1"}], "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1", "begntime": "2025-03-01 09:00:00"}],
        "feedetl": [
            {"feedetl_sn": "F1", "mdtrt_id": "M1", "hilist_code": "001102000010000", "item_name": "普通门诊诊查费",
             "med_chrgitm_type": "02", "cnt": 1, "pric": 10.00, "fee_ocur_time": "2025-03-01 09:10:00"},
            {"feedetl_sn": "F2", "mdtrt_id": "M1", "hilist_code": "001102000030000", "item_name": "急诊诊查费",
             "med_chrgitm_type": "02", "cnt": 1, "pric": 20.00, "fee_ocur_time": "2025-03-01 15:10:00"},
        ],
    }), tmp_path / "data")
    run_audit(data, tmp_path / "out", rules=["B04"], registry=library)
    (flag,) = pq.read_table(tmp_path / "out" / "flags.parquet").to_pylist()
    assert flag["feedetl_sn"] == ["F1", "F2"] and flag["vola_amt"] == Decimal("10.00")
    assert "普通门诊诊查费（001102000010000）与 急诊诊查费（001102000030000）互斥" in flag["message"]


def test_frequent_prescribing_names_the_window_its_count_belongs_to(tmp_path):
    # C03: the window from 3-01 holds 4 dates, the one from 3-20 holds 5; the message gives 5 with 3-20
    from fundguard.contract.factories import build_tables, write_dataset

    dates = ["2025-03-01", "2025-03-20", "2025-03-21", "2025-03-22", "2025-03-31", "2025-04-01"]
    data = write_dataset(build_tables({
        "psn": [{"psn_no": "P1"}],
        "mdtrt": [{"mdtrt_id": f"M{i}", "psn_no": "P1", "med_type": "11", "begntime": f"{d} 09:00:00"} for i, d in enumerate(dates)],
        "feedetl": [{"feedetl_sn": f"F{i}", "mdtrt_id": f"M{i}", "hilist_code": "XC10AAA001", "med_chrgitm_type": "09",
                     "prd_days": 1, "cnt": 1, "pric": 5.00, "fee_ocur_time": f"{d} 09:30:00"} for i, d in enumerate(dates)],
    }), tmp_path / "data")
    run_audit(data, tmp_path / "out", rules=["C03"])
    (flag,) = pq.read_table(tmp_path / "out" / "flags.parquet").to_pylist()
    assert "自 2025-03-20 起 30 天内在 5 个不同日期开药" in flag["message"], flag["message"]


def test_rules_resting_on_sample_only_knowledge_are_named_in_the_run(dataset, tmp_path):
    # kb_drg holds only the sample layer's demonstration rows in the default edition: E01's flags rest on
    # limits no bureau published, and run.json (and the CLI) say so; A01's table comes from national batches
    run = run_audit(dataset, tmp_path / "o", rules=["A01", "E01", "B06"])
    (warning,) = [w for w in run["warnings"] if "source = sample" in w]
    assert "kb_drg（E01）" in warning
    assert "A01" not in warning and "kb_item_gender" not in warning


def test_a_table_with_any_entry_beyond_the_sample_is_not_called_sample_only():
    from fundguard.engine.run import AuditResult, RuleStats, sample_kb_warnings
    from fundguard.kb.tables import to_arrow

    rule = load_registry().get("E01")
    result = AuditResult(run_id="t", views_seconds=0.0)
    result.rules.append(RuleStats("E01", rule.name, 2, {}, [], "v", {}, "ran"))
    row = {"drg_code": "ES25", "drg_name": "x", "weight": 1, "avg_cost": 100, "avg_los": 3, "is_low_risk": True}
    sample = to_arrow("kb_drg", [{**row, "source": "sample"}])
    mixed = to_arrow("kb_drg", [{**row, "source": "sample"}, {**row, "drg_code": "ES21", "source": "overlay:某市医保局"}])
    assert "kb_drg（E01）" in sample_kb_warnings([rule], result, {"kb_drg": sample})[0]
    assert sample_kb_warnings([rule], result, {"kb_drg": mixed}) == []
    result.rules[0].status = "skipped"  # a rule that did not run has no flags to doubt
    assert sample_kb_warnings([rule], result, {"kb_drg": sample}) == []


def test_an_extract_without_diagnoses_is_pointed_out():
    # A05 flagged every restricted line of an extract whose diagnoses were lost (620 flags instead of 41)
    from fundguard.engine.run import dataset_warnings

    (warning,) = dataset_warnings({"mdtrt": 5, "feedetl": 9, "diag": 0})
    assert "diag" in warning and "A05" in warning
    assert dataset_warnings({"mdtrt": 5, "feedetl": 9, "diag": 3}) == []


def test_implausible_dates_are_pointed_out_not_refused(tmp_path):
    from fundguard.contract import load_dataset
    from fundguard.contract.factories import build_tables, write_dataset

    given = {
        "psn": [{"psn_no": "P1", "brdy": "2025-06-01"}, {"psn_no": "P2", "brdy": "2099-01-01"}],
        "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1", "begntime": "2025-01-03 09:00:00", "endtime": "2025-01-03 10:00:00"},
                  {"mdtrt_id": "M2", "psn_no": "P2", "begntime": "2099-03-01 09:00:00", "endtime": "2099-03-01 10:00:00"}],
        "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "M1"}],
    }
    directory = write_dataset(build_tables(given), tmp_path / "ds")
    warnings = load_dataset(directory, duckdb.connect()).warnings
    assert any("早于参保人的出生日期" in w and "M1" in w for w in warnings), warnings
    assert any("1 条就诊的开始时间晚于今天" in w for w in warnings), warnings
    assert any("1 名参保人的出生日期晚于今天" in w for w in warnings), warnings
    ok = write_dataset(build_tables({k: v[:1] for k, v in given.items()} | {"psn": [{"psn_no": "P1", "brdy": "1980-06-01"}]}),
                       tmp_path / "ok")
    assert load_dataset(ok, duckdb.connect()).warnings == []


def test_negative_fund_payments_and_id_numbers_as_person_numbers_are_pointed_out(tmp_path):
    from fundguard.contract import load_dataset
    from fundguard.contract.factories import build_tables, write_dataset

    id_number = "110105198001010018"  # the form of a resident ID number (made up)
    given = {
        "psn": [{"psn_no": id_number, "brdy": "1980-01-01"}, {"psn_no": "P2", "brdy": "1990-01-01"}],
        "mdtrt": [{"mdtrt_id": "M1", "psn_no": id_number, "medfee_sumamt": "100.00", "hifp_pay": "-20.00",
                   "acct_pay": "0.00", "psn_cash_pay": "120.00"},
                  {"mdtrt_id": "M2", "psn_no": "P2"}],
        "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "M1"}, {"feedetl_sn": "F2", "mdtrt_id": "M2"}],
    }
    directory = write_dataset(build_tables(given), tmp_path / "ds")
    warnings = load_dataset(directory, duckdb.connect()).warnings
    assert any("1 条就诊的统筹基金支付 (hifp_pay) 为负数" in w and "M1" in w for w in warnings), warnings
    (id_warning,) = [w for w in warnings if "形如身份证号" in w]
    assert id_warning.startswith("1 个人员编号") and id_number not in id_warning
    ok = write_dataset(build_tables({"psn": given["psn"][1:], "mdtrt": given["mdtrt"][1:], "feedetl": given["feedetl"][1:]}),
                       tmp_path / "ok")
    assert load_dataset(ok, duckdb.connect()).warnings == []


def test_every_line_and_encounter_rule_returns_who_and_where(dataset):
    # a line or encounter rule that does not return psn_no, mdtrt_id, setl_id and fixmedins_code has its
    # flags joined back to feedetl/mdtrt when they are assembled: a full scan of the fee lines per rule
    # at 10M lines (on Spark, a shuffle of every line). The built-in library spares every such join.
    from fundguard.contract import load_dataset
    from fundguard.engine.backends.duckdb import sql_params
    from fundguard.engine.rule import Granularity
    from fundguard.engine.run import IN_PLACE_TABLES, Auditor, _open_edition

    _, edition = _open_edition(None)
    con = duckdb.connect()
    load_dataset(dataset, con, in_place=IN_PLACE_TABLES, require_rows=True)
    edition.register(con)
    auditor = Auditor(con, kb_hash=edition.content_hash, kb_manifest=dict(edition.manifest))
    registry = load_registry()
    auditor.prepare(list(registry.rules.values()))
    checked, lacking = [], {}
    for rule in registry.rules.values():
        if rule.granularity not in (Granularity.LINE, Granularity.MDTRT) or "post" not in {s.value for s in rule.scenes}:
            continue
        sql = expand(auditor.backend.rule_sql(rule))
        params = rule.bind_params(None)
        columns = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM ({sql}) r", {p: params[p] for p in sql_params(sql)}).fetchall()}  # noqa: S608
        checked.append(rule.id)
        missing = {"psn_no", "mdtrt_id", "setl_id", "fixmedins_code"} - columns
        if missing:
            lacking[rule.id] = sorted(missing)
    con.close()
    assert len(checked) >= 30 and {"C01", "D04", "B06", "E01"} <= set(checked)
    assert lacking == {}
