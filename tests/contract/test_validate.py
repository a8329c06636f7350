"""`validate` / `load_dataset`: each kind of bad input is rejected with its file, row and column, and
nothing is loaded; lenient loads write rejects and load the rest; identity numbers are never stored."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
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
    (
        "integer beyond its type",
        lambda d: set_cell(d, "diag", 2, "diag_srt_no", "99999999999"),
        ("diag.csv", 2, "diag_srt_no", "超出范围: 应为 INTEGER"),
    ),
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
    # DuckDB reads these as numbers (10, 16, 10) and Spark as NULL: a plain number or an error
    (
        "digit separator in a quantity",
        lambda d: (set_cell(d, "feedetl", 2, "cnt", "1_0"), set_cell(d, "feedetl", 2, "det_item_fee_sumamt", "300.00")),
        ("feedetl.csv", 2, "cnt", "实际为 \"1_0\""),
    ),
    ("hexadecimal supply days", lambda d: set_cell(d, "feedetl", 1, "prd_days", "0x10"), ("feedetl.csv", 1, "prd_days", "实际为 \"0x10\"")),
    ("exponent in an integer", lambda d: set_cell(d, "feedetl", 1, "prd_days", "1e1"), ("feedetl.csv", 1, "prd_days", "实际为 \"1e1\"")),
    (
        "hour 24 (read as the next day)",
        lambda d: set_cell(d, "feedetl", 1, "fee_ocur_time", "2025-03-01 24:00:00"),
        ("feedetl.csv", 1, "fee_ocur_time", "时间"),
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


def test_parquet_timestamp_with_a_time_zone_is_refused(tmp_path):
    """Read as the machine's local time, a zoned timestamp would give other flags on another machine."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory = write_dataset(build_tables(GIVEN), tmp_path / "pq")
    fee = pq.read_table(directory / "feedetl.parquet")
    idx = fee.schema.get_field_index("fee_ocur_time")
    fee = fee.set_column(idx, "fee_ocur_time", fee.column(idx).cast(pa.timestamp("us", tz="UTC")))
    pq.write_table(fee, directory / "feedetl.parquet")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    issues = info.value.issues
    assert [(i.file, i.column) for i in issues] == [("feedetl.parquet", "fee_ocur_time")]
    assert "带时区" in issues[0].message


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
    # two lines F1 that differ: both rejected (which one is right cannot be told)
    assert report.passes == 2 and report.rejected == 2 and not report.tables["feedetl"].in_place
    assert _kind(con, "feedetl") == "BASE TABLE"
    assert con.execute("SELECT count(*) FROM feedetl").fetchone()[0] == len(GIVEN["feedetl"]) - 2


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
    # the two lines F1 differ: neither is loaded (keeping the first would guess)
    assert report.passes == 2 and report.rejected == 2
    assert con.execute("SELECT list(feedetl_sn ORDER BY feedetl_sn) FROM feedetl").fetchone()[0] == ["F3", "F4"]
    assert [(r["table"], r["row"], r["column"]) for r in read_rows(tmp_path / "rejects.csv")] == [
        ("feedetl", "1", "feedetl_sn"), ("feedetl", "2", "feedetl_sn")]


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


@pytest.mark.parametrize("lenient", [False, True], ids=["strict", "lenient"])
def test_a_malformed_row_of_a_file_with_identity_columns_is_not_shown(tmp_path, lenient):
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "psn.csv"
    rows = read_rows(path)
    for row in rows:
        row["certno"] = "110101199001011234"
        row["psn_name"] = "张三"
    write_rows(path, rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] += ",x"  # data row 1: one field too many, so its fields cannot be told apart
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    if lenient:
        load_dataset(directory, duckdb.connect(), lenient=True, rejects_path=rejects, id_salt="s")
        text = rejects.read_text(encoding="utf-8")
        assert "这一行有" in text and "不显示" in text
    else:
        with pytest.raises(ContractError) as info:
            load_dataset(directory, duckdb.connect(), id_salt="s")
        text = "\n".join(str(i) for i in info.value.issues)
        assert "第1行" in text and "这一行有" in text and "不显示" in text
    assert "110101199001011234" not in text and "张三" not in text


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


# --- unreadable files, ambiguous or malformed input, silent value changes, CLI paths -------------------


