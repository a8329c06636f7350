"""Knowledge editions: a folder of kb tables (Parquet) with a manifest, built from layers where later layers win.

The default edition is the national batches plus the sample (`kb/sample/`) for what they lack. A bureau's
overlay is a folder of UTF-8 CSV or Parquet files named after kb tables (`kb_hilist.csv` …, any letter case)
and optionally an `overlay.yaml` (`name`, `hilist_complete`, checked by `OverlayMeta`); any other file in it
is refused rather than ignored (see `read_layer`). Its rows replace every earlier row with the same key
(`KB_KEYS`). The content hash covers the sorted table contents only, so two builds of the same inputs
give the same hash whatever the build time or folder. Opening an edition recomputes it and refuses
(KbError) a folder whose tables no longer match their manifest.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fundguard import yamlio
from fundguard.kb.load_nhsa import NHSA_DIR, REPORT_COLUMNS, load_national, report_rows
from fundguard.kb.tables import (
    KB_KEYS,
    KB_MULTI_ROW,
    KB_TABLES,
    arrow_schema,
    coerce_row,
    row_problems,
    to_arrow,
)
from fundguard.validation import validation_problems

LOADER_VERSION = "1"
SAMPLE_DIR = Path(__file__).parent / "sample"
MANIFEST_FILE = "manifest.json"
UNPARSED_FILE = "unparsed.csv"
OVERLAY_FILE = "overlay.yaml"


class KbError(ValueError):
    """Bad knowledge input: a file, row and column a maintainer can act on."""


@dataclass
class Manifest:
    """What an edition holds: name, sources, build time, rows per table and the content hash."""

    name: str
    sources: list[str]
    built_at: str
    row_counts: dict[str, int]
    content_hash: str
    hilist_complete: bool
    layers: list[dict]
    unparsed_count: int = 0
    unparsed_by_reason: dict[str, int] = field(default_factory=dict)
    loader_version: str = LOADER_VERSION
    #: each table's own content hash: when the edition's hash no longer matches, opening names the tables
    table_hashes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Layer:
    name: str
    kind: str  # national, sample, overlay
    tables: dict[str, list[dict]]
    sources: list[str]
    hilist_complete: bool | None = None


# ---- reading layers -------------------------------------------------------------------------------


class OverlayMeta(BaseModel):
    """`overlay.yaml`: strict types (`hilist_complete: "false"` is text, not false) and no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(default=None, min_length=1)
    #: the layer's kb_hilist is the complete catalog (A08 runs only then); None: not declared
    hilist_complete: bool | None = None


def _read_overlay_meta(path: Path) -> OverlayMeta:
    """`overlay.yaml` checked: YAML that parses, a mapping, known keys of the right types."""
    # the rule files' YAML reader (a key given twice is an error, syntax errors in Chinese) and pydantic
    # error wording: what rule authors already see
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KbError(f"{path}: 不是 UTF-8 编码（第 {exc.start + 1} 字节起无法按 UTF-8 解码），请以 UTF-8 保存") from None
    try:
        raw = yamlio.load(text)
    except yaml.YAMLError as exc:
        raise KbError(f"{path}: YAML 无法解析：{yamlio.problem(exc)}") from None
    if raw is None:
        raw = {}
    known = "、".join(OverlayMeta.model_fields)
    if not isinstance(raw, dict):
        raise KbError(f"{path}: 顶层应为映射（键: 值），可用的键：{known}")
    try:
        return OverlayMeta.model_validate(raw)
    except ValidationError as exc:
        problems = validation_problems(exc)
        hint = f"（可用的键：{known}）" if any(e["type"] == "extra_forbidden" for e in exc.errors()) else ""
        raise KbError(f"{path}: " + "；".join(problems) + hint) from None


