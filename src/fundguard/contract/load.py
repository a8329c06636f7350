"""All-or-nothing loading of a contract dataset (Parquet or CSV per table) into DuckDB.

Every check is a set-based query over a staging table that keeps each source row's 1-based data row
number, so an error names the file, the row and the column. Strict loads fail whole; lenient loads
write every rejected row, with its reason, to a rejects file and load the rest.

A first, fast pass reads each Parquet file whose schema is exactly the contract's straight into its
final table and only counts what each check finds; when every count is zero (the usual case) the load
is done. When anything fails, the pass is rolled back and the detailed pass stages every table with
its row numbers and reports each problem (so errors cost a second read, clean data only one).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fundguard.contract.masking import ID_NUMBER_PATTERN, contains_id_number, holds_id_numbers
from fundguard.contract.tables import (
    TABLES,
    Column,
    ColumnType,
    Reference,
    Table,
    identity_kind,
)

MAX_REPORTED_ISSUES = 200
#: tables a dataset cannot do without rows of
NEVER_EMPTY = ("psn", "mdtrt", "feedetl")
#: CSV fields read as empty (NULL)
CSV_NULLS = ["", "\\N", "NULL", "null"]
#: a date, or a date at midnight as database DATE exports write it (Oracle: `1975-06-03 00:00:00`)
_DATE_RE = r"^\d{4}-\d{2}-\d{2}( 00:00(:00)?)?$"
_TIME_RE = r"^\d{4}-\d{2}-\d{2}[ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"
#: a character no plain number written as text has: DuckDB would read `1_000` as 1000, `0x10` as 16,
#: `1e1` as 10 (Spark reads them as NULL), and nobody exports quantities that way
_NOT_PLAIN_NUMBER_RE = r"[^0-9. +-]"
#: codes matched against knowledge entries (where an invisible character loses the match silently)
KB_MATCHED_CODES = frozenset({("feedetl", "hilist_code"), ("diag", "diag_code"), ("oprn", "oprn_oprt_code"),
                              ("drug_trac", "drug_trac_codg"), ("mdtrt", "drg_code"), ("mdtrt", "dip_code")})
#: characters that do not show, as (first, last) code point ranges: ASCII controls and space, DEL, and
#: Unicode spaces and invisible marks (no-break, ogham, en/em/thin, zero-width, line/paragraph separators,
#: narrow no-break, word joiner, ideographic space, BOM)
_INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00, 0x20), (0x7F, 0x7F), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200F), (0x2028, 0x202F),
    (0x205F, 0x2064), (0x3000, 0x3000), (0xFEFF, 0xFEFF),
)
#: the exact test (a regular expression class), from the ranges above
_INVISIBLE = "[" + "".join(
    f"\\x{{{first:X}}}" + (f"-\\x{{{last:X}}}" if last != first else "") for first, last in _INVISIBLE_RANGES
) + "]"
#: the cheap test that lets through every value the exact one could match: the first or the last
#: character is an ASCII control, space or DEL, or not ASCII (bytes compare: chr(127) is below every
#: UTF-8 lead byte of a non-ASCII character)
_EDGE_NOT_PLAIN = "({name} < '!' OR {name} >= chr(127) OR right({name}, 1) < '!' OR right({name}, 1) >= chr(127))"
_TYPE_WORDS = {
    ColumnType.STR: "文本",
    ColumnType.CODE: "代码",
    ColumnType.INT: "整数",
    ColumnType.DECIMAL: "数值",
    ColumnType.DATE: "日期 YYYY-MM-DD",
    ColumnType.TIME: "时间 YYYY-MM-DD HH:MM:SS",
    ColumnType.BOOL: "布尔值 (0/1/true/false)",
}


_INTEGER_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                            "UINTEGER", "UBIGINT"})
_MISTYPED_HINT = {
    ColumnType.STR: " (编码/编号须以文本存储: 浮点数、列表等类型写成文本会改变其值，如 8.100003e+19)",
    ColumnType.CODE: " (代码须以文本或整数存储)",
    ColumnType.TIME: " (须为精确到秒的时间戳或文本；日期类型没有时刻)",
}


def _parquet_type_fits(kind: ColumnType, src: str) -> bool:
    """Whether a Parquet column of DuckDB type `src` can be read as contract type `kind` without changing
    a value (values that still cannot, such as a date with a time of day, are checked row by row)."""
    if src == "VARCHAR" or src == "NULL":
        return True
    if kind in (ColumnType.STR, ColumnType.CODE, ColumnType.BOOL):
        return src in _INTEGER_TYPES or (kind is ColumnType.BOOL and src == "BOOLEAN")
    if kind in (ColumnType.INT, ColumnType.DECIMAL):
        # pandas writes an integer column with gaps as DOUBLE: a fraction is refused row by row
        return src in _INTEGER_TYPES or src.startswith("DECIMAL") or src in ("DOUBLE", "FLOAT")
    if kind is ColumnType.DATE:
        return src == "DATE" or (src.startswith("TIMESTAMP") and "TIME ZONE" not in src)
    if kind is ColumnType.TIME:
        return src.startswith("TIMESTAMP") and "TIME ZONE" not in src
    return True


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in the input: where (file, 1-based data row, column) and what was expected."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" 第{self.row}行"
        if self.column:
            where += f" 列 {self.column}"
        return f"{where}: {self.message}"


class ContractError(Exception):
    """The dataset breaks the data contract; nothing was loaded."""

    def __init__(self, issues: list[Issue], total: int | None = None):
        self.issues = issues
        self.total = total if total is not None else len(issues)
        shown = "\n".join(f"  {i}" for i in issues[:20])
        more = f"\n  …共 {self.total} 个问题" if self.total > 20 else ""
        super().__init__(f"数据不符合数据契约，未加载任何数据 ({self.total} 个问题):\n{shown}{more}")


@dataclass
class TableReport:
    name: str
    file: str | None
    rows: int = 0
    rejected: int = 0
    sha256: str | None = None
    dropped_columns: list[str] = field(default_factory=list)
    hashed_columns: list[str] = field(default_factory=list)
    #: read in place: the table is a view over the (checked) Parquet file, not a copy in memory
    in_place: bool = False
    #: the columns the file has (empty when there is no file): an optional contract column not among
    #: them was filled with NULL
    columns: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    path: str
    tables: dict[str, TableReport]
    rejected: int = 0
    rejects_path: str | None = None
    issues: list[Issue] = field(default_factory=list)
    #: 1: the fast pass found nothing; 2: it found a problem and the detailed pass located it
    passes: int = 1
    #: what the load did that its user should know (identity columns dropped for want of a salt…)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "rejected": self.rejected,
            "rejects_path": self.rejects_path,
            "warnings": self.warnings,
            "tables": {
                n: {"file": t.file, "rows": t.rows, "rejected": t.rejected, "sha256": t.sha256}
                for n, t in self.tables.items()
            },
        }


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_files(directory: Path, table: Table) -> list[Path]:
    """The files present for `table`: none, one, or (an error the loader reports) both formats."""
    return [p for p in (directory / f"{table.name}.parquet", directory / f"{table.name}.csv") if p.exists()]


def _near_names(directory: Path, table: Table) -> list[str]:
    """Files that are probably the table under another name (`PSN.CSV`, `psn.txt`, `psn.parquet.gz`)."""
    try:
        return sorted(p.name for p in directory.iterdir() if p.name.lower().split(".")[0] == table.name)[:3]
    except OSError:
        return []


def find_table_file(directory: Path, table: Table) -> Path | None:
    files = table_files(directory, table)
    return files[0] if files else None


def dataset_dir_issue(directory: Path) -> Issue | None:
    """Why `directory` cannot be a dataset folder, or None."""
    if not directory.exists():
        return Issue(str(directory), None, None, "数据目录不存在")
    if not directory.is_dir():
        return Issue(str(directory), None, None, "不是目录: 应为数据目录 (每张表一个 .parquet 或 .csv 文件)")
    return None


def short_reason(exc: BaseException, path: Path | None = None) -> str:
    """The first line of a reader's error, without DuckDB's error class, the SQL or the file's path."""
    text = str(exc).strip().split("\n", 1)[0]
    text = re.sub(r"^(?:[A-Z][A-Za-z]* )*(?:Error|Exception): ", "", text)
    text = re.sub(r"^CSV parse error: ", "", text)
    if path is not None:
        for form in {str(path), str(path.resolve())}:
            text = text.replace(f"'{form}'", "").replace(form, path.name)
    text = re.sub(r"\s+", " ", text).strip(" :")
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text[:120] + ("…" if len(text) > 120 else "")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_utf8(path: Path) -> Issue | None:
    """Find the first byte that is not UTF-8 and name its data row and column."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line_no = 0
    consumed = b""
    with path.open("rb") as fh:
        for raw in fh:
            try:
                decoder.decode(raw)
            except UnicodeDecodeError as exc:
                before = raw[: exc.start].decode("utf-8", errors="replace")
                column = None
                header = consumed.decode("utf-8", errors="replace").lstrip("\ufeff")
                names = next(csv.reader(io.StringIO(header)), []) if header else []
                fields_before = next(csv.reader(io.StringIO(before)), [""])
                idx = len(fields_before) - 1
                if 0 <= idx < len(names):
                    column = names[idx]
                row = line_no if line_no >= 1 else None
                return Issue(path.name, row, column, "文件不是 UTF-8 编码 (请另存为 UTF-8)")
            if line_no == 0:
                consumed = raw
            line_no += 1
    return None


def _header_issues(path: Path, header: list[str], where: str = "表头中") -> list[Issue]:
    """A header (or a Parquet schema) must name each column once (DuckDB's names ignore case, so neither
    may the header; DuckDB would quietly rename the second `x` to `x_1`)."""
    issues: list[Issue] = []
    first: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        j = first.setdefault(name.lower(), i)
        if j != i:
            issues.append(Issue(path.name, None, name, f'{where}列名重复: 第 {j} 列 "{header[j - 1]}" 与第 {i} 列 "{name}"'))
    return issues


def _parquet_name_issues(path: Path) -> list[Issue]:
    """Duplicate column names in a Parquet file's schema (from its footer). A file whose footer cannot be
    read gives none here: DuckDB's read reports it as corrupt."""
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError):
        return []
    return _header_issues(path, names, "文件中")


