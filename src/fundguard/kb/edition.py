"""Knowledge editions: a folder of kb tables (Parquet) with a manifest, built from layers where later layers win.

The default edition is the national batches plus the sample (`kb/sample/`) for what they lack. A bureau's
overlay is a folder of CSV or Parquet files named after kb tables (`kb_hilist.csv` …) and optionally an
`overlay.yaml` (`name`, `hilist_complete`); its rows replace every earlier row with the same key
(`KB_KEYS`). The content hash covers the sorted table contents only, so two builds of the same inputs
give the same hash whatever the build time or folder.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from fundguard.kb.load_nhsa import NHSA_DIR, REPORT_COLUMNS, load_national, report_rows
from fundguard.kb.tables import KB_KEYS, KB_TABLES, to_arrow

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


def _read_table_file(path: Path, table: str, layer_name: str) -> list[dict]:
    if path.suffix == ".parquet":
        rows = pq.read_table(path).to_pylist()
        header = list(rows[0]) if rows else []
        numbered = list(enumerate(rows, start=1))
    else:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            numbered = list(enumerate(reader, start=1))
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
            to_arrow(table, [clean])
        except (ValueError, decimal.InvalidOperation, pa.ArrowException) as exc:
            raise KbError(f"{path}: 第 {number} 行 值无效：{exc}") from exc
        out.append(clean)
    return out


def read_layer(folder: Path, *, kind: str = "overlay", name: str | None = None) -> Layer:
    """Read a folder of kb table files (CSV or Parquet) as one layer."""
    folder = Path(folder)
    if not folder.is_dir():
        raise KbError(f"{folder}: 不是目录")
    meta: dict = {}
    if (folder / OVERLAY_FILE).exists():
        meta = yaml.safe_load((folder / OVERLAY_FILE).read_text(encoding="utf-8")) or {}
    layer_name = name or meta.get("name") or folder.name
    tables: dict[str, list[dict]] = {}
    sources = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in {".csv", ".parquet"} or path.name == UNPARSED_FILE:
            continue
        if path.stem not in KB_TABLES:
            raise KbError(f"{path}: 不是知识库表名（可用：{', '.join(sorted(KB_TABLES))}）")
        tables.setdefault(path.stem, []).extend(_read_table_file(path, path.stem, layer_name))
        sources.append(f"{kind}:{layer_name}/{path.name}")
    return Layer(layer_name, kind, tables, sources, meta.get("hilist_complete"))


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


def content_hash(tables: dict[str, pa.Table]) -> str:
    """sha256 over table names, column types and sorted rows: independent of build time and paths."""
    digest = hashlib.sha256()
    for name in sorted(tables):
        columns = KB_TABLES[name]
        digest.update(json.dumps([name, columns], ensure_ascii=False).encode())
        rows = [json.dumps([row[c] for c, _ in columns], default=str, ensure_ascii=False)
                for row in tables[name].to_pylist()]
        for line in sorted(rows):
            digest.update(line.encode())
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
            hilist_complete = bool(layer.hilist_complete)
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


class Edition:
    """An edition folder opened for use: its manifest, its tables, and registration into DuckDB."""

    def __init__(self, path: Path, manifest: dict, tables: dict[str, pa.Table]):
        self.path = path
        self.manifest = manifest
        self.tables = tables

    @classmethod
    def open(cls, path: str | os.PathLike) -> Edition:
        path = Path(path)
        manifest_path = path / MANIFEST_FILE
        if not manifest_path.exists():
            raise KbError(f"{path}: 没有 {MANIFEST_FILE}，不是知识库版本")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        tables = {}
        for name in KB_TABLES:
            file = path / f"{name}.parquet"
            table = pq.read_table(file) if file.exists() else to_arrow(name, [])
            tables[name] = table.select([c for c, _ in KB_TABLES[name]]).cast(to_arrow(name, []).schema)
        return cls(path, manifest, tables)

    @property
    def content_hash(self) -> str:
        return self.manifest["content_hash"]

    @property
    def unparsed_path(self) -> Path:
        return self.path / UNPARSED_FILE

    def register(self, con) -> None:
        """Create every kb table in a DuckDB connection with its contract types (missing tables empty)."""
        for name, columns in KB_TABLES.items():
            ddl = ", ".join(f"{col} {kind}" for col, kind in columns)
            con.execute(f"CREATE OR REPLACE TABLE {name} ({ddl})")
            table = self.tables.get(name)
            if table is None or table.num_rows == 0:
                continue
            view = f"_kb_src_{name}"
            con.register(view, table)
            try:
                cols = ", ".join(col for col, _ in columns)
                con.execute(f"INSERT INTO {name} SELECT {cols} FROM {view}")
            finally:
                con.unregister(view)