_CSV_PROBLEMS = {
    "unexpected end of data": "引号未闭合（直到文件末尾都没有配对的引号，后面的行都会被吞进这个值）",
    "',' expected after '\"'": "引号后应紧跟逗号（多半是值中的引号未闭合或未成对写成 \"\"）",
    "field larger than field limit": "值过长（多半是引号未闭合，后面的行被吞进这个值）",
}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _row_name(number: int) -> str:
    return f"第 {number} 行" if number else "表头"


def _not_utf8(path: Path, data: bytes, exc: UnicodeDecodeError) -> KbError:
    """Where a CSV stops being UTF-8: the row (and column) of the first byte that is not."""
    line = data.count(b"\n", 0, exc.start) + 1
    where = f"文件第 {line} 行"
    try:
        prefix = data[:exc.start].decode("utf-8-sig")
        records = [r for r in csv.reader(io.StringIO(prefix, newline="")) if r]
        partial = bool(prefix) and not prefix.endswith(("\n", "\r"))
        index = len(records) - 1 if partial else len(records)
        where = _row_name(index)
        field_index = len(records[-1]) - 1 if partial else 0
        if index and records and field_index < len(records[0]):
            where += f" {records[0][field_index]}"
        where += f"（文件第 {line} 行）"
    except (UnicodeDecodeError, csv.Error):
        pass
    return KbError(f"{path}: 不是 UTF-8 编码：{where}有无法按 UTF-8 解读的字节（如 GBK/GB18030 导出的中文）；"
                   "请另存为 UTF-8（Excel：另存为“CSV UTF-8（逗号分隔）”）")


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and numbered rows (1 = the first row after the header; blank lines skipped) of a CSV file.

    Refused: bytes that are not UTF-8 (a BOM is fine), a quote that is never closed or is followed by
    anything but a separator (Python's csv would otherwise swallow the following rows into one value),
    a value with a line break (the same stray quote closed by a later one; kb values are one line),
    a column named twice, and a row with more or fewer fields than the header.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, data, exc) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    numbered: list[tuple[int, dict]] = []
    lines_read = 0
    while True:
        number = len(numbered) + 1 if header is not None else 0
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            message = str(exc)
            problem = next((v for k, v in _CSV_PROBLEMS.items() if message.startswith(k)), f"CSV 格式有误：{message}")
            start = lines_read + 1
            column = ""
            if header:
                first = _LINE_BREAK.split(text)[start - 1]
                fields = next(csv.reader([first]), [])
                if 0 < len(fields) <= len(header):
                    column = f" {header[len(fields) - 1]}"
            raise KbError(f"{path}: {_row_name(number)}{column}（文件第 {start} 行起）{problem}") from None
        first_line, lines_read = lines_read + 1, reader.line_num
        if not record:
            continue
        for index, value in enumerate(record):
            if "\n" in value or "\r" in value:
                name = header[index] if header and index < len(header) else f"第 {index + 1} 个字段"
                raise KbError(f"{path}: {_row_name(number)} {name} 的值含换行（文件第 {first_line}–{lines_read} 行）："
                              "多半是引号未闭合，把后面的行吞进了这个值；知识库的值不能换行")
        if header is None:
            twice = sorted({c for c in record if record.count(c) > 1})
            if twice:
                raise KbError(f"{path}: 表头中列 {'、'.join(twice)} 出现了不止一次")
            header = record
            continue
        if len(record) != len(header):
            if len(record) > len(header):
                extra = record[len(header)]
                what = f"第 {len(header) + 1} 个字段 {extra!r} 没有对应的列"
            else:
                what = f"缺少 {'、'.join(header[len(record):])} 的值"
            raise KbError(f"{path}: 第 {number} 行有 {len(record)} 个字段，表头有 {len(header)} 列：{what}"
                          f"（文件第 {first_line} 行）")
        numbered.append((number, dict(zip(header, record, strict=True))))
    return header or [], numbered


