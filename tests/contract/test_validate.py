"""`validate` / `load_dataset`: each kind of bad input is rejected with its file, row and column, and
nothing is loaded; lenient loads write rejects and load the rest; identity numbers are never stored."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from fundguard.cli import app
from fundguard.contract import ContractError, load_dataset
from fundguard.contract.factories import build_tables, to_arrow, write_dataset

GIVEN = {
    "psn": [{"psn_no": "P1", "gend": "1"}, {"psn_no": "P2", "gend": "2"}],
    "fixmedins": [{"fixmedins_code": "H1"}, {"fixmedins_code": "H2", "medins_lv": "2"}],
    "mdtrt": [
        {"mdtrt_id": "M1", "psn_no": "P1", "fixmedins_code": "H1"},
        {"mdtrt_id": "M2", "psn_no": "P2", "fixmedins_code": "H2", "begntime": "2025-04-01 10:00:00"},
    ],
    "diag": [{"mdtrt_id": "M1", "diag_name": "上呼吸道感染"}, {"mdtrt_id": "M2", "diag_name": "高血压"}],
    "feedetl": [
        {"feedetl_sn": "F1", "mdtrt_id": "M1", "cnt": 2, "pric": 12.5},
        {"feedetl_sn": "F2", "mdtrt_id": "M1", "cnt": 1, "pric": 30},
        {"feedetl_sn": "F3", "mdtrt_id": "M2", "cnt": 3, "pric": 5},
        {"feedetl_sn": "F4", "mdtrt_id": "M2", "cnt": 1, "pric": 8},
    ],
}


def write_csv_dataset(directory: Path) -> Path:
    tables = build_tables(GIVEN)
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        if rows:
            pacsv.write_csv(to_arrow(name, rows), directory / f"{name}.csv")
    return directory


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_rows(path: Path, rows: list[dict], fieldnames: list[str] | None = None) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fieldnames or list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in (fieldnames or list(rows[0]))})


def set_cell(directory: Path, table: str, row: int, column: str, value: str) -> None:
    path = directory / f"{table}.csv"
    rows = read_rows(path)
    rows[row - 1][column] = value
    write_rows(path, rows)


def drop_column(directory: Path, table: str, column: str) -> None:
    path = directory / f"{table}.csv"
    rows = read_rows(path)
    names = [n for n in rows[0] if n != column]
    write_rows(path, rows, names)


def empty_file(directory: Path, table: str) -> None:
    (directory / f"{table}.csv").write_bytes(b"")


def gbk_cell(directory: Path, table: str, row: int, column: str, value: str) -> None:
    """Write one cell in GBK (as a spreadsheet saved in the wrong encoding would), the rest UTF-8."""
    path = directory / f"{table}.csv"
    marker = "@@GBK@@"
    set_cell(directory, table, row, column, marker)
    data = path.read_bytes().replace(marker.encode(), value.encode("gbk"))
    path.write_bytes(data)


def remove_file(directory: Path, table: str) -> None:
    (directory / f"{table}.csv").unlink()


CASES = [
    ("wrong type", lambda d: set_cell(d, "feedetl", 2, "cnt", "abc"), ("feedetl.csv", 2, "cnt", "数值")),
    ("wrong int type", lambda d: set_cell(d, "diag", 2, "diag_srt_no", "first"), ("diag.csv", 2, "diag_srt_no", "整数")),
    ("unknown code", lambda d: set_cell(d, "psn", 1, "gend", "3"), ("psn.csv", 1, "gend", "字典")),
    ("unknown med_type", lambda d: set_cell(d, "mdtrt", 2, "med_type", "99"), ("mdtrt.csv", 2, "med_type", "字典")),
    ("duplicate key", lambda d: set_cell(d, "feedetl", 3, "feedetl_sn", "F1"), ("feedetl.csv", 3, "feedetl_sn", "重复")),
    ("duplicate unique setl_id", lambda d: set_cell(d, "mdtrt", 2, "setl_id", "SM1"), ("mdtrt.csv", 2, "setl_id", "重复")),
    (
        "dangling encounter reference",
        lambda d: set_cell(d, "feedetl", 2, "mdtrt_id", "M404"),
        ("feedetl.csv", 2, "mdtrt_id", "引用不存在"),
    ),
    (
        "dangling diagnosis reference",
        lambda d: set_cell(d, "diag", 2, "mdtrt_id", "M404"),
        ("diag.csv", 2, "mdtrt_id", "引用不存在"),
    ),
    (
        "broken settlement money invariant",
        lambda d: set_cell(d, "mdtrt", 1, "hifp_pay", "1.00"),
        ("mdtrt.csv", 1, "medfee_sumamt", "金额不平"),
    ),
    (
        "broken line money invariant",
        lambda d: set_cell(d, "feedetl", 4, "det_item_fee_sumamt", "9.00"),
        ("feedetl.csv", 4, "det_item_fee_sumamt", "金额不符"),
    ),
    ("bad date", lambda d: set_cell(d, "psn", 2, "brdy", "1980/13/01"), ("psn.csv", 2, "brdy", "日期")),
    (
        "impossible time",
        lambda d: set_cell(d, "feedetl", 1, "fee_ocur_time", "2025-02-30 10:00:00"),
        ("feedetl.csv", 1, "fee_ocur_time", "时间"),
    ),
    ("missing column", lambda d: drop_column(d, "feedetl", "hilist_code"), ("feedetl.csv", None, "hilist_code", "缺少必需列")),
    ("empty file", lambda d: empty_file(d, "diag"), ("diag.csv", None, None, "文件为空")),
    ("wrong encoding", lambda d: gbk_cell(d, "diag", 2, "diag_name", "高血压病"), ("diag.csv", 2, "diag_name", "UTF-8")),
    ("missing table file", lambda d: remove_file(d, "mdtrt"), ("mdtrt.parquet", None, None, "缺少必需的表文件")),
    ("required value empty", lambda d: set_cell(d, "feedetl", 3, "hilist_code", ""), ("feedetl.csv", 3, "hilist_code", "必填")),
    ("required value only spaces", lambda d: set_cell(d, "feedetl", 2, "hilist_code", "   "), ("feedetl.csv", 2, "hilist_code", "必填")),
    (
        "required value only a full-width space",
        lambda d: set_cell(d, "feedetl", 4, "bilg_dept_codg", "\u3000"),
        ("feedetl.csv", 4, "bilg_dept_codg", "必填"),
    ),
    (
        "negative quantity on a non-refund line",
        lambda d: (set_cell(d, "feedetl", 2, "cnt", "-1.0000"), set_cell(d, "feedetl", 2, "det_item_fee_sumamt", "-30.00")),
        ("feedetl.csv", 2, "cnt", "退费"),
    ),
    (
        "fee line person disagrees with its encounter",
        lambda d: set_cell(d, "feedetl", 1, "psn_no", "P2"),
        ("feedetl.csv", 1, "psn_no", "不一致"),
    ),
    (
        "fee line institution disagrees with its encounter",
        lambda d: set_cell(d, "feedetl", 3, "fixmedins_code", "H1"),
        ("feedetl.csv", 3, "fixmedins_code", "不一致"),
    ),
    (
        "discharge before admission",
        lambda d: set_cell(d, "mdtrt", 2, "endtime", "2025-03-01 10:00:00"),
        ("mdtrt.csv", 2, "endtime", "早于"),
    ),
]


def test_valid_dataset_loads(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    con = duckdb.connect()
    report = load_dataset(directory, con)
    assert report.tables["feedetl"].rows == 4
    assert con.execute("SELECT sum(det_item_fee_sumamt) FROM feedetl").fetchone()[0] == Decimal("78.00")
    assert con.execute("SELECT typeof(brdy), typeof(begntime) FROM psn, mdtrt LIMIT 1").fetchone() == ("DATE", "TIMESTAMP")


@pytest.mark.parametrize(("case", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_with_location(tmp_path, case, mutate, expected):
    directory = write_csv_dataset(tmp_path / "ds")
    mutate(directory)
    con = duckdb.connect()
    with pytest.raises(ContractError) as info:
        load_dataset(directory, con)
    file, row, column, words = expected
    issues = info.value.issues
    assert [(i.file, i.row, i.column) for i in issues] == [(file, row, column)], [str(i) for i in issues]
    assert words in issues[0].message
    assert (f"第{row}行" in str(issues[0])) == (row is not None)
    tables = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()
    assert tables == [], "a failed load must leave nothing behind"


def test_dangling_person_is_reported_with_the_fee_lines_it_breaks(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    set_cell(directory, "mdtrt", 1, "psn_no", "P404")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    assert [(i.file, i.row, i.column) for i in info.value.issues] == [
        ("mdtrt.csv", 1, "psn_no"),
        ("feedetl.csv", 1, "psn_no"),
        ("feedetl.csv", 2, "psn_no"),
    ]


def test_failed_load_into_a_database_file_keeps_its_previous_tables(tmp_path):
    good = write_csv_dataset(tmp_path / "good")
    bad = write_csv_dataset(tmp_path / "bad")
    set_cell(bad, "feedetl", 1, "cnt", "x")
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    load_dataset(good, con)
    with pytest.raises(ContractError):
        load_dataset(bad, con)
    assert con.execute("SELECT count(*) FROM feedetl").fetchone()[0] == 4


def test_parquet_with_wrong_type_names_the_row(tmp_path):
    tables = build_tables(GIVEN)
    directory = write_dataset(tables, tmp_path / "pq")
    import pyarrow as pa
    import pyarrow.parquet as pq

    diag = pq.read_table(directory / "diag.parquet")
    idx = diag.schema.get_field_index("diag_srt_no")
    diag = diag.set_column(idx, "diag_srt_no", pa.array(["1", "two"]))
    pq.write_table(diag, directory / "diag.parquet")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    assert [(i.file, i.row, i.column) for i in info.value.issues] == [("diag.parquet", 2, "diag_srt_no")]


def _typed_parquet(tmp_path: Path, change) -> Path:
    """GIVEN as Parquet with exactly the contract's schema (the loader's fast pass reads it directly)."""
    tables = build_tables(GIVEN)
    change(tables)
    return write_dataset(tables, tmp_path / "typed")


def test_clean_typed_parquet_loads_in_one_pass(tmp_path):
    con = duckdb.connect()
    report = load_dataset(_typed_parquet(tmp_path, lambda t: None), con)
    assert report.passes == 1
    assert con.execute("SELECT count(*) FROM feedetl").fetchone()[0] == len(GIVEN["feedetl"])
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '_stg%'").fetchone()[0] == 0


def _kind(con, name: str) -> str:
    return con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0]


def test_in_place_table_is_a_view_over_the_clean_file(tmp_path):
    directory = _typed_parquet(tmp_path, lambda t: None)
    con = duckdb.connect()
    report = load_dataset(directory, con, in_place=("feedetl",))
    assert report.passes == 1
    assert report.tables["feedetl"].in_place and not report.tables["mdtrt"].in_place
    assert (_kind(con, "feedetl"), _kind(con, "mdtrt")) == ("VIEW", "BASE TABLE")
    assert con.execute("SELECT list(feedetl_sn ORDER BY feedetl_sn) FROM feedetl").fetchone()[0] == sorted(
        r["feedetl_sn"] for r in GIVEN["feedetl"]
    )
    # a later load into the same connection replaces the view
    report = load_dataset(directory, con)
    assert not report.tables["feedetl"].in_place and _kind(con, "feedetl") == "BASE TABLE"


def test_in_place_view_of_a_relative_dataset_path_survives_a_change_of_directory(tmp_path, monkeypatch):
    _typed_parquet(tmp_path, lambda t: None)
    monkeypatch.chdir(tmp_path)
    con = duckdb.connect()
    load_dataset(Path("typed"), con, in_place=("feedetl",))
    monkeypatch.chdir(tmp_path.parent)
    assert con.execute("SELECT count(*) FROM feedetl").fetchone()[0] == len(GIVEN["feedetl"])


def test_in_place_copies_csv_and_files_with_problems(tmp_path):
    con = duckdb.connect()
    report = load_dataset(write_csv_dataset(tmp_path / "ds"), con, in_place=("feedetl",))
    assert not report.tables["feedetl"].in_place and _kind(con, "feedetl") == "BASE TABLE"
    directory = _typed_parquet(tmp_path, _set("feedetl", 2, "feedetl_sn", "F1"))
    con = duckdb.connect()
    report = load_dataset(directory, con, lenient=True, rejects_path=tmp_path / "r.csv", in_place=("feedetl",))
    assert report.passes == 2 and report.rejected == 1 and not report.tables["feedetl"].in_place
    assert _kind(con, "feedetl") == "BASE TABLE"
    assert con.execute("SELECT count(*) FROM feedetl").fetchone()[0] == len(GIVEN["feedetl"]) - 1


def _set(table: str, row: int, column: str, value):
    def change(tables):
        tables[table][row - 1][column] = value

    return change


TYPED_CASES = [
    ("duplicate key", _set("feedetl", 3, "feedetl_sn", "F1"), ("feedetl.parquet", 3, "feedetl_sn", "重复")),
    ("dangling reference", _set("diag", 2, "mdtrt_id", "M404"), ("diag.parquet", 2, "mdtrt_id", "引用不存在")),
    ("unknown code", _set("psn", 2, "gend", "3"), ("psn.parquet", 2, "gend", "字典")),
    ("required value only spaces", _set("feedetl", 2, "hilist_code", "  "), ("feedetl.parquet", 2, "hilist_code", "必填")),
    (
        "broken line money invariant",
        _set("feedetl", 4, "det_item_fee_sumamt", Decimal("9.00")),
        ("feedetl.parquet", 4, "det_item_fee_sumamt", "金额不符"),
    ),
    ("fee line disagrees with its encounter", _set("feedetl", 1, "psn_no", "P2"), ("feedetl.parquet", 1, "psn_no", "不一致")),
]


@pytest.mark.parametrize("in_place", [(), ("feedetl",)], ids=["copied", "in-place"])
@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in TYPED_CASES], ids=[c[0] for c in TYPED_CASES])
def test_typed_parquet_problem_is_located_by_the_detailed_pass(tmp_path, change, expected, in_place):
    con = duckdb.connect()
    with pytest.raises(ContractError) as info:
        load_dataset(_typed_parquet(tmp_path, change), con, in_place=in_place)
    issues = info.value.issues
    file, row, column, words = expected
    assert [(i.file, i.row, i.column) for i in issues] == [(file, row, column)], [str(i) for i in issues]
    assert words in issues[0].message
    assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == 0


def test_lenient_typed_parquet_rejects_the_bad_row(tmp_path):
    directory = _typed_parquet(tmp_path, _set("feedetl", 2, "feedetl_sn", "F1"))
    con = duckdb.connect()
    report = load_dataset(directory, con, lenient=True, rejects_path=tmp_path / "rejects.csv")
    assert report.passes == 2 and report.rejected == 1
    assert con.execute("SELECT list(feedetl_sn ORDER BY feedetl_sn) FROM feedetl").fetchone()[0] == ["F1", "F3", "F4"]
    assert [(r["table"], r["row"], r["column"]) for r in read_rows(tmp_path / "rejects.csv")] == [("feedetl", "2", "feedetl_sn")]


def test_lenient_load_writes_rejects_and_loads_the_rest(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    set_cell(directory, "mdtrt", 2, "med_type", "99")  # M2 rejected -> its diag and fee lines cascade
    set_cell(directory, "feedetl", 2, "cnt", "abc")
    rejects = tmp_path / "out" / "rejects.csv"
    con = duckdb.connect()
    report = load_dataset(directory, con, lenient=True, rejects_path=rejects)
    assert con.execute("SELECT list(feedetl_sn ORDER BY feedetl_sn) FROM feedetl").fetchone()[0] == ["F1"]
    assert con.execute("SELECT list(mdtrt_id) FROM mdtrt").fetchone()[0] == ["M1"]
    assert report.rejected == 5  # M2, its diag row, F2 (bad cnt), F3 and F4 (encounter rejected)
    rows = read_rows(rejects)
    located = {(r["table"], r["row"], r["column"]) for r in rows}
    assert ("mdtrt", "2", "med_type") in located
    assert ("feedetl", "2", "cnt") in located
    assert ("feedetl", "3", "mdtrt_id") in located
    assert all(r["reason"] for r in rows)
    assert '"feedetl_sn":"F2"' in next(r["raw"] for r in rows if r["column"] == "cnt")


def test_identity_numbers_are_hashed_and_names_dropped(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "psn.csv"
    rows = read_rows(path)
    for row, cert in zip(rows, ["110101199001011234", "110101198502023456"], strict=True):
        row["certno"] = cert
        row["psn_name"] = "张三"
    write_rows(path, rows)
    con = duckdb.connect()
    report = load_dataset(directory, con, id_salt="s")
    cols = [r[0] for r in con.execute("DESCRIBE psn").fetchall()]
    assert "certno" not in cols and "psn_name" not in cols and "certno_hash" in cols
    stored = con.execute("SELECT list(certno_hash) FROM psn").fetchone()[0]
    assert "110101199001011234" not in str(stored) and len(stored[0]) == 64
    assert report.tables["psn"].dropped_columns == ["psn_name"]


def test_unknown_extra_columns_are_kept(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "fixmedins.csv"
    rows = read_rows(path)
    for row in rows:
        row["grade_note"] = "x"
    write_rows(path, rows)
    con = duckdb.connect()
    load_dataset(directory, con)
    assert con.execute("SELECT list(grade_note) FROM fixmedins").fetchone()[0] == ["x", "x"]


def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    good = write_csv_dataset(tmp_path / "good")
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    bad = write_csv_dataset(tmp_path / "bad")
    set_cell(bad, "psn", 1, "gend", "3")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "psn.csv 第1行 列 gend" in result.output
    result = runner.invoke(app, ["validate", str(bad), "--no-such-option"])
    assert result.exit_code == 2


def test_contract_docs_are_current():
    from fundguard.contract.docs import render_markdown

    committed = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"
    assert committed.read_text(encoding="utf-8") == render_markdown(), "run `fundguard docs build`"
