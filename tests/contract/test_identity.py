"""Identity numbers and names in a source: recognised by their (English or Chinese) column name or, for
identity numbers, by their content; hashed with the `FUNDGUARD_ID_SALT` salt, dropped when there is none;
never shown in an error, written to a rejects file or stored raw."""

from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fundguard.cli import app
from fundguard.contract import ContractError, load_dataset
from fundguard.contract.factories import build_tables, write_dataset
from fundguard.contract.masking import contains_id_number, holds_id_numbers, looks_like_id_number
from fundguard.contract.tables import identity_kind

from .test_validate import GIVEN, read_rows, write_csv_dataset, write_rows

IDS = ["110101199003071234", "11010519851231002X"]
OLD_ID = "110101900307123"


@pytest.fixture(autouse=True)
def _no_salt_from_the_environment(monkeypatch):
    monkeypatch.delenv("FUNDGUARD_ID_SALT", raising=False)


def _psn_with(tmp_path, **columns: list[str]):
    """The test dataset as CSV, with `columns` (name -> a value per psn row) added to psn.csv."""
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "psn.csv"
    rows = read_rows(path)
    for name, values in columns.items():
        for row, value in zip(rows, values, strict=True):
            row[name] = value
    write_rows(path, rows)
    return directory


def _columns(con, table: str = "psn") -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def _stored(con, table: str = "psn") -> str:
    return str(con.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608


# names --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["certno", "身份证号", "身份证号码", "证件号码", "证件号", "mdtrt_cert_no", "psn_cert_no",
                                  "cert_no", "就诊凭证编号", "患者身份证号码", " CERTNO "])
def test_identity_number_column_names_are_recognised(name):
    assert identity_kind(name) == "hash"


@pytest.mark.parametrize("name", ["psn_name", "姓名", "患者姓名", "参保人姓名", "patient_name"])
def test_personal_name_column_names_are_recognised(name):
    assert identity_kind(name) == "drop"


@pytest.mark.parametrize("name", ["grade_note", "psn_no", "fixmedins_name", "remark"])
def test_other_column_names_are_not_identity_columns(name):
    assert identity_kind(name) is None


@pytest.mark.parametrize("name", ["身份证号", "证件号码", "mdtrt_cert_no", "psn_cert_no"])
def test_a_named_identity_number_column_is_hashed_with_the_salt(tmp_path, name):
    directory = _psn_with(tmp_path, **{name: IDS, "姓名": ["张三", "李四"]})
    con = duckdb.connect()
    report = load_dataset(directory, con, id_salt="s3cret")
    assert name not in _columns(con) and "姓名" not in _columns(con)
    hashes = con.execute(f'SELECT list("{name}_hash" ORDER BY psn_no) FROM psn').fetchone()[0]
    assert hashes == [hashlib.sha256(f"s3cret{v}".encode()).hexdigest() for v in IDS]
    assert "张三" not in _stored(con) and IDS[0] not in _stored(con)
    assert report.tables["psn"].hashed_columns == [name] and report.tables["psn"].dropped_columns == ["姓名"]
    assert report.warnings == []


# content ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [*IDS, "11010519851231002x", OLD_ID, " 110101199003071234 "])
def test_values_in_the_form_of_an_id_number(value):
    assert looks_like_id_number(value)


@pytest.mark.parametrize("value", ["P0000001", "1101011990030712345", "110101199013071234", "010101199003071234",
                                   "11010119900307123Y", "2024-01-01", "", None, "110101199003071234 张三"])
def test_values_not_in_the_form_of_an_id_number(value):
    assert not looks_like_id_number(value)


def test_an_id_number_in_a_line_is_found_only_standing_on_its_own():
    assert contains_id_number("P1,1,张三,110101199003071234,x")
    assert not contains_id_number("P1,1,A110101199003071234,9110101199003071234")
    assert holds_id_numbers(["", None, "abc", IDS[0]]) and not holds_id_numbers(["abc", None])


@pytest.mark.parametrize("values", [IDS, [IDS[0], "E-voucher-7f3a"], [OLD_ID, ""]], ids=["all", "some", "old-form"])
def test_a_column_of_id_numbers_under_any_name_is_hashed(tmp_path, values):
    directory = _psn_with(tmp_path, zjhm_x=values)
    con = duckdb.connect()
    report = load_dataset(directory, con, id_salt="s")
    assert "zjhm_x" not in _columns(con) and "zjhm_x_hash" in _columns(con)
    assert values[0] not in _stored(con)
    assert report.tables["psn"].hashed_columns == ["zjhm_x"]
    assert report.warnings == ["列名不是身份证号, 但值形如身份证号, 已按身份证号列处理: psn.csv 的 zjhm_x"]


def test_an_integer_parquet_column_of_id_numbers_is_hashed(tmp_path):
    directory = write_dataset(build_tables(GIVEN), tmp_path / "ds")
    psn = pq.read_table(directory / "psn.parquet")
    psn = psn.append_column("sfz", pa.array([110101199003071234, 110105198512310021], pa.int64()))
    pq.write_table(psn, directory / "psn.parquet")
    con = duckdb.connect()
    load_dataset(directory, con, id_salt="s")
    assert "sfz" not in _columns(con) and "sfz_hash" in _columns(con)
    assert "110101199003071234" not in _stored(con)