def _read_table_file(path: Path, table: str, layer_name: str, seen: dict[tuple, tuple[str, int, dict]]) -> list[dict]:
    """The rows of one kb table file, checked; `seen` (key → file, row, typed row) spans the files of a
    layer, so two different rows with one key are refused across its files too (`KB_MULTI_ROW` aside)."""
    if path.suffix.lower() == ".parquet":
        try:
            rows = pq.read_table(path).to_pylist()
        except (pa.ArrowException, OSError) as exc:
            raise KbError(f"{path}: 无法读取（文件损坏或不是 Parquet）：{exc}") from None
        header = list(rows[0]) if rows else []
        numbered = list(enumerate(rows, start=1))
    else:
        header, numbered = _read_csv(path)
    columns = dict(KB_TABLES[table])
    for key in KB_KEYS[table]:
        if numbered and key not in header:
            raise KbError(f"{path}: 缺少键列 {key}")
    out = []
    for number, row in numbered:
        clean = {k: v for k, v in row.items() if k in columns}
        for key in KB_KEYS[table]:
            if clean.get(key) in (None, ""):
                raise KbError(f"{path}: 第 {number} 行 {key} 为空")
        if not clean.get("source"):
            clean["source"] = f"overlay:{layer_name}"
        try:
            typed = coerce_row(table, clean)
        except ValueError as exc:
            raise KbError(f"{path}: 第 {number} 行 {exc}") from exc
        problems = row_problems(table, typed)
        if problems:
            raise KbError(f"{path}: 第 {number} 行 " + "；".join(problems))
        if table not in KB_MULTI_ROW:
            key = tuple(str(typed.get(k)) for k in KB_KEYS[table])
            first = seen.setdefault(key, (str(path), number, typed))
            if first[2] != typed:
                where = f"第 {first[1]} 行" if first[0] == str(path) else f"{first[0]} 第 {first[1]} 行"
                names = ", ".join(f"{k}={v}" for k, v in zip(KB_KEYS[table], key, strict=True))
                raise KbError(f"{path}: 第 {number} 行与{where}的键相同 ({names}) 而内容不同; 一个键只能有一行"
                              " (否则规则会把每条明细按两行各算一次)")
        out.append(clean)
    return out


#: files an overlay folder may hold besides its tables: the edition report (an edition folder can be an
#: overlay) and notes for people; hidden files (.DS_Store …) are not looked at
_NOT_TABLES = {MANIFEST_FILE, UNPARSED_FILE}
_TABLE_SUFFIXES = (".csv", ".parquet")


def _is_readme(name: str) -> bool:
    return name.lower().split(".", 1)[0] == "readme"


