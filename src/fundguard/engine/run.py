"""An audit run: load a dataset and a knowledge edition, run the selected rules, write flags and run.json.

`run_audit(...)` is the one entry point the doors (CLI, API, demo) call. `Auditor` runs rules over a
connection that already holds the contract and knowledge tables (examples and tests use it directly).
Nothing is written to the output folder unless the whole run completes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import yaml

from fundguard import yamlio
from fundguard.engine.backends.duckdb import DuckDBBackend
from fundguard.engine.flags import params_json, rule_version
from fundguard.engine.kinds import get_kind
from fundguard.engine.registry import Registry, UnknownRuleError, load_registry
from fundguard.engine.rule import ParamError, ParamValue, Rule, Scene

if TYPE_CHECKING:
    from fundguard.contract.load import LoadReport

ProgressFn = Callable[[str, int, int], None]


class AuditError(Exception):
    """The run cannot proceed (bad params file, unknown engine, unusable output folder…); nothing was written."""


class InputChangedError(AuditError):
    """An input file changed while the audit read it: the flags would not belong to the recorded input."""


@dataclass
class RuleStats:
    id: str
    #: the rule's Chinese name, severity and why it is a violation, so the output explains its flags
    #: without the rule library at hand (a bureau's edited library may be gone)
    name: str
    severity: int
    legal_basis: dict[str, str | None]
    gz_codes: list[str]
    version: str
    params: dict[str, Any]
    status: str  # "ran" | "skipped"
    reason: str | None = None
    flags: int = 0
    vola_amt: str = "0.00"
    seconds: float = 0.0
    #: lines the rule could not judge for want of a value, and what was missing (None: nothing to count)
    unjudged: int | None = None
    unjudged_for: str | None = None


@dataclass
class AuditResult:
    run_id: str
    rules: list[RuleStats] = field(default_factory=list)
    views_seconds: float = 0.0

    @property
    def flags(self) -> int:
        return sum(r.flags for r in self.rules)


def read_params_file(path: Path | str) -> dict[str, dict[str, Any]]:
    """A per-run overrides file: YAML or JSON `{RULE_ID: {param: value}}`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamError(f"参数文件 {p} 不存在") from None
    except UnicodeDecodeError as exc:
        raise ParamError(f"参数文件 {p} 不是 UTF-8 文本 (第 {exc.start + 1} 字节起无法按 UTF-8 解码)") from None
    except OSError as exc:
        raise ParamError(f"参数文件 {p} 无法读取: {exc.strerror or exc}") from None
    try:
        data = yamlio.load(text) or {}
    except yaml.YAMLError as exc:
        raise ParamError(f"参数文件 {p} 不是有效的 YAML/JSON: {yamlio.problem(exc)}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ParamError(f"参数文件 {p} 应为 {{规则编号: {{参数: 值}}}} 的映射")
    return {str(k).upper(): v for k, v in data.items()}


def bind_all(rules: list[Rule], overrides: dict[str, dict[str, Any]], registry: Registry) -> dict[str, dict[str, ParamValue]]:
    unknown = sorted(set(overrides) - set(registry.rules))
    if unknown:
        raise UnknownRuleError(unknown, list(registry.rules))
    # a bad entry is bad whichever rules this run selects: check the overrides of the others too
    for rid in sorted(set(overrides) - {r.id for r in rules}):
        registry.rules[rid].bind_params(overrides[rid])
    return {r.id: r.bind_params(overrides.get(r.id)) for r in rules}


def compute_run_id(
    input_hashes: dict[str, str], kb_hash: str, versions: dict[str, str], kb_flags: dict[str, bool] | None = None
) -> str:
    """Inputs, knowledge content, rule versions and the manifest flags that decide whether a rule runs
    (`requires_kb_manifest`: not part of the content hash, yet they change the flags)."""
    content: dict[str, Any] = {"inputs": input_hashes, "kb": kb_hash, "rules": versions, "engine": engine_digest()}
    if kb_flags:
        content["kb_flags"] = kb_flags
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def kb_flags(rules: list[Rule], manifest: dict) -> dict[str, bool]:
    """The knowledge manifest flags the selected rules depend on, as the run reads them."""
    return {m: manifest.get(m) is True for r in rules for m in r.requires_kb_manifest}


class Auditor:
    """Runs rules over a connection holding the contract tables and the knowledge edition's kb_* tables."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection | None,
        *,
        kb_hash: str = "",
        kb_manifest: dict | None = None,
        backend: Any = None,
        absent_inputs: set[str] | frozenset[str] = frozenset(),
    ):
        self.con = con
        self.kb_hash = kb_hash
        self.kb_manifest = kb_manifest or {}
        #: optional contract tables / `table.column`s the dataset does not have (see `absent_inputs`)
        self.absent_inputs = frozenset(absent_inputs)
        self.backend = backend if backend is not None else DuckDBBackend(con)
        self.views_seconds = 0.0

    def prepare(self, rules: list[Rule] | None = None) -> None:
        """Build the curated views (code maps only for the knowledge tables `rules` declare)."""
        kb_tables = None if rules is None else {t for r in rules for t in r.kb_tables}
        self.views_seconds = self.backend.build_views(kb_tables)

    def skip_reason(self, rule: Rule) -> str | None:
        if Scene.POST not in rule.scenes:
            scenes = "/".join(s.value for s in rule.scenes)
            return f"场景为 {scenes}, 不在事后 (post) 批量审核中运行; 由实时审核执行"
        missing = [m for m in rule.requires_kb_manifest if self.kb_manifest.get(m) is not True]
        if missing:
            return f"知识库版本未声明 {', '.join(m + ': true' for m in missing)}, 跳过 (避免把知识库未收录的编码当作违规)"
        lacking = [x for x in rule.requires_inputs if x in self.absent_inputs]
        if lacking:
            return f"数据集中没有 {', '.join(lacking)} (可选输入), 本规则无法检查, 跳过 (不是“未发现疑点”)"
        return None

    def run(
        self,
        rules: list[Rule],
        params: dict[str, dict[str, ParamValue]],
        *,
        run_id: str,
        progress: ProgressFn | None = None,
    ) -> AuditResult:
        result = AuditResult(run_id=run_id, views_seconds=self.views_seconds)
        for i, rule in enumerate(rules):
            p = params[rule.id]
            version = rule_version(rule, p)
            stats = RuleStats(
                rule.id, rule.name, int(rule.severity), rule.legal_basis.model_dump(), list(rule.gz_codes),
                version, json.loads(params_json(p)), "ran",
            )
            reason = self.skip_reason(rule)
            if reason:
                stats.status, stats.reason = "skipped", reason
            else:
                outcome = self.backend.run_rule(rule, p, run_id=run_id, version=version, kb_hash=self.kb_hash)
                stats.flags, stats.vola_amt, stats.seconds = outcome.flags, f"{outcome.vola_amt:.2f}", round(outcome.seconds, 4)
                unjudged = get_kind(rule.kind).unjudged_sql(rule)
                if unjudged is not None:
                    stats.unjudged, stats.unjudged_for = self.backend.count(unjudged[0]), unjudged[1]
            result.rules.append(stats)
            if progress:
                progress(rule.id, i + 1, len(rules))
        return result


def _open_edition(kb: Path | str | None):
    from fundguard import kb as kb_pkg

    path = Path(kb) if kb else kb_pkg.default_edition_path()
    return path, kb_pkg.Edition.open(path)


def run_audit(
    dataset: Path | str,
    out: Path | str,
    *,
    kb: Path | str | None = None,
    rules: list[str] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    params_file: Path | str | None = None,
    engine: str = "duckdb",
    progress: ProgressFn | None = None,
    registry: Registry | None = None,
    spark_master: str | None = None,
) -> dict:
    """Audit `dataset` into `out` (`flags.parquet`, `run.json`); returns the run.json content.

    Raises UnknownRuleError, ParamError, RuleFileError, ContractError or AuditError before writing
    anything; `out` is only touched once every rule has run.
    """
    from fundguard.contract import load_dataset

    check_out(out)
    if engine == "spark":
        from fundguard.engine.backends.spark import run_audit_spark

        return run_audit_spark(
            dataset, out, kb=kb, rules=rules, params=params, params_file=params_file,
            progress=progress, registry=registry, spark_master=spark_master,
        )
    if engine != "duckdb":
        raise AuditError(f"未知的引擎 {engine!r} (可用: duckdb, spark)")
    started = dt.datetime.now(dt.UTC)
    registry = registry or load_registry()
    selected, bound = select_and_bind(registry, rules, params, params_file)

    kb_path, edition = _open_edition(kb)
    config = _duckdb_config()
    try:
        con = duckdb.connect(config=config)
    except duckdb.Error as exc:
        from fundguard.contract.load import short_reason

        names = ", ".join(f"{env}={os.environ[env]}" for env in _CONFIG_ENV if os.environ.get(env))
        raise AuditError(f"DuckDB 设置无效 ({names}): {short_reason(exc)}") from None
    # DuckDB draws its own progress bar on stderr, even in pipes; the CLI shows one per rule instead
    con.execute("SET enable_progress_bar = false")
    try:
        # the fee lines (the biggest table) are read in place from a clean, contract-typed Parquet file:
        # fee_lines holds the copy the rules read, so a second copy in memory would only crowd them
        report = load_dataset(Path(dataset), con, in_place=IN_PLACE_TABLES, require_rows=True)
        edition.register(con)
        confine(con, Path(dataset), Path(out).absolute().parent)
        kb_hash = edition.content_hash
        auditor = Auditor(con, kb_hash=kb_hash, kb_manifest=dict(edition.manifest),
                          absent_inputs=absent_inputs({n: (t.columns if t.file else None) for n, t in report.tables.items()}))
        inputs = {n: t.sha256 or "" for n, t in sorted(report.tables.items())}
        versions = {r.id: rule_version(r, bound[r.id]) for r in selected}
        run_id = compute_run_id(inputs, kb_hash, versions, kb_flags(selected, edition.manifest))
        t0 = time.perf_counter()
        auditor.prepare(selected)
        result = auditor.run(selected, bound, run_id=run_id, progress=progress)
        total_seconds = time.perf_counter() - t0
        _check_unchanged(Path(dataset), report)

        return write_run(
            out,
            auditor.backend,
            run_id=run_id,
            started=started,
            engine=engine,
            extra={"rule_library": str(registry.root),
                   "warnings": report.warnings + dataset_warnings({n: t.rows for n, t in report.tables.items()})
                   + sample_kb_warnings(selected, result, edition.tables) + unjudged_warnings(result)},
            dataset={
                # absolute: the web app reads the dataset for the evidence from wherever it is started
                "path": str(Path(dataset).resolve()),
                "tables": {n: {"rows": t.rows, "sha256": t.sha256, "file": t.file} for n, t in sorted(report.tables.items())},
            },
            kb={"path": str(Path(kb_path).resolve()), "content_hash": kb_hash, "manifest": edition.manifest},
            result=result,
            total_seconds=total_seconds,
        )
    finally:
        con.close()


def dataset_warnings(rows: dict[str, int]) -> list[str]:
    """What looks wrong with a dataset that passed the contract: recorded in run.json, printed by the CLI."""
    warnings = []
    if rows.get("mdtrt", 0) > 0 and rows.get("feedetl", 0) == 0:
        warnings.append(
            f"费用明细 feedetl 没有数据行, 而有 {rows['mdtrt']:,} 条就诊: 数据可能抽取不全; "
            "依据费用明细的规则 (如 D06 挂床住院把没有收费的住院日计为空床日) 的结果不可信"
        )
    if rows.get("mdtrt", 0) > 0 and rows.get("diag", 0) == 0:
        warnings.append(
            f"诊断表 diag 没有数据行, 而有 {rows['mdtrt']:,} 条就诊: 数据可能抽取不全; 依据诊断的规则的结果不可信 "
            "(A05 限适应症会把每条限适应症的明细都标为无相应诊断; A03、A04、D05、E02 等也读诊断); 只有药店购药的数据可忽略此提示"
        )
    return warnings


def unjudged_warnings(result: AuditResult) -> list[str]:
    """One line per rule that left lines unjudged for want of a value (its silence is not compliance)."""
    return [f"{s.id} {s.name}: {s.unjudged:,} 条受限项目明细缺少{s.unjudged_for}, 未能检查 (不计为合规)"
            for s in result.rules if s.unjudged]


def sample_kb_warnings(rules: list[Rule], result: AuditResult, tables: dict[str, Any]) -> list[str]:
    """A warning naming the rules that ran on knowledge tables holding only sample entries (`source =
    sample`): their flags rest on demonstration limits, not on national or the bureau's own knowledge."""
    import pyarrow.compute as pc

    ran = {s.id for s in result.rules if s.status == "ran"}
    only_sample: dict[str, bool] = {}  # per table, computed once however many rules read it
    by_table: dict[str, list[str]] = {}
    for rule in rules:
        if rule.id not in ran:
            continue
        for name in rule.kb_tables:
            if name not in only_sample:
                table = tables.get(name)
                only_sample[name] = (table is not None and table.num_rows > 0
                                     and set(pc.unique(table.column("source")).to_pylist()) == {"sample"})
            if only_sample[name]:
                by_table.setdefault(name, []).append(rule.id)
    if not by_table:
        return []
    listed = "、".join(f"{t}（{', '.join(ids)}）" for t, ids in sorted(by_table.items()))
    return [
        f"知识库表 {listed} 只有示例条目 (source = sample), 没有国家批次或本局的条目: 这些规则中依据这些表的疑点"
        "用的是演示用的限定值, 正式审核前请以本局叠加层补充这些表 (见 docs/kb.md“医保局叠加层”)"
    ]


def absent_inputs(columns: dict[str, list[str] | None]) -> set[str]:
    """The optional contract inputs a dataset lacks, from the columns each table's file has (None: no
    file): `table` for a missing optional table, `table.column` for a missing optional column (filled
    with NULL on reading, which would read as "no death date", "no DRG group")."""
    from fundguard.contract.tables import TABLES

    out: set[str] = set()
    for t in TABLES:
        present = columns.get(t.name)
        if present is None:
            if t.optional:
                out.add(t.name)
            continue
        out |= {f"{t.name}.{c.name}" for c in t.columns if c.optional and c.name not in present}
    return out


#: contract tables the DuckDB audit reads in place (see `load_dataset`)
IN_PLACE_TABLES = ("feedetl",)


def confine(con: duckdb.DuckDBPyConnection, *folders: Path) -> None:
    """From here on the connection touches files only in `folders` (the dataset, read in place; the folder
    that receives OUT) and its own spill files: rule SQL, a bureau's edited library included, cannot read
    or write anything else (`read_text('/etc/…')` fails with a permission error). Locked: no statement
    can lift it."""
    if folders:
        allowed = ", ".join("'" + (str(f.resolve()).rstrip("/") + "/").replace("'", "''") + "'" for f in folders)
        con.execute(f"SET allowed_directories = [{allowed}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _check_unchanged(directory: Path, report: LoadReport) -> None:
    """A table read in place was read again during the run: its file must still be the one hashed at
    load, or the flags would not belong to the recorded input."""
    from fundguard.contract.load import file_sha256

    for t in report.tables.values():
        if t.in_place and t.file and file_sha256(directory / t.file) != t.sha256:
            raise InputChangedError(f"输入文件 {t.file} 在审核期间被修改, 未写出结果 (请在文件不再变动时重新审核)")


#: the environment variables `_duckdb_config` reads (named when DuckDB refuses a setting)
_CONFIG_ENV = ("FUNDGUARD_MEMORY_LIMIT", "FUNDGUARD_THREADS", "FUNDGUARD_TEMP_DIR")


def _duckdb_config() -> dict[str, str]:
    """DuckDB settings from the environment: FUNDGUARD_MEMORY_LIMIT (e.g. `6GB`; DuckDB spills beyond
    it), FUNDGUARD_THREADS, FUNDGUARD_TEMP_DIR (where spills go; default the system temp folder)."""
    config: dict[str, str] = {}
    if os.environ.get("FUNDGUARD_MEMORY_LIMIT"):
        config["memory_limit"] = os.environ["FUNDGUARD_MEMORY_LIMIT"]
        config["temp_directory"] = os.environ.get("FUNDGUARD_TEMP_DIR") or tempfile.gettempdir()
    if os.environ.get("FUNDGUARD_THREADS"):
        config["threads"] = os.environ["FUNDGUARD_THREADS"]
    return config


def select_and_bind(
    registry: Registry,
    rules: list[str] | None,
    params: dict[str, dict[str, Any]] | None,
    params_file: Path | str | None,
) -> tuple[list[Rule], dict[str, dict[str, ParamValue]]]:
    """The selected rules and their bound parameters (`params` overrides, then the params file's)."""
    selected = registry.select(rules)
    overrides = {rid: dict(values) for rid, values in (params or {}).items()}
    if params_file:
        for rid, values in read_params_file(params_file).items():
            overrides.setdefault(rid, {}).update(values)
    try:
        return selected, bind_all(selected, overrides, registry)
    except (UnknownRuleError, ParamError) as exc:
        if params_file:  # the user fixes the file: name it
            raise _in_file(exc, params_file) from None
        raise


def _in_file(exc: Exception, params_file: Path | str) -> Exception:
    """The same error, its message prefixed with the params file it came from."""
    exc.args = (f"参数文件 {params_file}: {exc}",)
    return exc


def check_out(out: Path | str) -> None:
    """Fail before any work when `out` cannot receive `flags.parquet` and `run.json`."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AuditError(f"输出目录 {out} 已存在且不是目录")
    for name in OUT_FILES:
        target = out / name
        if target.exists() and not target.is_file():
            raise AuditError(f"输出目录中的 {target} 不是普通文件, 无法替换 (请移走它或换一个输出目录)")
    ancestor = out.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise AuditError(f"无法创建输出目录 {out}: {ancestor} 不是目录")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise AuditError(f"无法写出结果到 {out}: 没有 {ancestor} 的写权限")


#: what an audit writes into its output folder
OUT_FILES = ("flags.parquet", "run.json")


@contextlib.contextmanager
def interrupts_deferred():
    """Ctrl-C (SIGINT) held off while a finished run is written and published: the result is complete,
    and an interrupt between moving it into OUT and closing up would report "nothing written" over a
    published result (or break a file operation half-way). Main thread only (where Python takes signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.signal(signal.SIGINT, lambda *_: None)
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def write_run(
    out: Path | str,
    backend: Any,
    *,
    run_id: str,
    started: dt.datetime,
    engine: str,
    dataset: dict[str, Any],
    kb: dict[str, Any],
    result: AuditResult,
    total_seconds: float,
    extra: dict[str, Any] | None = None,
) -> dict:
    """Write `flags.parquet` (from the backend) and `run.json` into a temporary folder beside `out`, then
    move them into `out`: a reader never sees one without the other. Returns the run.json content."""
    with interrupts_deferred():
        return _write_run(out, backend, run_id=run_id, started=started, engine=engine, dataset=dataset, kb=kb,
                          result=result, total_seconds=total_seconds, extra=extra)


def _write_run(out, backend, *, run_id, started, engine, dataset, kb, result, total_seconds, extra) -> dict:
    out_path = Path(out)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", dir=out_path.parent))
        # mkdtemp makes a private (0700) folder; a new OUT gets the usual permissions (umask) instead
        os.chmod(tmp, 0o777 & ~process_umask())
    except OSError as exc:
        raise AuditError(f"无法写出结果到 {out_path}: {exc.strerror or exc}") from None
    try:
        backend.write_flags(tmp / "flags.parquet")
        run_json = {
            "run_id": run_id,
            "started": started.isoformat(timespec="seconds"),
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "engine": engine,
            "versions": software_versions(),
            **(extra or {}),
            "dataset": dataset,
            "kb": kb,
            "rules": [asdict(s) for s in result.rules],
            "totals": {
                "flags": result.flags,
                "vola_amt": f"{sum((Decimal(s.vola_amt) for s in result.rules), Decimal(0)):.2f}",
                "rules_ran": sum(1 for s in result.rules if s.status == "ran"),
                "rules_skipped": sum(1 for s in result.rules if s.status == "skipped"),
            },
            "timings": {"views_seconds": round(result.views_seconds, 4), "total_seconds": round(total_seconds, 4)},
        }
        (tmp / "run.json").write_text(json.dumps(run_json, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        _publish(tmp, out_path)
    except OSError as exc:
        raise AuditError(f"无法写出结果到 {out_path}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return run_json


def _publish(tmp: Path, out: Path) -> None:
    """Move the finished files into `out`. A fresh folder is renamed whole; a folder holding only an earlier
    run's files is swapped whole too (a reader sees the old pair, briefly no folder, or the new pair: never
    new flags beside an old run.json); a folder with other files of the user's gets the two files replaced."""
    if not out.exists():
        os.replace(tmp, out)
        return
    check_out(out)  # both targets replaceable before either is replaced
    if out.is_dir() and {p.name for p in out.iterdir()} <= set(OUT_FILES):
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, old / "run")
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
        return
    for name in OUT_FILES:
        os.replace(tmp / name, out / name)


@functools.cache
def engine_digest() -> str:
    """A hash of the code every rule's flags pass through besides the rule's own files and kind (the
    contract loader, the curated views, macros, flag assembly, both backends): a rule version says what
    a rule asks, this says what computed it, so two runs by different code never share a run_id."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted([*(root / "engine").rglob("*.py"), *(root / "contract").rglob("*.py")]):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def software_versions() -> dict[str, str]:
    """FundGuard's own version, the engines' and the engine code's digest (a run records what computed it)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("fundguard", "duckdb", "pyspark"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    out["engine_code"] = engine_digest()
    return out


def process_umask() -> int:
    """The process umask, read without setting it (os.umask would change it for every thread meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022