_PART_FOLDER_MESSAGE = (
    "是文件夹 (Spark/Hive 写出的分区文件): 校验与 DuckDB 引擎只读单个文件。请合并为一个文件, 如 DuckDB 中 "
    "COPY (SELECT * FROM read_parquet('文件夹/*.parquet')) TO '表名.parquet' (FORMAT parquet), "
    "或用 --engine spark 审核 (分区文件夹由 Spark 直接读取, 不经此校验)"
)
_INT96_MESSAGE = ("是 INT96 时间戳 (Spark/Hive 的旧格式, 写出时按 UTC 存储: 读出的时间可能与北京时间差 8 小时)；请写成不带时区的时间: "
                  "Spark 中先 CAST(列 AS TIMESTAMP_NTZ) 再写出, 或写成 'YYYY-MM-DD HH:MM:SS' 文本")


def _int96_columns(path: Path, table: Table) -> list[str]:
    """Time columns stored as INT96 (Spark's default Parquet timestamp): instants in UTC that every
    reader turns into another local time, so the file is refused rather than read 8 hours off."""
    try:
        schema = pq.ParquetFile(path).schema
    except (pa.ArrowException, OSError):
        return []  # DuckDB's read names the unreadable file
    wanted = {c.name for c in table.columns if c.type in (ColumnType.TIME, ColumnType.DATE)}
    return [schema.column(i).name for i in range(len(schema))
            if schema.column(i).physical_type == "INT96" and schema.column(i).name in wanted]


def _parse_csv(path: Path, header: list[str], use_threads: bool, bad_rows: list, *, cap: bool = True,
               newlines: bool = False) -> pa.Table:
    def invalid_row(row) -> str:
        # called by the parser only for a row whose field count differs from the header's: skip it and
        # keep going (when `cap`, up to a bounded number of rows to report)
        bad_rows.append(row)
        return "error" if cap and len(bad_rows) >= MAX_REPORTED_ISSUES else "skip"

    return pacsv.read_csv(
        path,
        # one thread (the careful re-read): blocks large enough for a long value (a 6 MB remark) to fit
        read_options=pacsv.ReadOptions(encoding="utf8", use_threads=use_threads, column_names=header, skip_rows=1,
                                       block_size=None if use_threads else 64 << 20),
        parse_options=pacsv.ParseOptions(newlines_in_values=newlines, invalid_row_handler=invalid_row),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=True,
            # an empty field, and the null markers of database exports (Hive/MySQL `\N`, Oracle/SQL `NULL`)
            null_values=CSV_NULLS,
        ),
    )


#: what stands for a malformed row's text when its file has identity columns (the fields cannot be told
#: apart in a row of the wrong length, so none of it is shown or kept)
_HIDDEN_LINE = "(本文件含身份证号/姓名列，原文不显示也不保存)"


#: non-empty values of a column looked at to tell whether it holds identity numbers (a bounded sample:
#: the first ones, so the check costs the same on 10M lines as on 10)
ID_SAMPLE = 1000


def _has_identity_columns(path: Path, header: list[str]) -> bool:
    """Whether a CSV has a column of identity numbers or names (`tables.identity_kind`), or, whatever its
    name, a column with an identity number among the first `ID_SAMPLE` data rows."""
    if any(identity_kind(h) for h in header):
        return True
    seen: list[list[str]] = [[] for _ in header]
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            for row in itertools.islice(csv.reader(fh), 1, ID_SAMPLE + 1):
                for values, value in zip(seen, row, strict=False):
                    values.append(value)
    except csv.Error:
        pass  # a field too long for the csv module: the rows before it are the sample
    return any(holds_id_numbers(values) for values in seen)


def _hidden(row, hidden: bool) -> bool:
    # a malformed line with an identity number in it is hidden whatever the file's header says
    return hidden or contains_id_number(row.text)


def _line_text(row, hidden: bool) -> str:
    return _HIDDEN_LINE if _hidden(row, hidden) else row.text


def _field_count_message(row, hidden: bool) -> str:
    shown = _HIDDEN_LINE if _hidden(row, hidden) else f"(内容: {row.text[:60]})"
    return f"字段个数不对: 表头有 {row.expected_columns} 列，这一行有 {row.actual_columns} 个字段 {shown}"


@dataclass
class _CsvRead:
    """A CSV's data rows as strings with their 1-based data row numbers (`_row`), or the issues that
    stop it being read; `bad_rows`: (row, line text, reason) of the rows skipped for their field count
    (they become rejects: reported with the other rows' errors, or written to the rejects file)."""

    arrow: pa.Table | None
    issues: list[Issue]
    bad_rows: list[tuple[int, str, str]] = field(default_factory=list)


def _unterminated_quote(path: Path, arrow: pa.Table, header: list[str]) -> Issue | None:
    """A quote opened in the last field and never closed: the CSV reader takes the rest of the file as
    that one value (the following rows vanish without an error). Its mark: the last row's last value
    holds a line break, yet the file does not end with the closing quote a multi-line value has."""
    if arrow.num_rows == 0:
        return None
    last = arrow.column(header[-1])[arrow.num_rows - 1].as_py()
    if last is None or ("\n" not in last and "\r" not in last):
        return None
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 64))
        tail = fh.read().rstrip(b" \t\r\n")
    if tail.endswith(b'"'):
        return None
    swallowed = last.count("\n")
    return Issue(path.name, arrow.num_rows, header[-1],
                 f"引号未闭合: 这个值以引号开始却没有结束引号，其后约 {swallowed} 行都被读成了这一个值。"
                 "请检查该值中的引号 (值内的引号应写成两个 \"\")")