def read_layer(folder: Path, *, kind: str = "overlay", name: str | None = None) -> Layer:
    """Read a folder of kb table files (CSV or Parquet) as one layer.

    A table file is `<kb table>.csv` or `<kb table>.parquet` in any letter case (`KB_HILIST.CSV`); besides
    those the folder may hold `overlay.yaml`, README files, `manifest.json`/`unparsed.csv` (an edition's)
    and hidden files. Anything else (`kb_hilst.csv`, `kb_hilist.xlsx`, a subfolder) is refused, so a file
    meant as knowledge is never silently left out.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise KbError(f"{folder}: 不是目录")
    known = ", ".join(sorted(KB_TABLES))
    meta_paths, files, unknown_tables, strangers = [], [], [], []
    for path in sorted(folder.iterdir()):
        lower = path.name.lower()
        if path.name.startswith(".") or (path.is_file() and (path.name in _NOT_TABLES or _is_readme(lower))):
            continue
        stem, _, suffix = lower.rpartition(".")
        if not path.is_file():
            strangers.append(f"{path.name}/")
        elif lower == OVERLAY_FILE:
            meta_paths.append(path)
        elif f".{suffix}" in _TABLE_SUFFIXES and stem in KB_TABLES:
            files.append((path, stem))
        elif f".{suffix}" in _TABLE_SUFFIXES:
            unknown_tables.append(path)
        else:
            strangers.append(path.name)
    if unknown_tables:
        raise KbError(f"{unknown_tables[0]}: 不是知识库表名（可用：{known}）")
    if strangers:
        raise KbError(f"{folder}: 叠加层目录中有无法识别的文件：{', '.join(strangers)}。目录中只能有知识库表文件"
                      f"（<表名>.csv 或 <表名>.parquet，表名：{known}）、{OVERLAY_FILE} 与说明文件 README*；"
                      "请移走或改名（否则其中的内容不会生效）")
    if len(meta_paths) > 1:
        raise KbError(f"{folder}: {OVERLAY_FILE} 有多个（{', '.join(p.name for p in meta_paths)}），只能有一个")
    meta = _read_overlay_meta(meta_paths[0]) if meta_paths else OverlayMeta()
    layer_name = name or meta.name or folder.name
    tables: dict[str, list[dict]] = {}
    keys_seen: dict[str, dict] = {}
    sources = []
    for path, table in files:
        seen = keys_seen.setdefault(table, {})
        tables.setdefault(table, []).extend(_read_table_file(path, table, layer_name, seen))
        sources.append(f"{kind}:{layer_name}/{path.name}")
    return Layer(layer_name, kind, tables, sources, meta.hilist_complete)


def national_layer() -> tuple[Layer, list[dict]]:
    national = load_national(NHSA_DIR)
    layer = Layer("nhsa", "national", national.tables, [f"nhsa:{s}" for s in national.sources])
    return layer, report_rows(national.unparsed)


# ---- merging and hashing ----------------------------------------------------------------------------


def _sort_key(row: dict, columns: list[str]) -> tuple:
    return tuple((row.get(c) is not None, str(row.get(c)) if row.get(c) is not None else "") for c in columns)


def merge_layers(layers: Iterable[Layer]) -> dict[str, pa.Table]:
    """Every kb table after applying the layers in order: a later layer's rows replace earlier rows per key."""
    merged: dict[str, list[dict]] = {name: [] for name in KB_TABLES}
    for layer in layers:
        for table, rows in layer.tables.items():
            keys = KB_KEYS[table]
            replaced = {tuple(str(r.get(k)) for k in keys) for r in rows}
            kept = [r for r in merged[table] if tuple(str(r.get(k)) for k in keys) not in replaced]
            merged[table] = kept + list(rows)
    out = {}
    for table, rows in merged.items():
        typed = to_arrow(table, rows).to_pylist()
        columns = [c for c, _ in KB_TABLES[table]]
        unique = {json.dumps([r[c] for c in columns], default=str, ensure_ascii=False): r for r in typed}
        ordered = sorted(unique.values(), key=lambda r, cols=columns: _sort_key(r, cols))
        out[table] = to_arrow(table, ordered)
    return out


_QUOTE, _SEPARATOR, _OPEN, _CLOSE, _EMPTY, _NULL, _NEWLINE, _TRUE, _FALSE = (
    pa.scalar(text, pa.string()) for text in ('"', ", ", "[", "]", "", "null", "\n", "true", "false"))


def _json_cells_python(column: pa.Array) -> pa.Array:
    """Each cell as `json.dumps(value, default=str, ensure_ascii=False)`, computed once per distinct value."""
    encoded = pc.dictionary_encode(column)
    texts = [json.dumps(value, default=str, ensure_ascii=False) for value in encoded.dictionary.to_pylist()]
    return pc.fill_null(pc.take(pa.array(texts, pa.string()), encoded.indices), _NULL)


def _json_cells(column: pa.Array) -> pa.Array:
    """Each cell as `json.dumps(value, default=str, ensure_ascii=False)` writes it, vectorised where simple.

    Strings without control characters only need `\\` and `"` escaped; integers and booleans print as JSON
    does. Anything else (decimals and dates, written by `default=str`; strings with control characters)
    goes through `json.dumps` per distinct value, so the text is the row-wise definition's by construction.
    """
    kind = column.type
    if pa.types.is_string(kind):
        if pc.any(pc.match_substring_regex(column, r'[\x00-\x1f"\\]')).as_py():
            if pc.any(pc.match_substring_regex(column, r"[\x00-\x1f]")).as_py():
                return _json_cells_python(column)
            column = pc.replace_substring(column, "\\", "\\\\")
            column = pc.replace_substring(column, '"', '\\"')
        text = pc.binary_join_element_wise(_QUOTE, column, _QUOTE, _EMPTY)
    elif pa.types.is_integer(kind):
        text = pc.cast(column, pa.string())
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, _TRUE, _FALSE)
    else:
        return _json_cells_python(column)
    return pc.fill_null(text, _NULL)