def _corrupt_pages(path: Path) -> None:
    """Keep the Parquet footer (schema, row counts) but overwrite every data page with garbage."""
    import pyarrow.parquet as pq

    pq.write_table(pq.read_table(path), path, compression="none", use_dictionary=False, write_statistics=False)
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    data[4 : len(data) - footer] = b"\xff" * (len(data) - footer - 4)
    path.write_bytes(bytes(data))


CORRUPT_PARQUET = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "garbage": lambda p: p.write_bytes(b"not a parquet file at all" * 10),
    "csv renamed .parquet": lambda p: p.write_text("mdtrt_id,setl_id\nM1,S1\n", encoding="utf-8"),
    "garbage data pages": _corrupt_pages,
}


@pytest.mark.parametrize("corrupt", CORRUPT_PARQUET.values(), ids=CORRUPT_PARQUET.keys())
def test_corrupt_parquet_is_the_only_file_blamed(tmp_path, corrupt):
    directory = _typed_parquet(tmp_path, lambda t: None)
    corrupt(directory / "mdtrt.parquet")
    con = duckdb.connect()
    with pytest.raises(ContractError) as info:
        load_dataset(directory, con)
    issues = info.value.issues
    assert [(i.file, i.row, i.column) for i in issues] == [("mdtrt.parquet", None, None)], [str(i) for i in issues]
    message = issues[0].message
    assert message.startswith("文件损坏或不是 Parquet 文件 (") and "\n" not in message
    for leaked in ("SELECT", "LINE", "Transaction", str(directory)):
        assert leaked not in message
    assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == 0


def test_corrupt_parquet_beside_other_problems_reports_each_file_once(tmp_path):
    import pyarrow.parquet as pq

    directory = _typed_parquet(tmp_path, lambda t: None)
    previous = tmp_path / "previous.duckdb"
    con = duckdb.connect(str(previous))
    load_dataset(directory, con)  # tables of an earlier load in the same database must survive
    CORRUPT_PARQUET["truncated"](directory / "psn.parquet")
    feedetl = pq.read_table(directory / "feedetl.parquet")
    pq.write_table(feedetl.drop_columns(["hilist_code"]), directory / "feedetl.parquet")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, con)
    assert [(i.file, i.column) for i in info.value.issues] == [("feedetl.parquet", "hilist_code"), ("psn.parquet", None)]
    assert "缺少必需列" in info.value.issues[0].message
    assert "文件损坏" in info.value.issues[1].message
    assert con.execute("SELECT count(*) FROM feedetl").fetchone()[0] == len(GIVEN["feedetl"])


def test_corrupt_data_pages_of_a_table_read_in_place_are_reported(tmp_path):
    directory = _typed_parquet(tmp_path, lambda t: None)
    _corrupt_pages(directory / "feedetl.parquet")
    con = duckdb.connect()
    with pytest.raises(ContractError) as info:
        load_dataset(directory, con, in_place=("feedetl",))
    assert [(i.file, i.row, i.column) for i in info.value.issues] == [("feedetl.parquet", None, None)]
    assert "文件损坏" in info.value.issues[0].message
    assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == 0