def _read_csv(path: Path, lenient: bool = False) -> _CsvRead:
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        return _CsvRead(None, [Issue(path.name, None, None, "第一行应为表头 (列名)，但它是空的")])
    issues = _header_issues(path, header)
    if issues:
        return _CsvRead(None, issues)
    bad_rows: list = []
    failure = None
    try:
        arrow = _parse_csv(path, header, True, bad_rows)
        if not bad_rows:
            unclosed = _unterminated_quote(path, arrow, header)
            if unclosed:
                return _CsvRead(None, [unclosed])
            return _CsvRead(_numbered(arrow, np.arange(1, arrow.num_rows + 1)), [])
    except pa.ArrowInvalid as exc:
        failure = exc
    # the threaded reader does not know a bad row's line and splits the file at line breaks, also those
    # inside quoted values (a remark over two lines): the careful read is one thread, quotes respected,
    # which knows the lines (its line counts the header line: data row = line - 1)
    numbered: list = []
    kept = None
    try:
        kept = _parse_csv(path, header, False, numbered, cap=not lenient, newlines=True)
    except pa.ArrowInvalid as exc:
        failure = failure or exc
    if kept is not None and not numbered:  # only quoted line breaks: every row is whole
        unclosed = _unterminated_quote(path, kept, header)
        if unclosed:
            return _CsvRead(None, [unclosed])
        return _CsvRead(_numbered(kept, np.arange(1, kept.num_rows + 1)), [])
    if not numbered and not bad_rows:  # not a field count: the file cannot be parsed
        return _CsvRead(None, [Issue(path.name, None, None, f"无法解析 CSV ({short_reason(failure, path)})")])
    hidden = _has_identity_columns(path, header)
    if kept is not None and all(r.number for r in numbered):
        # the other rows are still read: a lenient load rejects the bad ones and loads the rest, a strict
        # load reports them together with every other row's errors (not one problem per pass)
        bad = [(r.number - 1, _line_text(r, hidden), _field_count_message(r, hidden)) for r in numbered]
        rows = np.setdiff1d(np.arange(1, kept.num_rows + len(bad) + 1), [b[0] for b in bad])
        return _CsvRead(_numbered(kept, rows), [], bad)
    return _CsvRead(
        None,
        [Issue(path.name, r.number - 1 if r.number else None, None, _field_count_message(r, hidden))
         for r in numbered or bad_rows],
    )


def _numbered(arrow: pa.Table, rows) -> pa.Table:
    return arrow.append_column("_row", pa.array(rows, pa.int64()))


def _reference_sql(ref: Reference, parent: str) -> tuple[str, str, str]:
    """(join condition, child key present, parent key missing) of a reference, the child aliased `s`
    and its parent `parent`."""
    on = " AND ".join(
        f"CAST({parent}.{_quote(t)} AS VARCHAR) = CAST(s.{_quote(c)} AS VARCHAR)"
        for c, t in zip(ref.columns, ref.target_columns, strict=True)
    )
    present = " AND ".join(f"s.{_quote(c)} IS NOT NULL" for c in ref.columns)
    missing = " AND ".join(f"{parent}.{_quote(t)} IS NULL" for t in ref.target_columns)
    return on, present, missing


class _NeedsDetail(Exception):
    """The fast pass found a problem: roll back and run the detailed pass, which names its rows."""


def _same_type(source: str, wanted: str) -> bool:
    return source.replace(" ", "").upper() == wanted.replace(" ", "").upper()


_DELIMITERS = ((";", "分号 (;)"), ("\t", "制表符 (Tab)"), ("|", "竖线 (|)"))


def _missing_column_message(name: str, present: list[str]) -> str:
    """'Missing column', with a hint when the file has it under another spelling (case, spaces) or its
    header is split by another delimiter than the comma."""
    for seen in present:
        if seen.strip().lower() == name:
            wrong = [w for w, bad in (("应为小写", seen.strip() != name), ("前后不应有空格", seen != seen.strip())) if bad]
            return f'缺少必需列 (列名{"且".join(wrong)}: 文件中为 "{seen}")'
    for seen in present:
        for delimiter, word in _DELIMITERS:
            if name in (part.strip().strip('"').lower() for part in seen.split(delimiter)):
                shown = seen.replace("\t", "\\t")
                shown = shown[:60] + ("…" if len(shown) > 60 else "")
                return f'缺少必需列 (分隔符应为逗号，但表头用的是{word}: 读到的列名为 "{shown}")'
    return "缺少必需列"


#: codes matched against the knowledge base or across persons (besides keys and references)
_MATCHED_CODES = frozenset({"hilist_code", "diag_code", "oprn_oprt_code", "drug_trac_codg", "drg_code"})


def _is_identifier(table: Table, col: Column) -> bool:
    """A text column holding a key, a reference or a code matched against knowledge: compared for
    equality, so padding or a number form changes what it matches (department and doctor codes, only
    grouped within one export, are not checked: the check costs ~0.1 s per column at 10M lines)."""
    keyed = {c for cols in (table.key, *table.unique) for c in cols} | {c for r in table.references for c in r.columns}
    return col.type is ColumnType.STR and (col.name in keyed or col.name in _MATCHED_CODES)


def _scale(type_sql: str) -> int | None:
    """Decimal places a contract type holds: INTEGER 0, DECIMAL(p,s) s; None for other types."""
    if type_sql.upper() == "INTEGER":
        return 0
    m = re.fullmatch(r"DECIMAL\(\s*\d+\s*,\s*(\d+)\s*\)", type_sql.upper())
    return int(m.group(1)) if m else None


def _lossy_sql(name: str, source: str, target: str, scale: int) -> str | None:
    """SQL true where a value converts to `target` but with fewer decimals, i.e. the cast would round it
    (None when the source type cannot hold more decimals than the target). Text is compared with its
    exact value; a float with the value it stands for (15 significant digits for DOUBLE, 7 for FLOAT),
    so binary noise (0.1 + 0.2) is not taken for a third decimal, but 10.005 is."""
    src = source.replace(" ", "").upper()
    stored = f"TRY_CAST({name} AS {target})"
    if src == "VARCHAR":
        return f"TRY_CAST({name} AS DECIMAL(38,20)) <> {stored}"
    if src in ("DOUBLE", "FLOAT", "REAL"):
        digits = "1e-15" if src == "DOUBLE" else "1e-7"
        return f"abs({name} - CAST({stored} AS DOUBLE)) > abs({name}) * {digits}"
    m = re.fullmatch(r"DECIMAL\(\d+,(\d+)\)", src)
    if m and int(m.group(1)) > scale:
        return f"{stored} <> {name}"
    return None


