"""`fundguard audit DIR --out OUT`: post-event (事后) audit of a dataset with the rule library."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from fundguard.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    OVERLAP_NOTE,
    RulesDirOption,
    err_console,
    out_console,
    progress_bar,
)


def audit(
    directory: Annotated[str, typer.Argument(help="数据目录 dataset folder (Spark: also hdfs://, s3a://… URIs)")],
    out: Annotated[Path, typer.Option("--out", help="输出目录: flags.parquet 与 run.json")],
    kb: Annotated[Path | None, typer.Option("--kb", help="知识库版本目录 knowledge edition (default: built-in)")] = None,
    rules: Annotated[
        list[str] | None, typer.Option("--rules", help="只运行这些规则, 如 A01,B02 (可重复: --rules A01 --rules B02)")
    ] = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb | spark")] = "duckdb",
    params: Annotated[Path | None, typer.Option("--params", help="参数覆盖文件 YAML/JSON {A01: {param: value}}")] = None,
    spark_master: Annotated[
        str | None, typer.Option("--spark-master", help="Spark master (--engine spark): local[4], yarn, spark://host:7077")
    ] = None,
    rules_dir: RulesDirOption = None,
) -> None:
    """事后审核 Audit a dataset: writes OUT/flags.parquet and OUT/run.json (nothing unless the run completes)."""
    import duckdb

    from fundguard.contract import ContractError
    from fundguard.engine import (
        AuditError,
        ParamError,
        RuleFileError,
        UnknownRuleError,
        load_registry,
        run_audit,
    )
    from fundguard.engine.backends.duckdb import RuleRuntimeError
    from fundguard.engine.run import InputChangedError
    from fundguard.kb import KbError

    if spark_master is not None and engine != "spark":
        # a master without the engine would silently audit on this machine with DuckDB
        err_console.print(f"--spark-master 只用于 --engine spark (当前引擎: {engine})", markup=False)
        raise typer.Exit(EXIT_USAGE)
    ids = None
    if rules is not None:
        ids = [r.strip() for given in rules for r in given.split(",") if r.strip()]
        if not ids:
            err_console.print("--rules 为空: 请给出规则编号, 如 --rules A01,B02 (不加 --rules 则运行全部规则)", markup=False)
            raise typer.Exit(EXIT_USAGE)
    with progress_bar() as bar:
        # until the first rule runs: the contract check, the load and the curated views
        task = bar.add_task("校验与加载数据、建视图", total=None)

        def on_rule(rule_id: str, done: int, total: int) -> None:
            bar.update(task, total=total, completed=done, description=f"规则 {rule_id}")

        started = time.perf_counter()
        begun = time.time()
        try:
            registry = load_registry(rules_dir) if rules_dir is not None else None
            run = run_audit(
                directory, out, kb=kb, rules=ids, params_file=params, engine=engine, progress=on_rule,
                spark_master=spark_master, registry=registry,
            )
        except (ContractError, InputChangedError, KbError, RuleFileError, RuleRuntimeError) as exc:
            err_console.print(str(exc), markup=False)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except (UnknownRuleError, ParamError, AuditError) as exc:
            err_console.print(str(exc), markup=False)
            raise typer.Exit(EXIT_USAGE) from None
        except duckdb.OutOfMemoryException:
            limit = os.environ.get("FUNDGUARD_MEMORY_LIMIT")
            err_console.print(
                f"内存不足, 未写出结果: DuckDB 超出内存上限 ({'FUNDGUARD_MEMORY_LIMIT=' + limit if limit else '默认为本机内存的 80%'})。"
                "请调大 FUNDGUARD_MEMORY_LIMIT, 或减少 FUNDGUARD_THREADS (每个线程各占内存), 或为 FUNDGUARD_TEMP_DIR 留出溢写空间",
                markup=False,
            )
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except (duckdb.IOException, OSError) as exc:
            # a full disk or a folder that went away mid-run: nothing was written to OUT
            from fundguard.contract.load import short_reason

            err_console.print(f"读写文件失败, 未写出结果: {short_reason(exc)}", markup=False)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except (KeyboardInterrupt, duckdb.InterruptException, RuntimeError) as exc:
            # Ctrl-C inside a DuckDB query surfaces as RuntimeError("Query interrupted")
            if isinstance(exc, RuntimeError) and "Query interrupted" not in str(exc):
                raise
            run = _published_since(Path(out), begun)
            if run is None:
                err_console.print("审核已中断, 未写出结果", markup=False)
                raise typer.Exit(EXIT_INTERRUPTED) from None
            # the interrupt came as the finished run was being closed up: OUT holds it whole
    totals = run["totals"]
    seconds = time.perf_counter() - started
    lines = (run.get("dataset", {}).get("tables", {}).get("feedetl") or {}).get("rows")
    pace = f", {lines:,} 条费用明细, 用时 {seconds:.1f} 秒 ({lines / seconds:,.0f} 条/秒)" if lines and seconds > 0 else ""
    out_console.print(
        f"审核完成 run {run['run_id']}: {totals['rules_ran']} 条规则运行, {totals['rules_skipped']} 条跳过, "
        f"疑点 {totals['flags']:,} 条, 涉及金额 {totals['vola_amt']} 元{pace} → {out}",
        markup=False,
    )
    for r in run["rules"]:
        if r["status"] == "skipped":
            err_console.print(f"  跳过 {r['id']}: {r['reason']}", markup=False)
    if totals["flags"]:
        err_console.print(f"  {OVERLAP_NOTE}", markup=False)
    for warning in run.get("warnings", []):
        err_console.print(f"  注意: {warning}", markup=False)


def _published_since(out: Path, begun: float) -> dict | None:
    """The run.json in `out` if this command published it (written after `begun`, a time.time()), else None."""
    import json

    path = out / "run.json"
    try:
        if path.stat().st_mtime < begun:
            return None  # an earlier run's
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return run if isinstance(run, dict) and "totals" in run else None


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