def test_a_table_given_as_both_csv_and_parquet_is_rejected(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    write_dataset({"psn": build_tables(GIVEN)["psn"]}, directory)
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    issues = info.value.issues
    assert [(i.file, i.row, i.column) for i in issues] == [("psn.parquet", None, None)]
    assert "一张表只能有一个文件" in issues[0].message
    assert "psn.parquet" in issues[0].message and "psn.csv" in issues[0].message


@pytest.mark.parametrize("second", ["gend", "GEND"])
def test_duplicate_header_column_is_rejected(tmp_path, second):
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "psn.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    header[header.index('"death_date"')] = f'"{second}"'
    path.write_text("\n".join([",".join(header), *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    issues = info.value.issues
    assert [(i.file, i.row, i.column) for i in issues] == [("psn.csv", None, second)], [str(i) for i in issues]
    assert "列名重复" in issues[0].message and "第 2 列" in issues[0].message and "第 6 列" in issues[0].message


DECIMAL_CASES = [
    ("integer with a fraction", "diag", 2, "diag_srt_no", "1.5", "应为整数"),
    ("nullable integer with a fraction", "feedetl", 3, "prd_days", "2.7", "应为整数"),
    ("money with 3 decimals", "feedetl", 1, "det_item_fee_sumamt", "25.004", "最多 2 位小数"),
    ("settlement money with 3 decimals", "mdtrt", 1, "acct_pay", "0.005", "最多 2 位小数"),
    ("quantity with 5 decimals", "feedetl", 2, "cnt", "1.00001", "最多 4 位小数"),
]


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "words"), [c[1:] for c in DECIMAL_CASES], ids=[c[0] for c in DECIMAL_CASES]
)
def test_csv_value_with_more_decimals_than_its_type_is_rejected_not_rounded(tmp_path, table, row, column, value, words):
    directory = write_csv_dataset(tmp_path / "ds")
    set_cell(directory, table, row, column, value)
    con = duckdb.connect()
    with pytest.raises(ContractError) as info:
        load_dataset(directory, con)
    issues = info.value.issues
    assert [(i.file, i.row, i.column) for i in issues] == [(f"{table}.csv", row, column)], [str(i) for i in issues]
    assert words in issues[0].message and f'"{value}"' in issues[0].message
    assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == 0


def test_csv_decimals_within_the_type_load_exactly(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    set_cell(directory, "diag", 2, "diag_srt_no", "2.0")  # trailing zeros change nothing
    set_cell(directory, "feedetl", 1, "det_item_fee_sumamt", "25.000")
    set_cell(directory, "feedetl", 2, "cnt", "1.0001")  # 4 decimals: what a quantity holds
    set_cell(directory, "feedetl", 2, "det_item_fee_sumamt", "30.00")
    con = duckdb.connect()
    load_dataset(directory, con)
    assert con.execute("SELECT diag_srt_no FROM diag WHERE mdtrt_id = 'M2'").fetchone()[0] == 2
    assert con.execute("SELECT cnt FROM feedetl WHERE feedetl_sn = 'F2'").fetchone()[0] == Decimal("1.0001")


def _retyped_feedetl(tmp_path: Path, column: str, sql_type: str, values: list) -> Path:
    """GIVEN as Parquet, with feedetl's `column` stored as `sql_type` holding `values` (one per line)."""
    directory = _typed_parquet(tmp_path, lambda t: None)
    path = directory / "feedetl.parquet"
    con = duckdb.connect()
    con.execute(f"CREATE TABLE f AS SELECT * FROM read_parquet('{path}')")
    con.execute(f"ALTER TABLE f ALTER {column} TYPE {sql_type}")
    con.execute(f"UPDATE f SET {column} = (?::{sql_type}[])[CAST(substr(feedetl_sn, 2) AS INTEGER)]", [values])
    con.execute(f"COPY f TO '{path}' (FORMAT parquet)")
    return directory


PARQUET_DECIMAL_CASES = [
    ("double money with 3 decimals", "det_item_fee_sumamt", "DOUBLE", [25.0, 30.0, 15.005, 8.0], 3, "最多 2 位小数"),
    ("decimal(18,3) money", "det_item_fee_sumamt", "DECIMAL(18,3)", ["25", "30", "15", "8.001"], 4, "最多 2 位小数"),
    ("double integer with a fraction", "prd_days", "DOUBLE", [None, 2.7, None, None], 2, "应为整数"),
    ("decimal(18,6) quantity", "cnt", "DECIMAL(18,6)", ["2", "1", "3.000001", "1"], 3, "最多 4 位小数"),
]


@pytest.mark.parametrize(
    ("column", "sql_type", "values", "row", "words"),
    [c[1:] for c in PARQUET_DECIMAL_CASES],
    ids=[c[0] for c in PARQUET_DECIMAL_CASES],
)
def test_parquet_column_wider_than_its_type_is_checked_for_lost_decimals(tmp_path, column, sql_type, values, row, words):
    directory = _retyped_feedetl(tmp_path, column, sql_type, values)
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    issues = info.value.issues
    assert [(i.file, i.row, i.column) for i in issues] == [("feedetl.parquet", row, column)], [str(i) for i in issues]
    assert words in issues[0].message


def test_double_money_that_stands_for_cents_loads_exactly(tmp_path):
    noisy = 4.35 * 100 / 29  # 14.999999999999998: binary noise below the 15th digit, not a third decimal
    assert noisy != 15.0
    directory = _retyped_feedetl(tmp_path, "det_item_fee_sumamt", "DOUBLE", [25.0, 30.01 - 0.01, noisy, 8.0])
    con = duckdb.connect()
    load_dataset(directory, con)
    totals = con.execute("SELECT list(det_item_fee_sumamt ORDER BY feedetl_sn) FROM feedetl").fetchone()[0]
    assert totals == [Decimal("25.00"), Decimal("30.00"), Decimal("15.00"), Decimal("8.00")]


@pytest.mark.parametrize(
    ("change", "fields"),
    [(lambda line: line + ",x", 7), (lambda line: line.rsplit(",", 2)[0], 4)],
    ids=["too many", "too few"],
)
def test_csv_row_with_the_wrong_field_count_names_its_row(tmp_path, change, fields):
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "psn.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = change(lines[2])  # data row 2
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    issues = info.value.issues
    assert [(i.file, i.row, i.column) for i in issues] == [("psn.csv", 2, None)], [str(i) for i in issues]
    assert f"表头有 6 列，这一行有 {fields} 个字段" in issues[0].message
    assert "Expected" not in issues[0].message and "第2行" in str(issues[0])


def test_every_csv_row_with_the_wrong_field_count_is_listed_with_its_row(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "feedetl.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] += ",x"
    lines[4] += ",x,y"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    assert [(i.file, i.row) for i in info.value.issues] == [("feedetl.csv", 1), ("feedetl.csv", 4)]
    assert "这一行有 19 个字段" in info.value.issues[1].message


def test_a_row_with_the_wrong_field_count_does_not_hide_the_other_rows_errors(tmp_path):
    # strict validation lists every problem in one pass: the unsplittable row and a bad value in another
    # row of the same file; the children of the unreadable row are not reported as "not found" on top
    directory = write_csv_dataset(tmp_path / "ds")
    rows = read_rows(directory / "psn.csv")
    path = directory / "psn.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] += ",x"  # data row 1: 7 fields
    bad_gend = lines[2].split(",")
    bad_gend[list(rows[0]).index("gend")] = "7"
    lines[2] = ",".join(bad_gend)  # data row 2: gend 7
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    found = [(i.file, i.row, i.column) for i in info.value.issues]
    assert found == [("psn.csv", 1, None), ("psn.csv", 2, "gend")], [str(i) for i in info.value.issues]
    assert "这一行有 7 个字段" in info.value.issues[0].message


@pytest.mark.parametrize(("delimiter", "word"), [(";", "分号"), ("\t", "制表符")], ids=["semicolon", "tab"])
def test_csv_with_another_delimiter_gets_a_hint(tmp_path, delimiter, word):
    directory = write_csv_dataset(tmp_path / "ds")
    rows = read_rows(directory / "fixmedins.csv")
    with (directory / "fixmedins.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    issues = info.value.issues
    assert sorted(i.column for i in issues) == sorted(c for c in rows[0])
    for issue in issues:
        assert issue.message.startswith("缺少必需列 (分隔符应为逗号") and word in issue.message, str(issue)
        assert "fixmedins_code" in issue.message  # the name it saw


def test_uppercase_csv_header_gets_a_hint_with_the_name_seen(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "psn.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0].upper(), *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    messages = {i.column: i.message for i in info.value.issues}
    assert set(messages) == {"psn_no", "gend", "brdy", "insutype", "insu_admdvs"}
    assert messages["psn_no"] == '缺少必需列 (列名应为小写: 文件中为 "PSN_NO")'


def test_header_only_required_table_is_reported_first_and_the_rest_stays_bounded(tmp_path):
    from fundguard.contract.load import MAX_REPORTED_ISSUES

    lines = [{"feedetl_sn": f"F{i}", "mdtrt_id": "M1", "cnt": 1, "pric": 1} for i in range(1, 251)]
    tables = build_tables({**GIVEN, "feedetl": lines})
    directory = tmp_path / "ds"
    directory.mkdir()
    for name, rows in tables.items():
        if rows:
            pacsv.write_csv(to_arrow(name, rows), directory / f"{name}.csv")
    header = (directory / "psn.csv").read_text(encoding="utf-8").splitlines()[0]
    (directory / "psn.csv").write_text(header + "\n", encoding="utf-8")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    issues = info.value.issues
    assert (issues[0].file, issues[0].row, issues[0].column) == ("psn.csv", None, None)
    assert "没有数据行" in issues[0].message
    # then the encounters that name a missing person, before the fee lines that do
    assert [(i.file, i.row, i.column) for i in issues[1:3]] == [("mdtrt.csv", 1, "psn_no"), ("mdtrt.csv", 2, "psn_no")]
    assert len(issues) == MAX_REPORTED_ISSUES
    assert info.value.total == 1 + 2 + 250


def test_cli_rejects_path_that_cannot_be_written_is_a_usage_error_before_loading(tmp_path):
    runner = CliRunner()
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    missing_dataset = tmp_path / "no-such-dataset"  # the output path is checked first: exit 2, not 1
    for target in (afile / "rj.csv", afile / "sub" / "rj.csv", tmp_path):
        result = runner.invoke(app, ["validate", str(missing_dataset), "--lenient", "--rejects", str(target)])
        assert result.exit_code == 2, (target, result.output)
        assert isinstance(result.exception, SystemExit), result.exception
        assert "rejects 文件" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["validate", str(missing_dataset), "--lenient", "--rejects", str(afile / "rj.csv")])
    assert "不是目录" in result.output


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc (a folder nobody can write)")
def test_cli_output_paths_under_proc_are_usage_errors(tmp_path):
    runner = CliRunner()
    good = write_csv_dataset(tmp_path / "good")
    for args in (["--lenient", "--rejects", "/proc/x/rj.csv"], ["--db", "/proc/x.duckdb"]):
        result = runner.invoke(app, ["validate", str(good), *args])
        assert result.exit_code == 2, (args, result.output)
        assert isinstance(result.exception, SystemExit), result.exception
        assert "无法创建" in result.output and "/proc" in result.output


def test_cli_db_path_problems_are_usage_errors(tmp_path):
    runner = CliRunner()
    good = write_csv_dataset(tmp_path / "good")
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("not a database", encoding="utf-8")
    for db, words in ((tmp_path / "missing" / "x.duckdb", "不存在"), (not_a_db, "无法打开"), (tmp_path, "是一个目录")):
        result = runner.invoke(app, ["validate", str(good), "--db", str(db)])
        assert result.exit_code == 2, (db, result.output)
        assert isinstance(result.exception, SystemExit), result.exception
        assert "数据库文件" in result.output and words in result.output
    assert not (tmp_path / "missing").exists()
    result = runner.invoke(app, ["validate", str(good), "--db", str(tmp_path / "ok.duckdb")])
    assert result.exit_code == 0, result.output


def test_cli_dataset_path_that_is_a_file_is_not_called_missing(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(afile), "--db", str(tmp_path / "db.duckdb")])
    assert result.exit_code == 1
    assert "不是目录" in result.output and "不存在" not in result.output
    assert not (tmp_path / "db.duckdb").exists(), "nothing is created for a dataset that cannot load"


def _dataset_with_a_bad_cnt(tmp_path: Path, data_row: int) -> Path:
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "feedetl.csv"
    rows = read_rows(path)
    rows[data_row - 1]["cnt"] = "abc"
    write_rows(path, rows)
    return directory


def test_cli_db_file_is_not_left_behind_when_the_dataset_fails(tmp_path):
    db = tmp_path / "new.duckdb"
    result = CliRunner().invoke(app, ["validate", str(_dataset_with_a_bad_cnt(tmp_path, 1)), "--db", str(db)])
    assert result.exit_code == 1 and "cnt" in result.output, result.output
    assert not db.exists() and not (tmp_path / "new.duckdb.wal").exists()


def test_cli_json_output_lists_the_problems_of_a_failed_load(tmp_path):
    result = CliRunner().invoke(app, ["validate", str(_dataset_with_a_bad_cnt(tmp_path, 2)), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["total"] == 1
    assert [(i["file"], i["row"], i["column"]) for i in report["issues"]] == [("feedetl.csv", 2, "cnt")]


def test_lenient_load_rejects_rows_with_the_wrong_field_count_and_loads_the_rest(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "feedetl.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += ",x"  # data row 2 (F2): one field too many
    lines[3] = lines[3].rsplit(",", 3)[0]  # data row 3 (F3): three fields too few
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    con = duckdb.connect()
    report = load_dataset(directory, con, lenient=True, rejects_path=rejects)
    assert con.execute("SELECT list(feedetl_sn ORDER BY feedetl_sn) FROM feedetl").fetchone()[0] == ["F1", "F4"]
    assert report.rejected == 2 and report.tables["feedetl"].rows == 2
    rows = read_rows(rejects)
    assert [(r["table"], r["file"], r["row"], r["column"]) for r in rows] == [
        ("feedetl", "feedetl.csv", "2", ""),
        ("feedetl", "feedetl.csv", "3", ""),
    ]
    n = len(lines[0].split(","))
    assert f"表头有 {n} 列，这一行有 {n + 1} 个字段" in rows[0]["reason"]
    assert f"这一行有 {n - 3} 个字段" in rows[1]["reason"]
    assert json.loads(rows[0]["raw"]) == {"line": lines[2]}
    # the rows kept keep their own row numbers: a later problem in F4 (data row 4) is still row 4
    header = next(csv.reader([lines[0]]))
    fields = next(csv.reader([lines[4]]))
    fields[header.index("cnt")] = "abc"
    lines[4] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_dataset(directory, duckdb.connect(), lenient=True, rejects_path=rejects)
    assert [(r["row"], r["column"]) for r in read_rows(rejects)] == [("2", ""), ("3", ""), ("4", "cnt")]


def test_lenient_rejected_line_cascades_to_the_rows_that_refer_to_it(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "mdtrt.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += ",x"  # M2 cannot be read: its diagnosis and fee lines have no encounter
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = duckdb.connect()
    report = load_dataset(directory, con, lenient=True, rejects_path=tmp_path / "rejects.csv")
    assert con.execute("SELECT list(mdtrt_id) FROM mdtrt").fetchone()[0] == ["M1"]
    assert con.execute("SELECT list(feedetl_sn ORDER BY feedetl_sn) FROM feedetl").fetchone()[0] == ["F1", "F2"]
    assert report.rejected == 4  # M2, its diag row, F3, F4


@pytest.mark.parametrize("second", ["gend", "GEND"])
def test_parquet_with_a_duplicate_column_name_is_refused(tmp_path, second):
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory = _typed_parquet(tmp_path, lambda t: None)
    path = directory / "psn.parquet"
    psn = pq.read_table(path)
    # a second gend column with other values: DuckDB alone would read it as gend_1 and use the first
    pq.write_table(psn.append_column(pa.field(second, pa.string()), pa.array(["2"] * psn.num_rows)), path)
    con = duckdb.connect()
    with pytest.raises(ContractError) as info:
        load_dataset(directory, con)
    issues = info.value.issues
    assert [(i.file, i.row, i.column) for i in issues] == [("psn.parquet", None, second)], [str(i) for i in issues]
    assert "文件中列名重复" in issues[0].message
    assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == 0


def test_lines_of_ten_billion_yuan_and_more_are_checked_not_an_overflow(tmp_path):
    # DECIMAL(16,4) × DECIMAL(16,4) would be typed DECIMAL(18,8) by DuckDB: the amount check overflowed
    big = [{"feedetl_sn": "F1", "mdtrt_id": "M1", "cnt": 1, "pric": 90_000_000_000},
           {"feedetl_sn": "F2", "mdtrt_id": "M2", "cnt": 2, "pric": 90_000_000_000}]
    ok = write_dataset(build_tables({**GIVEN, "feedetl": big}), tmp_path / "ok")
    load_dataset(ok, duckdb.connect())
    tables = build_tables({**GIVEN, "feedetl": big})
    tables["feedetl"][1]["det_item_fee_sumamt"] = Decimal("90000000000.00")  # half of 2 × 9e10
    bad = write_dataset(tables, tmp_path / "bad")
    with pytest.raises(ContractError) as info:
        load_dataset(bad, duckdb.connect())
    assert [(i.row, i.column) for i in info.value.issues] == [(2, "det_item_fee_sumamt")]
    assert "数量×单价 = 180000000000.00" in info.value.issues[0].message


@pytest.mark.parametrize("threaded_first", [True, False])
def test_an_unclosed_quote_in_the_last_column_is_named_not_swallowing_the_rows_after_it(tmp_path, threaded_first):
    # the CSV reader took the rest of the file as one value: rows vanished and the load passed
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "feedetl.csv"
    rows = read_rows(path)
    header = list(rows[0])
    write_rows(path, rows)  # minimal quoting: no value is quoted
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) >= 4
    lines[2] = lines[2].rstrip("\r\n").rsplit(",", 1)[0] + ',"abc\n'
    if not threaded_first:  # a quoted multi-line value elsewhere sends the read down the careful path
        first = lines[1].rstrip("\r\n").split(",")
        first[1] = f'"{first[1]}\n"'
        lines[1] = ",".join(first) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    (issue,) = info.value.issues
    assert (issue.file, issue.row, issue.column) == ("feedetl.csv", 2, header[-1])
    assert "引号未闭合" in issue.message


def test_a_quoted_multi_line_value_at_the_end_of_the_file_is_fine(tmp_path):
    directory = write_csv_dataset(tmp_path / "ds")
    path = directory / "fixmedins.csv"
    rows = read_rows(path)
    rows[-1]["fixmedins_name"] = "某医院\n（分院）"
    write_rows(path, rows, [c for c in rows[0] if c != "fixmedins_name"] + ["fixmedins_name"])
    assert path.read_text(encoding="utf-8").rstrip().endswith('"')
    con = duckdb.connect()
    load_dataset(directory, con)
    assert con.execute("SELECT count(*) FROM fixmedins WHERE fixmedins_name = '某医院\n（分院）'").fetchone()[0] == 1


def _retype(directory: Path, table: str, column: str, array) -> None:
    import pyarrow.parquet as pq

    data = pq.read_table(directory / f"{table}.parquet")
    idx = data.schema.get_field_index(column)
    pq.write_table(data.set_column(idx, column, array), directory / f"{table}.parquet")


@pytest.mark.parametrize(("table", "column", "make", "words"), [
    # a number or a list written as text changes the value (8.100003e+19, [I10.x00]): never read as a code
    ("feedetl", "hilist_code", lambda n: pa.array([1.5e19] * n, pa.float64()), "应为文本"),
    ("diag", "diag_code", lambda n: pa.array([["I10.x00"]] * n, pa.list_(pa.string())), "应为文本"),
    # a date has no time of day: as a fee time it would read as midnight
    ("feedetl", "fee_ocur_time", lambda n: pa.array([dt.date(2025, 3, 1)] * n, pa.date32()), "应为时间"),
])
def test_a_parquet_column_of_a_type_that_would_change_its_values_is_refused(tmp_path, table, column, make, words):
    import pyarrow.parquet as pq

    directory = write_dataset(build_tables(GIVEN), tmp_path / "pq")
    rows = pq.read_metadata(directory / f"{table}.parquet").num_rows
    _retype(directory, table, column, make(rows))
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    found = [(i.file, i.row, i.column) for i in info.value.issues]
    assert (f"{table}.parquet", None, column) in found
    assert any(words in i.message for i in info.value.issues if i.column == column)


@pytest.mark.parametrize(("table", "column", "values", "bad_row"), [
    # a birth date stored as a timestamp loads at midnight; with a time of day it would be cut
    ("psn", "brdy", [dt.datetime(1980, 5, 5, 0, 0), dt.datetime(2010, 5, 1, 15, 30)], 2),
    # an integer flag is 0 or 1: 2 would read as true
    ("feedetl", "hosp_appr_flag", [0, 1, 2, 0], 3),
])
def test_parquet_values_that_would_change_on_the_way_in_are_refused_by_row(tmp_path, table, column, values, bad_row):
    directory = write_dataset(build_tables(GIVEN), tmp_path / "pq")
    _retype(directory, table, column, pa.array(values))
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    assert [(i.file, i.row, i.column) for i in info.value.issues] == [(f"{table}.parquet", bad_row, column)]
    good = [v for i, v in enumerate(values) if i + 1 != bad_row]
    fixed = write_dataset(build_tables(GIVEN), tmp_path / "ok")
    _retype(fixed, table, column, pa.array([*good, good[0]][: len(values)]))
    load_dataset(fixed, duckdb.connect())


def test_a_nanosecond_fee_time_with_a_part_below_the_microsecond_is_refused(tmp_path):
    directory = write_dataset(build_tables(GIVEN), tmp_path / "pq")
    import pyarrow.parquet as pq

    n = pq.read_metadata(directory / "feedetl.parquet").num_rows
    base = 1_740_800_000_000_000_000  # 2025-03-01 (ns)
    _retype(directory, "feedetl", "fee_ocur_time",
            pa.array([base + 1_000 * i for i in range(n - 1)] + [base + 123_456_789], pa.timestamp("ns")))
    with pytest.raises(ContractError) as info:
        load_dataset(directory, duckdb.connect())
    assert [(i.file, i.row, i.column) for i in info.value.issues] == [("feedetl.parquet", n, "fee_ocur_time")]