def test_a_column_with_no_id_number_is_kept(tmp_path):
    directory = _psn_with(tmp_path, card_note=["1101011990", "no card"])
    con = duckdb.connect()
    report = load_dataset(directory, con, id_salt="s")
    assert con.execute("SELECT list(card_note ORDER BY psn_no) FROM psn").fetchone()[0] == ["1101011990", "no card"]
    assert report.tables["psn"].hashed_columns == [] and report.warnings == []


def _with_a_long_row(directory):
    path = directory / "psn.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] += ",x"  # data row 1: one field too many, so its fields cannot be told apart
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("column", ["身份证号", "mdtrt_cert_no", "extra_x"])
def test_a_malformed_row_of_a_file_with_an_id_number_column_is_not_shown(tmp_path, column):
    directory = _psn_with(tmp_path, **{column: IDS})
    _with_a_long_row(directory)
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect(), id_salt="s")
    text = str(info.value)
    assert "第1行" in text and "这一行有" in text and "不显示" in text
    assert IDS[0] not in text and "P1" not in text


def test_a_malformed_row_with_an_id_number_in_it_is_not_shown_even_when_the_rest_has_none(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "psn.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += f",{IDS[1]}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect(), id_salt="s")
    assert "第2行" in str(info.value) and "不显示" in str(info.value) and IDS[1] not in str(info.value)


def test_lenient_rejects_never_hold_an_id_number_column_found_by_its_content(tmp_path):
    directory = _psn_with(tmp_path, extra_x=IDS, 证件号码=IDS)
    path = directory / "psn.csv"
    rows = read_rows(path)
    rows[1]["gend"] = "7"  # data row 2: rejected with its raw row
    write_rows(path, rows)
    _with_a_long_row(directory)  # data row 1: rejected with its line
    rejects = tmp_path / "rejects.csv"
    con = duckdb.connect()
    report = load_dataset(directory, con, lenient=True, rejects_path=rejects, id_salt="s")
    text = rejects.read_text(encoding="utf-8")
    assert report.rejected >= 2 and "gend" in text and "不显示" in text
    assert IDS[0] not in text and IDS[1] not in text and "extra_x" not in text
    assert IDS[0] not in _stored(con) and IDS[1] not in _stored(con)


def test_cli_db_never_holds_an_id_number_column(tmp_path):
    directory = _psn_with(tmp_path, 身份证号码=IDS, extra_x=IDS, 患者姓名=["张三", "李四"])
    db = tmp_path / "out.duckdb"
    result = CliRunner().invoke(app, ["validate", str(directory), "--db", str(db)])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db))
    assert IDS[0] not in _stored(con) and "张三" not in _stored(con)
    assert set(_columns(con)) & {"身份证号码", "extra_x", "患者姓名", "身份证号码_hash", "extra_x_hash"} == set()


# salt ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("salt", [None, ""], ids=["unset", "empty"])
def test_without_a_salt_identity_numbers_are_dropped_with_one_warning(tmp_path, monkeypatch, salt):
    if salt is not None:
        monkeypatch.setenv("FUNDGUARD_ID_SALT", salt)
    directory = _psn_with(tmp_path, certno=IDS, 身份证号=IDS, psn_name=["张三", "李四"])
    con = duckdb.connect()
    report = load_dataset(directory, con)
    assert not {"certno", "certno_hash", "身份证号", "身份证号_hash", "psn_name"} & set(_columns(con))
    assert report.tables["psn"].hashed_columns == []
    assert report.tables["psn"].dropped_columns == ["certno", "身份证号", "psn_name"]
    [warning] = report.warnings
    assert "未设置 FUNDGUARD_ID_SALT" in warning and "身份证号列已删除" in warning
    assert "psn.csv 的 certno、身份证号" in warning and "export FUNDGUARD_ID_SALT=" in warning
    assert "psn_name" not in warning  # names are dropped whatever the salt


def test_with_the_salt_in_the_environment_identity_numbers_are_hashed_with_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNDGUARD_ID_SALT", "k9#salt")
    directory = _psn_with(tmp_path, certno=IDS)
    con = duckdb.connect()
    report = load_dataset(directory, con)
    stored = con.execute("SELECT list(certno_hash ORDER BY psn_no) FROM psn").fetchone()[0]
    assert stored == [hashlib.sha256(f"k9#salt{v}".encode()).hexdigest() for v in IDS]
    assert report.warnings == []


def test_cli_prints_the_missing_salt_warning_and_still_passes(tmp_path):
    directory = _psn_with(tmp_path, mdtrt_cert_no=IDS)
    result = CliRunner().invoke(app, ["validate", str(directory)])
    assert result.exit_code == 0, result.output
    assert "未设置 FUNDGUARD_ID_SALT" in result.stderr and "mdtrt_cert_no" in result.stderr
    assert "校验通过" in result.stdout and IDS[0] not in result.output


def test_a_dataset_without_identity_columns_gives_no_warning(tmp_path):
    report = load_dataset(write_csv_dataset(tmp_path / "ds"), duckdb.connect())
    assert report.warnings == [] and report.to_dict()["warnings"] == []