class _Loader:
    def __init__(
        self, directory: Path, con: duckdb.DuckDBPyConnection, lenient: bool, id_salt: str, fast: bool = False,
        in_place: frozenset[str] = frozenset(),
    ):
        self.dir = directory
        self.in_place = in_place
        self.con = con
        self.lenient = lenient
        #: tables with CSV rows that could not be split: a strict load does not check references into
        #: them (a child of an unreadable row would only repeat that row's error as "not found")
        self.unsplit: set[str] = set()
        self.id_salt = id_salt
        #: fast pass: checks only count; any finding raises _NeedsDetail
        self.fast = fast
        #: tables read straight into their final table (fast pass, Parquet with the contract's schema)
        self.direct: set[str] = set()
        self.issues: list[Issue] = []
        self.reports: dict[str, TableReport] = {}
        self.present: dict[str, list[str]] = {}
        self.source_types: dict[str, dict[str, str]] = {}
        self._registered: list[str] = []
        self._pending: list[tuple] = []
        #: per table, its columns of identity numbers ("hash") and names ("drop"), never shown or kept raw
        self.identity: dict[str, dict[str, str]] = {}
        #: per table, the columns taken for identity numbers by their content, not their name
        self.detected: dict[str, list[str]] = {}

    # staging -----------------------------------------------------------------------------------
    def stage(self, table: Table) -> bool:
        staged = self._stage(table)
        report = self.reports[table.name]
        if staged and report.file:
            report.columns = list(self.present[table.name])
            self.find_identity_columns(table)
        return staged

    def find_identity_columns(self, table: Table) -> None:
        """The columns outside the contract holding identity numbers or names: by their name, or (fail
        closed) a text or integer column with an identity number among its first `ID_SAMPLE` values."""
        known = set(table.column_names)
        found: dict[str, str] = {}
        for name in self.present[table.name]:
            if name in known:
                continue
            kind = identity_kind(name)
            if kind is None and _may_hold_id_numbers(self.source_types[table.name].get(name, "")):
                sample = self.con.execute(
                    f"SELECT CAST({_quote(name)} AS VARCHAR) FROM _stg_{table.name} "  # noqa: S608
                    f"WHERE {_quote(name)} IS NOT NULL LIMIT {ID_SAMPLE}"
                ).fetchall()
                if holds_id_numbers(v for (v,) in sample):
                    kind = "hash"
                    self.detected.setdefault(table.name, []).append(name)
            if kind is not None:
                found[name] = kind
        self.identity[table.name] = found

    def identity_warnings(self) -> list[str]:
        """A line for the columns taken for identity numbers by their content, and one for the identity
        number columns dropped because no salt is set."""
        lines = []
        detected = [f"{self.reports[t].file} 的 {'、'.join(cols)}" for t, cols in self.detected.items()]
        if detected:
            lines.append(f"列名不是身份证号, 但值形如身份证号, 已按身份证号列处理: {'; '.join(detected)}")
        unsalted = [f"{self.reports[t].file} 的 {'、'.join(c for c, k in cols.items() if k == 'hash')}"
                    for t, cols in self.identity.items() if "hash" in cols.values()] if not self.id_salt else []
        if unsalted:
            lines.append(
                f"未设置 FUNDGUARD_ID_SALT, 身份证号列已删除 (未保存散列: 无密盐的散列可被穷举还原): {'; '.join(unsalted)}。"
                "如需保留其散列 (<列名>_hash), 请设置保密的随机盐后重新加载, 如 export FUNDGUARD_ID_SALT=$(openssl rand -hex 32)"
                " (同一数据须始终用同一个盐)"
            )
        return lines

    def _stage(self, table: Table) -> bool:
        files = table_files(self.dir, table)
        path = files[0] if files else None
        report = TableReport(table.name, path.name if path else None)
        self.reports[table.name] = report
        stg = f"_stg_{table.name}"
        if len(files) > 1:
            names = " 和 ".join(f.name for f in files)
            self.issues.append(Issue(path.name, None, None, f"一张表只能有一个文件: 同时有 {names} (请删除其中一个)"))
            return False
        if path is None:
            if not table.optional:
                seen = _near_names(self.dir, table)
                hint = f"；目录中有 {'、'.join(seen)}: 文件名须为 {table.name}.parquet 或 {table.name}.csv (小写)" if seen else ""
                self.issues.append(Issue(f"{table.name}.parquet", None, None, f"缺少必需的表文件 (.parquet 或 .csv){hint}"))
                return False
            cols = ", ".join(f"CAST(NULL AS VARCHAR) AS {_quote(c.name)}" for c in table.columns)
            self.con.execute(f"CREATE TEMP TABLE {stg} AS SELECT CAST(NULL AS BIGINT) AS _row, {cols} LIMIT 0")
            self.present[table.name] = [c.name for c in table.columns]
            self.source_types[table.name] = {c.name: "VARCHAR" for c in table.columns}
            return True
        if path.is_dir():
            self.issues.append(Issue(path.name, None, None, _PART_FOLDER_MESSAGE))
            return False
        try:
            report.sha256 = file_sha256(path)
            if path.stat().st_size == 0:
                what = "至少需要表头行" if path.suffix == ".csv" else "0 字节，不是 Parquet 文件"
                self.issues.append(Issue(path.name, None, None, f"文件为空 ({what})"))
                return False
            if path.suffix == ".csv":
                bad = _check_utf8(path)
                if bad is not None:
                    self.issues.append(bad)
                    return False
                read = _read_csv(path, self.lenient)
        except OSError as exc:
            self.issues.append(Issue(path.name, None, None, f"无法读取文件 ({exc.strerror or exc})"))
            return False
        if path.suffix == ".csv":
            if read.arrow is None:
                self.issues.extend(read.issues)
                return False
            if read.bad_rows:  # the rows that cannot be split are rejects
                self._reject_lines(table, read.bad_rows)
                self.unsplit.add(table.name)
            view = f"_arrow_{table.name}"
            self.con.register(view, read.arrow)
            self._registered.append(view)
            source = f"SELECT * FROM {view}"
            params: list = []
        else:
            duplicated = _parquet_name_issues(path)
            if duplicated:
                self.issues.extend(duplicated)
                return False
            try:
                # the footer alone: a file that is not Parquet (or lost its end) fails here, in milliseconds
                described = self.con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
                int96 = _int96_columns(path, table)
                if int96:
                    self.issues += [Issue(path.name, None, name, _INT96_MESSAGE) for name in int96]
                    return False
                if self.fast and self._stage_direct(table, path, described):
                    return True
            except duckdb.Error as exc:
                return self._unreadable(path, exc)
            if any(row[0] == "file_row_number" for row in described):
                # DuckDB's row numbering adds a column of that name and refuses a file that has one
                self.issues.append(Issue(path.name, None, "file_row_number",
                                         "列名 file_row_number 为保留名 (读取时用于记录行号): 请删除该列或改名"))
                return False
            source = "SELECT file_row_number + 1 AS _row, * EXCLUDE (file_row_number) FROM read_parquet(?, file_row_number = true)"
            params = [str(path)]
        try:
            self.con.execute(f"CREATE TEMP TABLE {stg} AS {source}", params)
        except duckdb.Error as exc:
            return self._unreadable(path, exc)
        described = self.con.execute(f"DESCRIBE {stg}").fetchall()
        types = {row[0]: row[1] for row in described}
        self.source_types[table.name] = types
        names = [n for n in types if n != "_row"]
        self.present[table.name] = names
        missing = [c.name for c in table.columns if c.name not in types and not c.optional]
        for name in missing:
            self.issues.append(Issue(path.name, None, name, _missing_column_message(name, names)))
        # a zoned timestamp would be read as the machine's local time: the same file, other flags
        zoned = [c.name for c in table.columns if c.type in (ColumnType.TIME, ColumnType.DATE)
                 and types.get(c.name, "").startswith("TIMESTAMP WITH TIME ZONE")]
        for name in zoned:
            self.issues.append(Issue(path.name, None, name, "是带时区的时间戳 (TIMESTAMP WITH TIME ZONE)；数据契约要求不带时区的本地时间"
                                     " (北京时间)，请导出为不带时区的时间戳或文本"))
        # a Parquet type the contract's type would be read from by changing the values: a number or a
        # list as a code (8.100003e+19, [I10.x00]), a date as a time of day (midnight)
        mistyped = [(c.name, types[c.name]) for c in table.columns
                    if c.name in types and c.name not in zoned and not _parquet_type_fits(c.type, types[c.name])]
        for name, src in mistyped:
            column = table.column(name)
            self.issues.append(Issue(path.name, None, name, f"列类型为 {src}，应为{_TYPE_WORDS[column.type]}"
                                     f"{_MISTYPED_HINT.get(column.type, '')}"))
        return not missing and not zoned and not mistyped

    def _reject_lines(self, table: Table, bad_rows: list[tuple[int, str, str]]) -> None:
        rows, texts, reasons = (list(c) for c in zip(*bad_rows, strict=True))
        lines = pa.table({"_row": pa.array(rows, pa.int64()), "line": texts, "reason": reasons})
        self.con.register("_bad_arrow", lines)
        try:
            self.con.execute("INSERT INTO _rejects SELECT ?, _row, NULL, reason FROM _bad_arrow", [table.name])
            self.con.execute("INSERT INTO _bad_lines SELECT ?, _row, line FROM _bad_arrow", [table.name])
        finally:
            self.con.unregister("_bad_arrow")

    def _unreadable(self, path: Path, exc: duckdb.Error) -> bool:
        """Report a file DuckDB cannot read, and start a new transaction: the failed statement aborted the
        load's, and the other files must still be read (each reports its own problems, none inherits this
        one). The load fails anyway, so what the aborted transaction held is not needed."""
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise exc  # not the file's fault: the caller reports the memory limit
        reason = short_reason(exc, path)
        what = "文件损坏或不是 Parquet 文件" if path.suffix == ".parquet" else "无法读取文件"
        self.issues.append(Issue(path.name, None, None, f"{what} ({reason})"))
        self.con.execute("ROLLBACK")
        self.con.execute("BEGIN TRANSACTION")
        _prepare(self.con)
        return False

    def _stage_direct(self, table: Table, path: Path, described: list[tuple]) -> bool:
        """Fast pass: a Parquet file with exactly the contract's columns and types (`described`) becomes
        the final table in one read (no row numbers, no cast); `_stg_<table>` is a view of it for the
        checks."""
        wanted = [(c.name, c.duckdb_type) for c in table.columns]
        if len(described) != len(wanted) or any(
            name != w_name or not _same_type(str(kind), w_kind) for (name, kind, *_), (w_name, w_kind) in zip(described, wanted, strict=True)
        ):
            return False
        if table.name in self.in_place:
            # a view takes no parameters: the path is ours (found in the dataset folder), absolute, quotes escaped
            self.con.execute(f"CREATE VIEW {_quote(table.name)} AS SELECT * FROM read_parquet('{_sql_path(path.resolve())}')")  # noqa: S608
            self.reports[table.name].in_place = True
        else:
            self.con.execute(f"CREATE TABLE {_quote(table.name)} AS SELECT * FROM read_parquet(?)", [str(path)])
        self.con.execute(f"CREATE TEMP VIEW _stg_{table.name} AS SELECT * FROM {_quote(table.name)}")  # noqa: S608
        self.direct.add(table.name)
        self.source_types[table.name] = {name: str(kind) for name, kind, *_ in described}
        self.present[table.name] = [name for name, *_ in described]
        return True

    # checks --------------------------------------------------------------------------------------
    def _reject(
        self, table: Table, column: str | None, condition: str, reason_sql: str, params=(), condition_params=()
    ) -> None:
        """Queue a row check (`params` bind the reason, `condition_params` the condition); `flush_checks`
        probes every queued condition of a table in one scan."""
        self._pending.append((table, column, condition, reason_sql, list(params), list(condition_params)))

    def flush_checks(self, table: Table) -> None:
        pending = [p for p in self._pending if p[0] is table]
        self._pending = [p for p in self._pending if p[0] is not table]
        if not pending:
            return
        probes, probe_params = [], []
        for _, _, condition, _, _, condition_params in pending:
            probes.append(f"count_if(COALESCE({condition}, FALSE))")
            probe_params.extend(condition_params)
        counts = self.con.execute(f"SELECT {', '.join(probes)} FROM _stg_{table.name}", probe_params).fetchone()
        for (tbl, column, condition, reason_sql, params, condition_params), count in zip(pending, counts, strict=True):
            if not count:
                continue
            if self.fast:
                raise _NeedsDetail(f"{tbl.name}.{column}")
            self.con.execute(
                f"INSERT INTO _rejects SELECT ?, _row, ?, {reason_sql} FROM _stg_{tbl.name} WHERE {condition}",
                [tbl.name, column, *params, *condition_params],
            )

    def _cast(self, table: Table, col: Column) -> str:
        name = _quote(col.name)
        if col.name not in self.present[table.name]:
            return f"CAST(NULL AS {col.duckdb_type})"
        return f"TRY_CAST({name} AS {col.duckdb_type})"

    def check_columns(self, table: Table) -> None:
        types = self.source_types[table.name]
        for col in table.columns:
            if col.name not in types:
                continue
            name = _quote(col.name)
            src = types[col.name]
            is_text = src == "VARCHAR"
            wanted = _TYPE_WORDS[col.type]
            bad_type = f"({name} IS NOT NULL AND TRY_CAST({name} AS {col.duckdb_type}) IS NULL)"
            if is_text and col.type is ColumnType.DATE:
                bad_type = f"({name} IS NOT NULL AND (NOT regexp_matches({name}, '{_DATE_RE}') OR TRY_CAST({name} AS DATE) IS NULL))"
            elif is_text and col.type is ColumnType.TIME:
                bad_type = f"({name} IS NOT NULL AND (NOT regexp_matches({name}, '{_TIME_RE}') OR TRY_CAST({name} AS TIMESTAMP) IS NULL))"
            elif is_text and col.type in (ColumnType.INT, ColumnType.DECIMAL):
                bad_type = (f"({name} IS NOT NULL AND (regexp_matches({name}, '{_NOT_PLAIN_NUMBER_RE}')"
                            f" OR TRY_CAST({name} AS {col.duckdb_type}) IS NULL))")
            elif col.type is ColumnType.BOOL and src in _INTEGER_TYPES:
                bad_type = f"({name} IS NOT NULL AND {name} NOT IN (0, 1))"  # 2 is not true
            elif col.type is ColumnType.DATE and src.startswith("TIMESTAMP"):
                # a date stored as a timestamp: only at midnight (the time of day would be cut)
                bad_type = f"({name} IS NOT NULL AND CAST({name} AS TIME) <> TIME '00:00:00')"
            elif col.type is ColumnType.TIME and src == "TIMESTAMP_NS":
                # nanoseconds: the contract keeps microseconds, and would cut the rest
                bad_type = f"({name} IS NOT NULL AND epoch_ns({name}) % 1000 <> 0)"
            elif col.type in (ColumnType.STR, ColumnType.CODE):
                bad_type = "FALSE"
            if bad_type != "FALSE":
                reason = f"'应为' || ? || '，实际为 \"' || CAST({name} AS VARCHAR) || '\"'"
                params = [wanted]
                if col.type in (ColumnType.INT, ColumnType.DECIMAL):
                    # a number the contract type cannot hold is out of range, not "not a number"
                    number = (f"TRY_CAST({name} AS HUGEINT) IS NOT NULL" if col.type is ColumnType.INT
                              else f"isfinite(TRY_CAST({name} AS DOUBLE))")
                    if is_text:
                        number = f"(NOT regexp_matches({name}, '{_NOT_PLAIN_NUMBER_RE}') AND {number})"
                    reason = (f"CASE WHEN {number} THEN '超出范围: 应为 ' || ? || '，实际为 \"'"
                              f" || CAST({name} AS VARCHAR) || '\"' ELSE {reason} END")
                    params = [col.duckdb_type, wanted]
                self._reject(table, col.name, bad_type, reason, params)
            scale = _scale(col.duckdb_type) if col.type in (ColumnType.INT, ColumnType.DECIMAL) else None
            lossy = _lossy_sql(name, src, col.duckdb_type, scale) if scale is not None else None
            if lossy is not None:
                # a value the contract type cannot hold exactly is an error, never rounded on the way in
                limit = "应为整数，不能有小数" if scale == 0 else f"小数位数超出: 最多 {scale} 位小数 ({col.duckdb_type})，不做四舍五入"
                self._reject(table, col.name, lossy, f"? || '，实际为 \"' || CAST({name} AS VARCHAR) || '\"'", [limit])
            if not col.nullable:
                # blank = only what trim() removes (spaces, Unicode spaces); trim runs only on values that
                # start with a space, control or non-ASCII character, not on every value (10M lines: 2 s)
                blank = f" OR {name} = '' OR (({name} < '!' OR {name} >= chr(128)) AND trim({name}) = ''))"
                empty = f"({name} IS NULL" + (blank if is_text else ")")
                self._reject(table, col.name, empty, "'必填，不能为空'")
            if is_text and _is_identifier(table, col):
                # an export's padding (Oracle CHAR) or Excel's number form would make the id a different
                # value, silently: joins miss, codes match no knowledge entry
                # one cheap probe per column; the reason tells the two apart
                # CASE, not AND: DuckDB would run the regular expression on every value
                scientific = (f"CASE WHEN contains({name}, 'E+') THEN regexp_full_match({name}, '[0-9](\\.[0-9]+)?E\\+[0-9]+')"
                              " ELSE FALSE END")
                padded = f"(({name} < '!' AND {name} <> '') OR ends_with({name}, ' '))"
                if (table.name, col.name) in KB_MATCHED_CODES:
                    # a code looked up in the knowledge base also must not end in a tab or a Unicode
                    # space or invisible mark (full-width, no-break, zero-width space, BOM: Excel and web
                    # forms leave them): it would match no entry, silently. A cheap test of the first and
                    # last character (ASCII or not), the exact one on the few it lets through
                    edge = _EDGE_NOT_PLAIN.format(name=name)
                    padded = (f"CASE WHEN {name} <> '' AND {edge} THEN "
                              f"regexp_matches({name}, '^{_INVISIBLE}|{_INVISIBLE}$') ELSE FALSE END")
                if not col.nullable:  # a value of spaces only is reported once, as empty (trim runs on the few padded)
                    padded = f"CASE WHEN {padded} THEN trim({name}) <> '' ELSE FALSE END"
                odd = f"({padded} OR {scientific})"
                self._reject(
                    table, col.name, odd,
                    f"CASE WHEN {scientific} THEN '疑似被 Excel 转成科学计数法: \"' || {name} || '\"，原值已丢失。"
                    f"请把此列设为文本后从源系统重新导出' ELSE '首尾有空格或不可见字符: \"' || {name} || '\"。"
                    "编号/编码不能带空格 (如 Oracle CHAR 定长补空格), 请导出时去除 (TRIM)' END",
                )
            if col.codes:
                code_set = f"{table.name}.{col.name}"
                self.con.executemany("INSERT INTO _codes VALUES (?, ?)", [[code_set, c] for c in col.codes])
                allowed = "、".join(col.codes)
                self._reject(
                    table,
                    col.name,
                    f"{name} IS NOT NULL AND CAST({name} AS VARCHAR) NOT IN (SELECT code FROM _codes WHERE code_set = '{code_set}')",
                    f"'代码值不在字典中: \"' || CAST({name} AS VARCHAR) || '\"，允许值 ' || ?",
                    [allowed],
                )
            if col.min_value is not None:
                self._reject(
                    table,
                    col.name,
                    f"TRY_CAST({name} AS DOUBLE) < ?",
                    f"'不能小于 ' || ? || '，实际为 ' || CAST({name} AS VARCHAR)",
                    [str(col.min_value)],
                    [col.min_value],
                )

    def check_table_rules(self, table: Table) -> None:
        c = {col.name: self._cast(table, col) for col in table.columns}
        if table.name == "mdtrt":
            extra_pay = [
                n for n in self.present["mdtrt"] if n.endswith("_pay") and n not in ("hifp_pay", "acct_pay", "psn_cash_pay")
            ]
            pay_sum = " + ".join(
                [c["hifp_pay"], c["acct_pay"], c["psn_cash_pay"]]
                + [f"COALESCE(TRY_CAST({_quote(n)} AS DECIMAL(16,2)), 0)" for n in extra_pay]
            )
            self._reject(
                table,
                "medfee_sumamt",
                f"abs(({pay_sum}) - {c['medfee_sumamt']}) > 0.01",
                f"'金额不平: 各项支付合计 ' || CAST({pay_sum} AS VARCHAR) || ' ≠ 医疗费总额 ' || CAST({c['medfee_sumamt']} AS VARCHAR)",
            )
            self._reject(
                table,
                "endtime",
                f"{c['endtime']} < {c['begntime']}",
                "'结束时间早于开始时间'",
            )
        if table.name == "feedetl":
            self._reject(
                table,
                "det_item_fee_sumamt",
                # in DECIMAL(38,8): DECIMAL(16,4) × DECIMAL(16,4) would be typed DECIMAL(18,8) and overflow at 10^10
                f"abs(CAST({c['cnt']} AS DECIMAL(38,8)) * {c['pric']} - {c['det_item_fee_sumamt']}) > 0.01",
                f"'金额不符: 数量×单价 = ' || CAST(round(CAST({c['cnt']} AS DECIMAL(38,8)) * {c['pric']}, 2) AS VARCHAR) || '，明细金额为 ' || CAST({c['det_item_fee_sumamt']} AS VARCHAR)",
            )
            self._reject(
                table,
                "cnt",
                f"{c['cnt']} < 0 AND NOT COALESCE({c['refd_flag']}, FALSE)",
                "'数量为负，但不是退费明细 (refd_flag 应为 1)'",
            )
            self._reject(
                table,
                "cnt",
                f"{c['cnt']} >= 0 AND COALESCE({c['refd_flag']}, FALSE)",
                "'退费明细的数量应为负数'",
            )

    def check_keys(self, table: Table) -> None:
        for cols in ((table.key,) if table.key else ()) + table.unique:
            key = ", ".join(_quote(k) for k in cols)
            not_null = " AND ".join(f"{_quote(k)} IS NOT NULL" for k in cols)
            label = "主键" if cols == table.key else "唯一键"
            # a cheap distinct count first: the row-by-row window only runs when a duplicate exists. Distinct
            # 64-bit hashes are counted first (equal keys hash equal, so as many hashes as rows proves the
            # keys unique); only a shortfall (a duplicate, or a hash collision) pays for the exact count
            rows, distinct = self.con.execute(
                f"SELECT count(*), count(DISTINCT hash({key})) FROM _stg_{table.name} WHERE {not_null}"  # noqa: S608
            ).fetchone()
            if rows != distinct:
                distinct = self.con.execute(
                    f"SELECT count(*) FROM (SELECT DISTINCT {key} FROM _stg_{table.name} WHERE {not_null})"  # noqa: S608
                ).fetchone()[0]
            if rows == distinct:
                continue
            if self.fast:
                raise _NeedsDetail(f"{table.name} key")
            self.con.execute(
                f"""
                INSERT INTO _rejects
                SELECT ?, _row, ?, '{label}重复 (' || ? || ')，与第 ' || CAST(first_row AS VARCHAR) || ' 行相同'
                FROM (
                    SELECT _row, min(_row) OVER (PARTITION BY {key}) AS first_row
                    FROM _stg_{table.name} WHERE {not_null}
                ) WHERE _row <> first_row
                """,
                [table.name, cols[-1] if len(cols) == 1 else cols[0], ", ".join(cols)],
            )
            if self.lenient:
                # keeping the first of copies that differ would guess which one is right (and attach every
                # child to it): when the copies differ, the first is rejected too; exact copies keep one
                content = ", ".join(_quote(c) for c in self.present[table.name])
                self.con.execute(
                    f"""
                    INSERT INTO _rejects
                    SELECT ?, first_row, ?, '{label}重复且各行内容不同 (' || ? || ')，无法确定哪一行正确，同一{label}的各行都未加载'
                    FROM (
                        SELECT min(_row) AS first_row, count(DISTINCT hash({content})) AS variants
                        FROM _stg_{table.name} WHERE {not_null} GROUP BY {key}
                    ) WHERE variants > 1
                    """,
                    [table.name, cols[-1] if len(cols) == 1 else cols[0], ", ".join(cols)],
                )

    def parent_keys(self, target: str, columns: tuple[str, ...]) -> str:
        """The relation of keys a child may refer to: loaded rows only when lenient (rejects cascade)."""
        cols = ", ".join(_quote(c) for c in columns)
        if self.lenient:
            return f"(SELECT {cols} FROM {_quote(target)})"
        return f"(SELECT {cols} FROM _stg_{target})"

    def _fast_references(self, table: Table) -> None:
        """Fast pass: the references of `table` to other tables (and, for feedetl, its agreement with the
        encounter) probed in one scan, one left join per parent; any dangling or disagreeing row -> the
        detailed pass."""
        joins: list[str] = []
        counts: list[tuple[str, str]] = []
        for i, ref in enumerate(table.references):
            if any(col not in self.present[table.name] for col in ref.columns) or self._unchecked(ref):
                continue
            if ref.target == table.name:
                # a reference into the same table (a refund's original line): its own query, so the filter
                # on the (few) referring rows comes before the join instead of a join of every row
                self._fast_reference(table, ref)
                continue
            extra = ("psn_no", "fixmedins_code") if table.name == "feedetl" and ref.target == "mdtrt" else ()
            cols = ", ".join(_quote(c) for c in (*ref.target_columns, *extra))
            source = _quote(ref.target) if self.lenient else f"_stg_{ref.target}"
            on, present, missing = _reference_sql(ref, f"p{i}")
            # a left join (DuckDB builds on the smaller side) counts dangling rows ~3× faster than NOT EXISTS
            joins.append(f"LEFT JOIN (SELECT {cols} FROM {source}) p{i} ON {on}")
            counts.append((f"count_if({present} AND {missing})", f"{table.name} reference {ref.target}"))
            if extra:
                found = f"p{i}.{_quote(ref.target_columns[0])} IS NOT NULL"
                differs = " OR ".join(f"CAST(s.{c} AS VARCHAR) <> CAST(p{i}.{c} AS VARCHAR)" for c in extra)
                counts.append((f"count_if({found} AND ({differs}))", "feedetl agreement"))
        if not counts:
            return
        found = self.con.execute(
            f"SELECT {', '.join(c for c, _ in counts)} FROM _stg_{table.name} s {' '.join(joins)}"  # noqa: S608
        ).fetchone()
        for n, (_, what) in zip(found, counts, strict=True):
            if n:
                raise _NeedsDetail(what)

    def _fast_reference(self, table: Table, ref: Reference) -> None:
        cond_join, present, missing = _reference_sql(ref, "p")
        parent = f"(SELECT {', '.join(_quote(c) for c in ref.target_columns)} FROM _stg_{ref.target})"
        dangling = self.con.execute(
            f"SELECT count(*) FROM _stg_{table.name} s LEFT JOIN {parent} p ON {cond_join} WHERE {present} AND {missing}"  # noqa: S608
        ).fetchone()[0]
        if dangling:
            raise _NeedsDetail(f"{table.name} reference {ref.target}")

    def _unchecked(self, ref: Reference) -> bool:
        return not self.lenient and ref.target in self.unsplit

    def check_references(self, table: Table) -> None:
        if self.fast:
            self._fast_references(table)
            return
        for ref in table.references:
            if any(col not in self.present[table.name] for col in ref.columns) or self._unchecked(ref):
                continue
            if ref.target == table.name:
                parent = (
                    f"(SELECT {', '.join(_quote(c) for c in ref.target_columns)} FROM _stg_{table.name} "
                    f"WHERE _row NOT IN (SELECT _row FROM _rejects WHERE tbl = '{table.name}'))"
                    if self.lenient
                    else f"(SELECT {', '.join(_quote(c) for c in ref.target_columns)} FROM _stg_{table.name})"
                )
            else:
                parent = self.parent_keys(ref.target, ref.target_columns)
            cond_join, present, _ = _reference_sql(ref, "p")
            value = f"' || ? || ' = \"' || CAST(s.{_quote(ref.columns[0])} AS VARCHAR) || '\""
            reason = f"'引用不存在: {value} 在 ' || ? || ' 中找不到'"
            params = [", ".join(ref.columns), ref.target]
            if self.lenient:
                # the parent row is in its file but was itself rejected: say so, not "not found"
                staged, _, _ = _reference_sql(ref, "q")
                reason = (f"CASE WHEN EXISTS (SELECT 1 FROM _stg_{ref.target} q WHERE {staged}) "
                          f"THEN '所引用的记录 {value} 在 ' || ? || ' 中已被拒绝 (原因见该表的拒绝行)' ELSE {reason} END")
                params = [*params, *params]
            self.con.execute(
                f"""
                INSERT INTO _rejects
                SELECT ?, s._row, ?, {reason}
                FROM _stg_{table.name} s
                WHERE {present} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {cond_join})
                """,
                [table.name, ref.columns[0], *params],
            )
        if table.name == "feedetl":
            parent = _quote("mdtrt") if self.lenient else "_stg_mdtrt"
            # one join probes both columns; the per-column detail queries run only when something disagrees
            disagreeing = self.con.execute(
                f"""
                SELECT count(*) FROM _stg_feedetl s JOIN {parent} m ON CAST(m.mdtrt_id AS VARCHAR) = CAST(s.mdtrt_id AS VARCHAR)
                WHERE CAST(s.psn_no AS VARCHAR) <> CAST(m.psn_no AS VARCHAR)
                   OR CAST(s.fixmedins_code AS VARCHAR) <> CAST(m.fixmedins_code AS VARCHAR)
                """
            ).fetchone()[0]
            for col in ("psn_no", "fixmedins_code") if disagreeing else ():
                self.con.execute(
                    f"""
                    INSERT INTO _rejects
                    SELECT 'feedetl', s._row, ?, '与就诊记录不一致: 明细为 "' || s.{col} || '"，就诊 ' || s.mdtrt_id || ' 为 "' || m.{col} || '"'
                    FROM _stg_feedetl s JOIN {parent} m ON CAST(m.mdtrt_id AS VARCHAR) = CAST(s.mdtrt_id AS VARCHAR)
                    WHERE CAST(s.{col} AS VARCHAR) <> CAST(m.{col} AS VARCHAR)
                    """,
                    [col],
                )

    # materialise -------------------------------------------------------------------------------
    def materialise(self, table: Table) -> None:
        report = self.reports[table.name]
        if table.name in self.direct:  # already the final table, every check passed
            report.rows = self.con.execute(f"SELECT count(*) FROM {_quote(table.name)}").fetchone()[0]  # noqa: S608
            return
        present = self.present[table.name]
        selects = [f"{self._cast(table, col)} AS {_quote(col.name)}" for col in table.columns]
        known = {c.name for c in table.columns}
        identity = self.identity.get(table.name, {})
        for name in present:
            if name in known:
                continue
            low = name.lower()
            kind = identity.get(name)
            if kind == "drop" or (kind == "hash" and not self.id_salt):  # no salt: a hash could be reversed
                report.dropped_columns.append(name)
                continue
            if kind == "hash":
                report.hashed_columns.append(name)
                selects.append(
                    f"CASE WHEN {_quote(name)} IS NULL THEN NULL ELSE sha256(? || CAST({_quote(name)} AS VARCHAR)) END AS {_quote(low + '_hash')}"
                )
                continue
            selects.append(_quote(name))
        params = [self.id_salt] * len(report.hashed_columns)
        self.con.execute(
            f"""
            CREATE TABLE {_quote(table.name)} AS
            SELECT {", ".join(selects)} FROM _stg_{table.name}
            WHERE NOT EXISTS (SELECT 1 FROM _rejects r WHERE r.tbl = ? AND r._row = _stg_{table.name}._row)
            """,
            [*params, table.name],
        )
        report.rows = self.con.execute(f"SELECT count(*) FROM {_quote(table.name)}").fetchone()[0]
        report.rejected = self.con.execute("SELECT count(DISTINCT _row) FROM _rejects WHERE tbl = ?", [table.name]).fetchone()[0]

    def collect_issues(self) -> tuple[list[Issue], int]:
        order = {t.name: i for i, t in enumerate(TABLES)}
        total = self.con.execute("SELECT count(*) FROM _rejects").fetchone()[0]
        rows = self.con.execute(
            # load order (parents first): a broken parent's own rows before the children it breaks
            "SELECT tbl, _row, col, reason FROM _rejects ORDER BY list_position(?, tbl), _row, col LIMIT ?",
            [list(order), MAX_REPORTED_ISSUES * 5],
        ).fetchall()
        issues = sorted(
            (Issue(self.reports[t].file or f"{t}.parquet", r, c, m) for t, r, c, m in rows),
            key=lambda i: (order.get(i.file.rsplit(".", 1)[0], 99), i.row or 0, i.column or ""),
        )
        if total:
            # an empty required table comes first: it is usually the cause of the (bounded) list that follows
            empty = self.empty_tables()
            issues = empty + issues[: MAX_REPORTED_ISSUES - len(empty)]
            total += len(empty)
        return issues[:MAX_REPORTED_ISSUES], total

    def empty_tables(self, only: tuple[str, ...] | None = None) -> list[Issue]:
        """A required table whose file has a header but no data row (`only`: of these tables)."""
        empty = []
        for table in TABLES:
            report = self.reports.get(table.name)
            if table.optional or report is None or report.file is None or (only is not None and table.name not in only):
                continue
            if not self.con.execute(f"SELECT count(*) FROM _stg_{table.name}").fetchone()[0]:  # noqa: S608
                empty.append(Issue(report.file, None, None, "没有数据行 (只有表头)，它是必需的表"))
        return empty

    def write_rejects(self, rejects_path: Path) -> None:
        sqls: list[str] = []
        params: list = []
        for table in TABLES:
            identity = self.identity.get(table.name, {})
            present = [c for c in self.present.get(table.name, []) if c not in identity]
            if not present:
                continue
            packed = ", ".join(f"{_quote(c)} := CAST(s.{_quote(c)} AS VARCHAR)" for c in present)
            sqls.append(
                f"""SELECT r.tbl AS "table", ? AS file, r._row AS "row", r.col AS "column", r.reason,
                       CAST(to_json(struct_pack({packed})) AS VARCHAR) AS raw
                    FROM _rejects r JOIN _stg_{table.name} s ON s._row = r._row AND r.tbl = ?"""
            )
            params.extend([self.reports[table.name].file or f"{table.name}.parquet", table.name])
        # rows the CSV reader could not split into the header's columns: their raw text as it was
        sqls.append(
            """SELECT r.tbl AS "table", r.tbl || '.csv' AS file, r._row AS "row", r.col AS "column", r.reason,
                   CAST(to_json(struct_pack(line := b.line)) AS VARCHAR) AS raw
                FROM _rejects r JOIN _bad_lines b ON b.tbl = r.tbl AND b._row = r._row"""
        )
        rejects_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = rejects_path.with_name(rejects_path.name + ".tmp")
        query = " UNION ALL ".join(sqls) + ' ORDER BY "table", "row", "column"'
        fmt = "PARQUET" if rejects_path.suffix == ".parquet" else "CSV, HEADER"
        self.con.execute(f"COPY ({query}) TO '{_sql_path(tmp)}' (FORMAT {fmt})", params)
        os.replace(tmp, rejects_path)

    def cleanup(self) -> None:
        for view in self._registered:
            self.con.unregister(view)