def content_hash(tables: dict[str, pa.Table]) -> str:
    """sha256 over table names, column types and sorted rows: independent of build time and paths.

    Definition (row-wise): per table in name order, `json.dumps([name, columns])`, then every row as
    `json.dumps([values in column order], default=str, ensure_ascii=False)`, the lines sorted and each
    followed by a newline. Computed column-wise with Arrow (the default edition is hashed on every open);
    UTF-8 byte order is code point order, so Arrow's sort is Python's.
    """
    digest = hashlib.sha256()
    for name in sorted(tables):
        columns = KB_TABLES[name]
        digest.update(json.dumps([name, columns], ensure_ascii=False).encode())
        table = tables[name]
        if table.num_rows == 0:
            continue
        parts: list = [_OPEN]
        for index, (column, _) in enumerate(columns):
            if index:
                parts.append(_SEPARATOR)
            parts.append(_json_cells(table.column(column).combine_chunks()))
        parts.append(_CLOSE)
        lines = pc.binary_join_element_wise(*parts, _EMPTY)
        lines = lines.take(pc.array_sort_indices(lines))
        whole = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines), _NEWLINE)
        digest.update(whole[0].as_buffer())
        digest.update(b"\n")
    return digest.hexdigest()


# ---- building ---------------------------------------------------------------------------------------


