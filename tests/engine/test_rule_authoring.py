"""A bureau's analyst edits an exported rule library: mistakes are named (file, field, Chinese) when the
library is read, files are never silently left out, and equal parameter values give equal versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fundguard.cli import app
from fundguard.engine.registry import RuleFileError, load_registry

runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    library = tmp_path_factory.mktemp("export") / "lib"
    assert runner.invoke(app, ["rules", "export", str(library)]).exit_code == 0
    return library


@pytest.fixture
def library(exported, tmp_path) -> Path:
    copy = tmp_path / "lib"
    shutil.copytree(exported, copy)
    return copy


def _file(library: Path, pattern: str) -> Path:
    return next(library.glob(f"*/{pattern}"))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _refused(library: Path) -> str:
    with pytest.raises(RuleFileError) as info:
        load_registry(library)
    return str(info.value)


@pytest.mark.parametrize("name", ["A01_item_for_other_sex.yml", "A01_item_for_other_sex.YAML"])
def test_a_rule_saved_with_another_extension_is_named_not_left_out(library, name):
    a01 = _file(library, "A01_*.yaml")
    a01.rename(a01.with_name(name))
    text = _refused(library)
    assert name in text and "扩展名应为小写的 .yaml" in text and "不会被读取" in text


def test_a_rule_one_folder_too_deep_is_named_not_left_out(library):
    d01 = _file(library, "D01_*.yaml")
    deeper = d01.parent / "local"
    deeper.mkdir()
    d01.rename(deeper / d01.name)
    text = _refused(library)
    assert f"local/{d01.name}" in text and "下一级类别目录" in text
    result = runner.invoke(app, ["rules", "list", "--rules-dir", str(library)])
    assert result.exit_code == 1 and d01.name in result.output


def test_a_key_given_twice_is_refused(library):
    b01 = _file(library, "B01_*.yaml")
    _edit(b01, "severity: 1\n", "severity: 1\nseverity: 3\n")
    text = _refused(library)
    assert b01.name in text and "重复的键 'severity'" in text


def test_yaml_syntax_errors_say_where_in_chinese(library):
    b01 = _file(library, "B01_*.yaml")
    _edit(b01, "severity: 1\n", "severity 1\nscenes: [in\n")
    text = _refused(library)
    assert b01.name in text and "YAML 无法解析: 第" in text and "行第" in text


@pytest.mark.parametrize(("old", "new", "message"), [
    ("      mdtrt: [", "      mdtrtt: [", "未知的表 'mdtrtt'"),
    ('med_type: "', 'med_typ: "', "未知的列 med_typ"),
])
def test_a_typo_in_an_examples_given_is_refused(library, old, new, message):
    d01 = _file(library, "D04_*.yaml")
    _edit(d01, old, new)
    text = _refused(library)
    assert d01.name in text and message in text and "examples." in text


def test_a_macro_with_the_wrong_arguments_is_named_when_read(library):
    d04 = _file(library, "D04_*.sql")
    text = d04.read_text(encoding="utf-8")
    assert "{{ days_between(" in text
    d04.write_text(text.replace("{{ days_between(", "{{ days_between(m.begn_date, ", 1), encoding="utf-8")
    refused = _refused(library)
    assert d04.name in refused and "宏 days_between 参数个数不对: 应为 days_between(d1, d2), 得到 3 个参数" in refused


def test_several_bad_files_are_listed_each_with_its_problems_indented(library):
    for pattern in ("A01_*.yaml", "B01_*.yaml"):
        _edit(_file(library, pattern), "severity: 1\n", "severity: 7\n")
    lines = _refused(library).splitlines()
    heads = [i for i, line in enumerate(lines) if line.startswith("  规则文件有误")]
    assert len(heads) == 2
    assert all(lines[i + 1].startswith("    字段 severity") for i in heads)


def test_equal_parameter_values_give_one_version(library):
    from fundguard.engine.flags import rule_version

    b09 = load_registry(library).get("B09")
    versions = {rule_version(b09, b09.bind_params({"max_discounted_ratio": v})) for v in ("0.5", 0.50, "0.500000")}
    assert len(versions) == 1
    assert rule_version(b09, b09.bind_params({"max_discounted_ratio": "0.6"})) not in versions
    assert str(b09.bind_params({"max_discounted_ratio": "0.500"})["max_discounted_ratio"]) == "0.5"  # one text in messages


def test_a_rule_without_vola_amt_is_named(library, tmp_path):
    from fundguard.contract.factories import build_tables, write_dataset

    d04 = _file(library, "D04_*.sql")
    text = d04.read_text(encoding="utf-8")
    d04.write_text(text.replace(" AS vola_amt", " AS vola_amt_x"), encoding="utf-8")
    data = write_dataset(build_tables({"psn": [{"psn_no": "P1"}], "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1"}],
                                       "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "M1"}]}), tmp_path / "data")
    result = runner.invoke(app, ["audit", str(data), "--out", str(tmp_path / "out"), "--rules", "D04",
                                 "--rules-dir", str(library)])
    assert result.exit_code == 1
    assert "须返回 mdtrt_id 与 vola_amt 列 (缺少 vola_amt)" in result.output and "REPLACE" not in result.output


def test_a_real_time_rule_whose_message_names_a_missing_field_fails_rules_test(library):
    b08 = _file(library, "B08_*.yaml")  # real time only (no post scene): no batch run would notice
    assert "post" not in b08.read_text(encoding="utf-8").split("scenes:")[1].split("\n")[0]
    _edit(b08, 'message: "', 'message: "{ev_not_there}')
    result = runner.invoke(app, ["rules", "test", "B08", "--rules-dir", str(library)])
    assert result.exit_code == 1, result.output
    assert "消息模板字段 {ev_not_there} 不在实时实现返回的结果中" in result.output


def test_a_misspelt_only_if_column_fails_rules_test_in_real_time(library):
    a10 = _file(library, "A10_*.yaml")
    _edit(a10, "only_if: {insutype:", "only_if: {insutyp:")
    # in post too: the run over empty tables when the library is read names the column
    refused = _refused(library)
    assert a10.name in refused and "在空数据上试运行失败" in refused and 'column named "insutyp"' in refused
    # real time only: the real-time evaluator must not quietly match nothing
    _edit(a10, "scenes: [pre, in, post]", "scenes: [pre, in]")
    result = runner.invoke(app, ["rules", "test", "A10", "--rules-dir", str(library)])
    assert result.exit_code == 1, result.output
    assert "with.only_if 的列 'insutyp' 不是费用明细 (fee_lines) 的列" in result.output, result.output


def test_a_missing_column_is_named_when_the_library_is_read(library):
    c01 = _file(library, "C01_*.sql")
    _edit(c01, "l.prd_days,", "l.prd_dayz,")
    refused = _refused(library)
    assert c01.name in refused and "在空数据上试运行失败" in refused and "prd_dayz" in refused


def test_rules_docs_of_a_library_default_beside_it(library, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["rules", "docs", "--rules-dir", str(library)])
    assert result.exit_code == 0, result.output
    assert (library / "docs" / "B09_operation_not_discounted.md").exists()
    assert not (tmp_path / "docs").exists()
    doc = (library / "docs" / "B09_operation_not_discounted.md").read_text(encoding="utf-8")
    assert "取值范围" in doc and "0–1" in doc


def test_bounds_in_json_have_the_parameters_type():
    data = json.loads(runner.invoke(app, ["rules", "list", "--json"]).output)
    params = [(p["type"], p["default"], p.get("min"), p.get("max")) for r in data for p in r["params"].values()]
    ints = [p for p in params if p[0] == "int"]
    assert ints and all(isinstance(b, int) for p in ints for b in p[1:] if b is not None)
    decimals = [p for p in params if p[0] == "decimal"]
    assert decimals and all(isinstance(b, str) for p in decimals for b in p[1:] if b is not None)


def test_an_undeclared_parameter_is_named_when_the_library_is_read(library):
    c02 = _file(library, "C02_*.sql")
    _edit(c02, "$overlap_days", "$overlap_day")
    refused = _refused(library)
    assert c02.name in refused and "$overlap_day 是未声明的参数" in refused
    assert "参数 overlap_days 已声明, 但 SQL 与 message 都未使用" not in refused  # the message still names it


def test_a_declared_parameter_nothing_uses_is_named(library):
    c03 = _file(library, "C03_*.yaml")
    _edit(c03, "params:\n", "params:\n  spare_days:\n    type: int\n    default: 3\n    unit: 天\n    doc: 未使用\n")
    refused = _refused(library)
    assert c03.name.replace(".yaml", ".sql") in refused
    assert "参数 spare_days 已声明, 但 SQL 与 message 都未使用" in refused


def test_parse_errors_give_the_line_of_the_rule_file(library):
    # SQLGlot counts a line per `$` and a macro over two lines becomes one: the line is the file's own
    c02 = _file(library, "C02_*.sql")
    c02.write_text(
        "-- C02 being edited\n"
        "SELECT f.feedetl_sn, 0 AS vola_amt, $overlap_days AS a, $overlap_days AS b,\n"
        "  {{ days_between(f.fee_date,\n"
        "     f.fee_date) }} AS ev_days\n"
        "FROM fee_lines f\n"
        "WHERE f.cnt > = 1\n",
        encoding="utf-8",
    )
    refused = _refused(library)
    assert c02.name in refused and "SQLGlot 无法解析 (第 6 行" in refused, refused


def test_an_examples_threshold_names_a_limit_with_a_pair(library):
    c02 = _file(library, "C02_*.yaml")
    _edit(c02, "threshold: overlap_days", "threshold: overlap_dayz")
    refused = _refused(library)
    assert "'overlap_dayz' 不是此规则的参数、知识库列或 SQL 中的名称" in refused
    assert "阈值 overlap_days 的示例应在两侧各有一个" in refused  # its pair lost one side