def _may_hold_id_numbers(source_type: str) -> bool:
    """A column type that can hold an identity number: text, or an integer wide enough for 15-18 digits."""
    kind = source_type.replace(" ", "").upper()
    return kind in ("VARCHAR", "BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT") or re.fullmatch(r"DECIMAL\(\d+,0\)", kind) is not None


def _sql_path(path: Path) -> str:
    # COPY takes no parameter for its target; the path is ours (not user SQL), quotes are escaped.
    return str(path).replace("'", "''")


def load_dataset(
    path: Path | str,
    con: duckdb.DuckDBPyConnection,
    *,
    lenient: bool = False,
    rejects_path: Path | str | None = None,
    id_salt: str | None = None,
    in_place: tuple[str, ...] = (),
    require_rows: bool = False,
) -> LoadReport:
    """Validate the dataset in `path` and create the contract tables in `con`, all or nothing.

    `require_rows`: `psn`, `mdtrt` and `feedetl` must have rows (a dataset to audit or validate; a rule
    example's rows, a history of visits or an index over an audited dataset need not).

    Strict (default): any problem raises `ContractError` listing file/row/column issues and no table
    is created. Lenient: row-level problems send the row (and the rows that depend on it) to the
    rejects file; missing files/columns and unreadable files still fail the whole load.

    `in_place`: tables to read in place: when such a table's file is Parquet in the contract's exact
    columns and types and passes every check, the table is a view over the file instead of a copy in
    memory (`TableReport.in_place`). The file must then stay unchanged while `con` is used (the audit
    re-hashes it before writing its result); other files are copied as usual.
    """
    directory = Path(path)
    bad_dir = dataset_dir_issue(directory)
    if bad_dir is not None:
        raise ContractError([bad_dir])
    # no default salt: a hash salted with a public string is reversed by trying every birth date and
    # region; without a salt, identity number columns are dropped (`LoadReport.warnings` says so)
    salt = id_salt if id_salt is not None else os.environ.get("FUNDGUARD_ID_SALT", "")
    try:
        return _load(directory, con, lenient, salt, rejects_path, fast=True, in_place=frozenset(in_place),
                     require_rows=require_rows)
    except _NeedsDetail:
        report = _load(directory, con, lenient, salt, rejects_path, fast=False, require_rows=require_rows)
        report.passes = 2
        return report


