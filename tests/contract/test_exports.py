"""Forms real exports take (Oracle CHAR padding, Excel's scientific notation, database null markers,
Spark's INT96 timestamps, an extract that lost a table's rows): what would silently change the audit is
refused with file, row and column; harmless forms load."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from fundguard.contract import ContractError, load_dataset
from fundguard.contract.factories import build_tables, write_dataset

from .test_validate import read_rows, set_cell, write_csv_dataset, write_rows


def _issues(directory, **kw) -> list[tuple]:
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect(), **kw)
    return [(i.file, i.row, i.column, i.message) for i in info.value.issues]


def test_a_padded_key_is_named_where_it_is_padded(tmp_path):
    # padded in psn.csv only: named there, not as encounters "not found" (before: loaded, joins missed)
    directory = write_csv_dataset(tmp_path / "ds")
    set_cell(directory, "psn", 1, "psn_no", "P1  ")
    found = _issues(directory)
    assert [(f, r, c) for f, r, c, _ in found if f == "psn.csv"] == [("psn.csv", 1, "psn_no")]
    assert "首尾有空格" in found[0][3] and "TRIM" in found[0][3]


def test_a_padded_item_code_is_refused(tmp_path):
    # every fee line's code padded (Oracle CHAR): it would match no knowledge entry and pass validation
    directory = write_csv_dataset(tmp_path / "ds")
    rows = read_rows(directory / "feedetl.csv")
    write_rows(directory / "feedetl.csv", [dict(r, hilist_code=r["hilist_code"] + " ") for r in rows])
    found = _issues(directory)
    assert {(f, c) for f, _, c, _ in found} == {("feedetl.csv", "hilist_code")} and len(found) == len(rows)


@pytest.mark.parametrize("mark", ["\t", "\u3000", "\u200b", "\xa0", "\ufeff", "\x1b", "\x01", "\u2004", "\u2060", "\u202f", "\u1680", "\x7f"])
@pytest.mark.parametrize("where", ["end", "start"])
def test_an_invisible_character_at_either_end_of_a_code_is_refused(tmp_path, mark, where):
    # a tab, a full-width, no-break or zero-width space: the code matched no knowledge entry, silently
    directory = write_csv_dataset(tmp_path / "ds")
    code = read_rows(directory / "feedetl.csv")[1]["hilist_code"]
    set_cell(directory, "feedetl", 2, "hilist_code", code + mark if where == "end" else mark + code)
    found = _issues(directory)
    assert [(f, r, c) for f, r, c, _ in found] == [("feedetl.csv", 2, "hilist_code")], found
    assert "不可见字符" in found[0][3]


def test_codes_with_chinese_or_inner_spaces_load(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    set_cell(directory, "feedetl", 2, "hilist_code", "中药饮片 001")
    set_cell(directory, "feedetl", 4, "hilist_code", "T001 中药饮片")  # not ASCII at the end: checked exactly, loads
    set_cell(directory, "feedetl", 3, "bilg_dept_codg", "内科")
    load_dataset(directory, duckdb.connect())


@pytest.mark.parametrize("value", ["8.10000E+19", "4.40106E+17", "1E+5"])
def test_excel_scientific_notation_in_an_id_is_refused(tmp_path, value):
    directory = write_csv_dataset(tmp_path / "ds")
    set_cell(directory, "feedetl", 2, "feedetl_sn", value)
    found = _issues(directory)
    assert found[0][:3] == ("feedetl.csv", 2, "feedetl_sn") and "科学计数法" in found[0][3]


def test_ids_that_merely_contain_e_plus_or_spaces_inside_load(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    set_cell(directory, "feedetl", 2, "feedetl_sn", "ABE+1")
    set_cell(directory, "feedetl", 3, "feedetl_sn", "F 3")
    load_dataset(directory, duckdb.connect())


@pytest.mark.parametrize("marker", ["\\N", "NULL", "null"])
def test_database_null_markers_in_csv_are_empty(tmp_path, marker):
    directory = write_csv_dataset(tmp_path / "ds")
    set_cell(directory, "mdtrt", 1, "drg_code", marker)
    con = duckdb.connect()
    load_dataset(directory, con)
    assert con.execute("SELECT drg_code FROM mdtrt WHERE mdtrt_id = 'M1'").fetchone() == (None,)
    set_cell(directory, "mdtrt", 1, "psn_no", marker)  # a required column: empty, so refused as empty
    found = _issues(directory)
    assert ("mdtrt.csv", 1, "psn_no", "必填，不能为空") in found


def test_int96_timestamps_are_refused_not_read_8_hours_off(tmp_path):
    given = {"psn": [{"psn_no": "P1"}], "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1"}],
             "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "M1"}]}
    directory = write_dataset(build_tables(given), tmp_path / "ds")
    pq.write_table(pq.read_table(directory / "mdtrt.parquet"), directory / "mdtrt.parquet",
                   use_deprecated_int96_timestamps=True)
    found = _issues(directory)
    assert {c for f, _, c, _ in found if f == "mdtrt.parquet"} >= {"begntime", "endtime"}
    assert all("INT96" in m and "TIMESTAMP_NTZ" in m for *_, m in found)


@pytest.mark.parametrize("lenient", [False, True])
def test_a_dataset_whose_fee_lines_are_lost_is_refused_in_both_modes(tmp_path, lenient):
    directory = write_csv_dataset(tmp_path / "ds")
    header = (directory / "feedetl.csv").read_text(encoding="utf-8").splitlines()[0]
    (directory / "feedetl.csv").write_text(header + "\n", encoding="utf-8")
    found = _issues(directory, lenient=lenient, rejects_path=tmp_path / "rejects.csv", require_rows=True)
    assert found == [("feedetl.csv", None, None, "没有数据行 (只有表头)，它是必需的表")]
    from typer.testing import CliRunner

    from fundguard.cli import app

    args = ["validate", str(directory), *(["--lenient", "--rejects", str(tmp_path / "r.csv")] if lenient else [])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "feedetl.csv: 没有数据行" in result.output


def test_a_month_without_diagnoses_loads(tmp_path):
    # a pharmacy month may have no diagnoses: diag is required as a file, not as rows
    directory = write_csv_dataset(tmp_path / "ds")
    header = (directory / "diag.csv").read_text(encoding="utf-8").splitlines()[0]
    (directory / "diag.csv").write_text(header + "\n", encoding="utf-8")
    report = load_dataset(directory, duckdb.connect(), require_rows=True)
    assert report.tables["diag"].rows == 0 and report.tables["feedetl"].rows == 4


def test_a_folder_of_part_files_is_named_with_the_way_to_merge_it(tmp_path):
    given = {"psn": [{"psn_no": "P1"}], "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1"}],
             "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "M1"}]}
    directory = write_dataset(build_tables(given), tmp_path / "ds")
    fee = directory / "feedetl.parquet"
    fee.rename(tmp_path / "part-00000.parquet")
    fee.mkdir()
    (tmp_path / "part-00000.parquet").rename(fee / "part-00000.parquet")
    (fee / "_SUCCESS").write_bytes(b"")
    found = _issues(directory)
    assert found[0][:3] == ("feedetl.parquet", None, None) and "是文件夹" in found[0][3] and "COPY" in found[0][3]


def test_quoted_line_breaks_load_whatever_the_file_size(tmp_path):
    # a remark over two lines in many rows of a file larger than the parser's 1 MB blocks: the threaded
    # reader splits such rows, the loader must still read every row whole
    directory = write_csv_dataset(tmp_path / "ds")
    rows = read_rows(directory / "feedetl.csv")
    many = [dict(rows[i % len(rows)], feedetl_sn=f"F{i}", mdtrt_id=rows[i % len(rows)]["mdtrt_id"],
                 remark="第一行说明\r\n第二行说明 " + "x" * 400) for i in range(4000)]
    write_rows(directory / "feedetl.csv", many, [*rows[0], "remark"])
    assert (directory / "feedetl.csv").stat().st_size > 1_500_000
    report = load_dataset(directory, duckdb.connect())
    assert report.tables["feedetl"].rows == 4000


def test_a_short_row_in_a_large_file_with_quoted_line_breaks_is_named(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    rows = read_rows(directory / "feedetl.csv")
    many = [dict(rows[i % len(rows)], feedetl_sn=f"F{i}", remark="甲\n乙 " + "x" * 400) for i in range(4000)]
    write_rows(directory / "feedetl.csv", many, [*rows[0], "remark"])
    lines = (directory / "feedetl.csv").read_text(encoding="utf-8").split("\n")
    lines[1] = lines[1].split(",", 1)[1]  # data row 1 loses its first field
    (directory / "feedetl.csv").write_text("\n".join(lines), encoding="utf-8")
    found = _issues(directory)
    assert len(found) == 1 and found[0][0] == "feedetl.csv" and "字段个数不对" in found[0][3]


def test_lenient_rejects_every_copy_of_a_key_whose_rows_differ(tmp_path):
    # Excel turned two people's 18-digit ids into one number: keeping the first would give one person
    # the other's encounters; exact copies (an export run twice) keep one
    directory = write_csv_dataset(tmp_path / "ds")
    rows = read_rows(directory / "psn.csv")
    write_rows(directory / "psn.csv", [dict(rows[0]), dict(rows[1], psn_no=rows[0]["psn_no"])])
    con = duckdb.connect()
    report = load_dataset(directory, con, lenient=True, rejects_path=tmp_path / "r.csv")
    assert con.execute("SELECT count(*) FROM psn").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM mdtrt").fetchone()[0] == 0  # their encounters cascade
    assert report.rejected >= 2
    reasons = {(r["table"], r["row"]): r["reason"] for r in read_rows(tmp_path / "r.csv")}
    assert "各行内容不同" in reasons[("psn", "1")]

    write_rows(directory / "psn.csv", [dict(rows[0]), dict(rows[0]), dict(rows[1])])
    report = load_dataset(directory, con, lenient=True, rejects_path=tmp_path / "r2.csv")
    assert con.execute("SELECT count(*) FROM psn").fetchone()[0] == 2 and report.rejected == 1


def test_lenient_validate_warns_when_most_of_a_table_is_rejected(tmp_path):
    from typer.testing import CliRunner

    from fundguard.cli import app

    directory = write_csv_dataset(tmp_path / "ds")
    rows = read_rows(directory / "feedetl.csv")
    write_rows(directory / "feedetl.csv", [dict(r, cnt="1,0") if i else r for i, r in enumerate(rows)])
    result = CliRunner().invoke(app, ["validate", str(directory), "--lenient", "--rejects", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    assert "注意: feedetl 有 3 行被拒绝, 只加载了 1 行" in result.output
    assert "注意: mdtrt" not in result.output


def test_a_date_at_midnight_as_oracle_exports_it_loads_other_times_do_not(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    set_cell(directory, "psn", 1, "brdy", "1975-06-03 00:00:00")
    con = duckdb.connect()
    load_dataset(directory, con)
    assert str(con.execute("SELECT brdy FROM psn WHERE psn_no = 'P1'").fetchone()[0]) == "1975-06-03"
    set_cell(directory, "psn", 1, "brdy", "1975-06-03 13:30:00")
    assert [c for _, _, c, _ in _issues(directory)] == ["brdy"]


def test_a_very_long_value_loads(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    rows = read_rows(directory / "feedetl.csv")
    write_rows(directory / "feedetl.csv", [dict(r, remark="长" * (3 << 20) if i == 1 else "") for i, r in enumerate(rows)],
               [*rows[0], "remark"])
    report = load_dataset(directory, duckdb.connect())
    assert report.tables["feedetl"].rows == len(rows)


def test_lenient_says_a_referenced_row_was_rejected_not_missing(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    set_cell(directory, "mdtrt", 2, "med_type", "99")  # M2 rejected: its diagnosis and fee lines follow
    set_cell(directory, "diag", 1, "mdtrt_id", "M404")  # a diagnosis of an encounter that is not there
    load_dataset(directory, duckdb.connect(), lenient=True, rejects_path=tmp_path / "r.csv")
    reasons = {(r["table"], r["row"]): r["reason"] for r in read_rows(tmp_path / "r.csv")}
    assert reasons[("feedetl", "3")] == '所引用的记录 mdtrt_id = "M2" 在 mdtrt 中已被拒绝 (原因见该表的拒绝行)'
    assert reasons[("diag", "1")] == '引用不存在: mdtrt_id = "M404" 在 mdtrt 中找不到'


@pytest.mark.parametrize("name", ["PSN.CSV", "psn.txt"])
def test_a_table_file_under_another_name_is_named(tmp_path, name):
    directory = write_csv_dataset(tmp_path / "ds")
    (directory / "psn.csv").rename(directory / name)
    found = _issues(directory)
    assert found[0][:3] == ("psn.parquet", None, None) and name in found[0][3] and "小写" in found[0][3]