def _write_edition(folder: Path, tables: dict[str, pa.Table], manifest: Manifest, unparsed: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet")
    with open(folder / UNPARSED_FILE, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=REPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(unparsed)
    (folder / MANIFEST_FILE).write_text(
        json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _replace_dir(tmp: Path, target: Path) -> None:
    if target.exists():
        if any(target.iterdir()) and not (target / MANIFEST_FILE).exists():
            shutil.rmtree(tmp, ignore_errors=True)
            raise KbError(f"{target}: 目录非空且不是知识库版本，拒绝覆盖")
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)


def build_edition(out_dir: str | os.PathLike, *, name: str = "default",
                  overlays: Iterable[str | os.PathLike] = ()) -> Manifest:
    """Build an edition folder: national batches, then the sample, then each overlay (later wins per key)."""
    out_dir = Path(out_dir)
    national, unparsed = national_layer()
    layers = [national, read_layer(SAMPLE_DIR, kind="sample", name="sample")]
    layers += [read_layer(Path(p)) for p in overlays]
    tables = merge_layers(layers)
    hilist_complete = False
    for layer in layers:
        if layer.hilist_complete is not None:
            hilist_complete = layer.hilist_complete
    by_reason: dict[str, int] = {}
    for item in unparsed:
        reason = item["reason"].split("：")[0]
        by_reason[reason] = by_reason.get(reason, 0) + 1
    manifest = Manifest(
        name=name,
        sources=sorted(s for layer in layers for s in layer.sources),
        built_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        row_counts={t: tables[t].num_rows for t in sorted(tables)},
        content_hash=content_hash(tables),
        table_hashes={t: content_hash({t: tables[t]}) for t in sorted(tables)},
        hilist_complete=hilist_complete,
        layers=[{"name": layer.name, "kind": layer.kind,
                 "row_counts": {t: len(r) for t, r in sorted(layer.tables.items())}} for layer in layers],
        unparsed_count=len(unparsed),
        unparsed_by_reason=dict(sorted(by_reason.items())),
    )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes 0700; an edition is meant to be shared read-only
    try:
        _write_edition(tmp, tables, manifest, unparsed)
        _replace_dir(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def source_fingerprint() -> str:
    """Hash of the national files, the sample and the loader code: names the cached default edition."""
    digest = hashlib.sha256(LOADER_VERSION.encode())
    package = Path(__file__).parent
    files = sorted(p for d in (NHSA_DIR, SAMPLE_DIR) for p in d.rglob("*") if p.is_file())
    files += sorted(package.glob("*.py"))
    for path in files:
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def fundguard_home() -> Path:
    return Path(os.environ.get("FUNDGUARD_HOME") or "~/.fundguard").expanduser()


def default_edition_path() -> Path:
    """The default edition's folder, built on first use into `$FUNDGUARD_HOME/kb/default-<fingerprint>`."""
    target = fundguard_home() / "kb" / f"default-{source_fingerprint()}"
    if (target / MANIFEST_FILE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Parallel processes may build at once: each builds into its own folder, the first rename wins.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    try:
        build_edition(staging / "edition")
        try:
            os.replace(staging / "edition", target)
        except OSError:
            if not (target / MANIFEST_FILE).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# ---- opening ----------------------------------------------------------------------------------------

_REBUILD = "请重新构建版本（fundguard kb build；内置默认版本删除该目录后会自动重建）"


def _read_manifest(path: Path) -> dict:
    """The manifest of an edition folder, checked for the fields opening and auditing rely on."""
    if not path.exists():
        raise KbError(f"知识库版本目录 {path} 不存在")
    if not path.is_dir():
        raise KbError(f"{path} 不是目录，不是知识库版本")
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise KbError(f"{path}: 没有 {MANIFEST_FILE}，不是知识库版本（请用 fundguard kb build 构建）")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise KbError(f"{manifest_path}: 不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise KbError(f"{manifest_path}: 无法读取：{exc}") from exc
    if not isinstance(manifest, dict):
        raise KbError(f"{manifest_path}: 应为 JSON 对象")
    recorded = manifest.get("content_hash")
    if not (isinstance(recorded, str) and len(recorded) == 64
            and all(ch in "0123456789abcdef" for ch in recorded)):
        raise KbError(f"{manifest_path}: content_hash 缺失或不是 64 位十六进制摘要")
    counts = manifest.get("row_counts")
    if not isinstance(counts, dict):
        raise KbError(f"{manifest_path}: row_counts 缺失或不是对象")
    for table, count in counts.items():
        if table not in KB_TABLES:
            raise KbError(f"{manifest_path}: row_counts 中的表 {table} 不是本版本 FundGuard 认识的知识库表")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise KbError(f"{manifest_path}: row_counts 中表 {table} 的行数 {count!r} 无效")
    for key, kind, label in (("name", str, "字符串"), ("built_at", str, "字符串"),
                             ("hilist_complete", bool, "布尔值（true/false）")):
        if not isinstance(manifest.get(key), kind):
            raise KbError(f"{manifest_path}: {key} 缺失或不是{label}")
    return manifest


def _read_table(path: Path, file: Path, name: str) -> pa.Table:
    """One table file of an edition, with exactly its contract columns and types."""
    try:
        table = pq.read_table(file)
    except (pa.ArrowException, OSError) as exc:
        raise KbError(f"知识库版本 {path} 的表文件 {file.name} 无法读取（文件损坏或不是 Parquet）：{exc}") from exc
    schema = arrow_schema(name)
    names = table.column_names
    missing = [spec.name for spec in schema if spec.name not in names]
    if missing:
        raise KbError(f"知识库版本 {path} 的表文件 {file.name} 缺少列：{', '.join(missing)}（表 {name}）")
    columns = []
    for spec in schema:
        if names.count(spec.name) > 1:
            raise KbError(f"知识库版本 {path} 的表文件 {file.name} 有重复列 {spec.name}（表 {name}）")
        column = table.column(spec.name)
        try:
            columns.append(column.cast(spec.type))
        except (pa.ArrowException, ValueError) as exc:
            raise KbError(f"知识库版本 {path} 的表文件 {file.name} 的列 {spec.name} 类型为 {column.type}，"
                          f"无法转换为 {dict(KB_TABLES[name])[spec.name]}（表 {name}）：{exc}") from exc
    return pa.Table.from_arrays(columns, schema=schema)


class Edition:
    """An edition folder opened for use: its manifest, its tables, and registration into DuckDB."""

    def __init__(self, path: Path, manifest: dict, tables: dict[str, pa.Table]):
        self.path = path
        self.manifest = manifest
        self.tables = tables

    @classmethod
    def open(cls, path: str | os.PathLike) -> Edition:
        """Open an edition folder, checking it against its manifest.

        The manifest's `row_counts` names the tables the edition has: each must be there with that many
        rows (a table recorded with 0 rows may lack its file); a table the manifest does not list is
        empty and must have no file. The content hash of the tables read must be the recorded
        `content_hash`, so the hash a run records always describes the knowledge it used.
        """
        path = Path(path)
        manifest = _read_manifest(path)
        counts: dict[str, int] = manifest["row_counts"]
        tables = {}
        for name in KB_TABLES:
            file = path / f"{name}.parquet"
            if name not in counts:
                if file.exists():
                    raise KbError(f"知识库版本 {path} 有表文件 {file.name}，但 {MANIFEST_FILE} 的 row_counts "
                                  f"没有记录表 {name}：{_REBUILD}")
                tables[name] = to_arrow(name, [])
                continue
            if not file.exists():
                if counts[name]:
                    raise KbError(f"知识库版本 {path} 缺少表文件 {file.name}（{MANIFEST_FILE} 记录表 {name} 有 "
                                  f"{counts[name]} 行）：{_REBUILD}")
                tables[name] = to_arrow(name, [])
                continue
            tables[name] = _read_table(path, file, name)
            if tables[name].num_rows != counts[name]:
                raise KbError(f"知识库版本 {path} 的表文件 {file.name} 有 {tables[name].num_rows} 行，"
                              f"{MANIFEST_FILE} 记录 {counts[name]} 行：文件被改动过，{_REBUILD}")
        actual = content_hash({name: tables[name] for name in counts})
        if actual != manifest["content_hash"]:
            recorded = manifest.get("table_hashes") if isinstance(manifest.get("table_hashes"), dict) else {}
            changed = [f"{name}.parquet" for name in sorted(recorded)
                       if name in counts and content_hash({name: tables[name]}) != recorded[name]]
            which = f"被改动的表：{'、'.join(changed)}；" if changed else ""
            raise KbError(f"知识库版本 {path} 的内容与 {MANIFEST_FILE} 记录的 content_hash 不符"
                          f"（记录 {manifest['content_hash'][:12]}…，实际 {actual[:12]}…）：{which}文件被改动过，{_REBUILD}")
        return cls(path, manifest, tables)

    @property
    def content_hash(self) -> str:
        return self.manifest["content_hash"]

    @property
    def unparsed_path(self) -> Path:
        return self.path / UNPARSED_FILE

    def register(self, con) -> None:
        """Create every kb table in a DuckDB connection with its contract types (missing tables empty)."""
        register_tables(con, self.tables)


def register_tables(con, tables) -> None:
    """Create every kb table in a DuckDB connection with its contract types from Arrow tables by name
    (missing or empty ones empty)."""
    for name, columns in KB_TABLES.items():
        ddl = ", ".join(f"{col} {kind}" for col, kind in columns)
        con.execute(f"CREATE OR REPLACE TABLE {name} ({ddl})")
        table = tables.get(name)
        if table is None or table.num_rows == 0:
            continue
        view = f"_kb_src_{name}"
        con.register(view, table)
        try:
            cols = ", ".join(col for col, _ in columns)
            con.execute(f"INSERT INTO {name} SELECT {cols} FROM {view}")
        finally:
            con.unregister(view)