def drop_relation(con: duckdb.DuckDBPyConnection, name: str, *, temp: bool = False) -> None:
    """Drop `name` (a table or a view) from the database's main schema, or from the temp one."""
    catalog = "temp" if temp else con.execute("SELECT current_database()").fetchone()[0]
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main' "
        "AND table_catalog = ?",
        [name, catalog],
    ).fetchone()
    if kind:
        con.execute(f"DROP {'VIEW' if kind[0] == 'VIEW' else 'TABLE'} {_quote(catalog)}.main.{_quote(name)}")


def _drop_stage(con: duckdb.DuckDBPyConnection, name: str) -> None:
    drop_relation(con, f"_stg_{name}", temp=True)


def _prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Start of the load's transaction: empty work tables, and no contract table left from an earlier load."""
    con.execute("CREATE OR REPLACE TEMP TABLE _rejects (tbl VARCHAR, _row BIGINT, col VARCHAR, reason VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE _codes (code_set VARCHAR, code VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE _bad_lines (tbl VARCHAR, _row BIGINT, line VARCHAR)")
    for t in TABLES:
        _drop_stage(con, t.name)
        drop_relation(con, t.name)


def plausibility_warnings(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Values the contract allows that no real extract has: said, not refused (run.json, `validate`)."""
    out = []
    before_birth = con.execute(
        "SELECT count(*), min(m.mdtrt_id) FROM mdtrt m JOIN psn p ON p.psn_no = m.psn_no "
        "WHERE p.brdy > CAST(m.begntime AS DATE)"
    ).fetchone()
    if before_birth[0]:
        out.append(f"{before_birth[0]:,} 条就诊早于参保人的出生日期 (如就诊 {before_birth[1]}): 出生日期或就诊时间有误, "
                   "按年龄判断的规则 (A02、A04) 对这些就诊的结果不可信")
    today = dt.date.today()
    future = con.execute(
        "SELECT (SELECT count(*) FROM mdtrt WHERE CAST(begntime AS DATE) > ?), "
        "(SELECT count(*) FROM psn WHERE brdy > ?)", [today, today]
    ).fetchone()
    if future[0]:
        out.append(f"{future[0]:,} 条就诊的开始时间晚于今天 ({today}): 时间有误或为测试数据")
    if future[1]:
        out.append(f"{future[1]:,} 名参保人的出生日期晚于今天 ({today}): 出生日期有误")
    negative = con.execute("SELECT count(*), min(mdtrt_id) FROM mdtrt WHERE hifp_pay < 0").fetchone()
    if negative[0]:
        out.append(f"{negative[0]:,} 条就诊的统筹基金支付 (hifp_pay) 为负数 (如就诊 {negative[1]}): 冲销或退费结算应在源系统"
                   "对冲后导出, 以基金支付计金额的规则对这些就诊的金额不可信")
    # some regions use the resident ID number as the person number: FundGuard masks it wherever it shows
    # it (web, exports), but flags.parquet and the run folder keep the value as given
    id_like = con.execute("SELECT count(*) FROM psn WHERE regexp_full_match(trim(psn_no), ?)", [ID_NUMBER_PATTERN]).fetchone()[0]
    if id_like:
        out.append(f"{id_like:,} 个人员编号 (psn_no) 形如身份证号: 网页与导出中脱敏显示, 但 flags.parquet 与运行目录保存原值; "
                   "请限制输出目录的访问, 或由源系统导出人员编号而非身份证号")
    return out


def _load(
    directory: Path, con: duckdb.DuckDBPyConnection, lenient: bool, salt: str, rejects_path: Path | str | None, *, fast: bool,
    in_place: frozenset[str] = frozenset(), require_rows: bool = True,
) -> LoadReport:
    loader = _Loader(directory, con, lenient, salt, fast=fast, in_place=in_place)
    con.execute("BEGIN TRANSACTION")
    try:
        _prepare(con)
        staged = [loader.stage(t) for t in TABLES]
        if not all(staged) or loader.issues:
            raise ContractError(sorted(loader.issues, key=lambda i: (i.file, i.row or 0)))
        for t in TABLES:
            try:
                loader.check_columns(t)
                loader.check_table_rules(t)
                loader.flush_checks(t)
                loader.check_keys(t)
                loader.check_references(t)
                loader.materialise(t)
            except duckdb.Error as exc:
                # a table read in place is first read whole by its checks: a corrupt data page shows here
                if not loader.reports[t.name].in_place or isinstance(exc, duckdb.OutOfMemoryException):
                    raise
                path = directory / loader.reports[t.name].file
                reason = short_reason(exc, path)
                raise ContractError([Issue(path.name, None, None, f"文件损坏或不是 Parquet 文件 ({reason})")]) from None
        # no person, encounter or fee line: nothing to audit, whatever the mode (an extract that failed
        # would otherwise pass and give flags that rest on no charges); other required tables may be
        # empty in a valid extract (a month of pharmacy purchases has no diagnoses)
        nothing = loader.empty_tables(only=NEVER_EMPTY) if require_rows else []
        issues, total = loader.collect_issues()
        if nothing and not total:
            issues, total = nothing, len(nothing)
        rejected_rows = sum(r.rejected for r in loader.reports.values())
        if total and (not lenient or nothing):
            raise ContractError(issues, total)
        report = LoadReport(str(directory), loader.reports, rejected=rejected_rows, issues=issues,
                            warnings=loader.identity_warnings() + plausibility_warnings(con))
        if total:
            target = Path(rejects_path) if rejects_path else Path.cwd() / "rejects.csv"
            loader.write_rejects(target)
            report.rejects_path = str(target)
        for t in TABLES:
            _drop_stage(con, t.name)
        con.execute("COMMIT")
        return report
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        loader.cleanup()


def describe_report(report: LoadReport) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)
