"""`fundguard validate` and `fundguard docs build`: check a dataset; regenerate generated docs."""

from __future__ import annotations

import errno
import json
import tempfile
from pathlib import Path
from typing import Annotated

import duckdb
import typer

from fundguard.cli._common import EXIT_BAD_INPUT, EXIT_USAGE, err_console, out_console
from fundguard.contract import ContractError, load_dataset
from fundguard.contract.docs import render_markdown
from fundguard.contract.load import dataset_dir_issue, short_reason

docs_app = typer.Typer(help="生成文档 Generated documentation.", no_args_is_help=True)


_ERRNO_WORDS = {
    errno.EACCES: "没有写入权限",
    errno.EPERM: "没有写入权限",
    errno.EROFS: "只读文件系统",
    errno.ENOSPC: "磁盘空间不足",
    errno.ENOENT: "此处不能创建文件",
}


def _output_path_problem(path: Path, what: str, *, create_parents: bool) -> str | None:
    """Why the file `path` cannot be written (before any load work starts), or None. `create_parents`:
    missing folders are created on write (the rejects file); otherwise the folder must exist (DuckDB)."""
    if path.is_dir():
        return f"{what} {path} 是一个目录，应为文件路径"
    folder = path.absolute().parent
    if not create_parents and not folder.exists():
        return f"{what} {path} 无法创建: 目录 {folder} 不存在"
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        return f"{what} {path} 无法创建: {folder} 是文件，不是目录"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        reason = _ERRNO_WORDS.get(exc.errno or 0, exc.strerror or str(exc))
        return f"{what} {path} 无法创建: 不能写入目录 {folder} ({reason})"
    return None


def _usage_error(message: str) -> typer.Exit:
    err_console.print(message, style="bold red", markup=False, highlight=False)
    return typer.Exit(EXIT_USAGE)


def validate(
    directory: Annotated[Path, typer.Argument(help="数据目录 dataset folder (one .parquet or .csv per table)")],
    lenient: Annotated[bool, typer.Option("--lenient", help="宽松模式: 拒绝的行写入 rejects 文件，其余照常加载")] = False,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="rejects file (.csv or .parquet); default ./rejects.csv")
    ] = None,
    db: Annotated[Path | None, typer.Option("--db", help="keep the loaded tables in this DuckDB file")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the load report as JSON")] = False,
) -> None:
    """校验数据集是否符合数据契约 Check a dataset against the data contract (all-or-nothing load)."""
    # output paths first: a path that cannot be written is a usage error, found before any load work
    if lenient:
        problem = _output_path_problem(rejects or Path.cwd() / "rejects.csv", "rejects 文件", create_parents=True)
        if problem:
            raise _usage_error(problem)
    if db is not None:
        problem = _output_path_problem(db, "数据库文件", create_parents=False)
        if problem:
            raise _usage_error(problem)
    bad_dir = dataset_dir_issue(directory)
    if bad_dir is not None:
        err_console.print(str(bad_dir), markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    new_db = db is not None and not db.exists()
    try:
        con = duckdb.connect(str(db) if db else ":memory:")
    except duckdb.Error as exc:
        raise _usage_error(f"数据库文件 {db} 无法打开 ({short_reason(exc)})") from None
    con.execute("SET enable_progress_bar = false")  # quiet in pipes; the command reports the result
    try:
        report = load_dataset(directory, con, lenient=lenient, rejects_path=rejects, require_rows=True)
    except ContractError as exc:
        if as_json:  # a JSON reader gets the problems too, not an empty stdout
            out_console.print_json(json.dumps({
                "ok": False, "total": exc.total,
                "issues": [{"file": i.file, "row": i.row, "column": i.column, "message": i.message} for i in exc.issues],
            }, ensure_ascii=False))
        for issue in exc.issues:
            err_console.print(str(issue), markup=False, highlight=False)
        if exc.total > len(exc.issues):
            err_console.print(f"…共 {exc.total} 个问题，仅列出前 {len(exc.issues)} 个", markup=False)
        err_console.print(f"校验失败: {exc.total} 个问题，未加载任何数据。", style="bold red")
        con.close()
        if new_db:  # nothing loaded: leave no empty database file behind
            for leftover in (db, db.with_name(db.name + ".wal")):
                leftover.unlink(missing_ok=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        con.close()
    if as_json:
        out_console.print_json(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        for name, t in report.tables.items():
            if t.file:
                out_console.print(f"{name:<13} {t.rows:>12,} 行  ({t.file})", markup=False)
    for warning in report.warnings:
        err_console.print(f"注意: {warning}", style="bold yellow", markup=False, highlight=False)
    if report.rejected:
        err_console.print(
            f"宽松模式: {report.rejected} 行被拒绝，原因见 {report.rejects_path}", style="bold yellow", markup=False
        )
        # most of a table rejected is usually one systematic export problem (a column in another form), not bad rows
        for name, t in report.tables.items():
            if t.rejected and t.rejected >= t.rows:
                err_console.print(
                    f"注意: {name} 有 {t.rejected:,} 行被拒绝, 只加载了 {t.rows:,} 行 — 多半是整列格式的问题 (见拒绝原因), "
                    "请修正导出后重新校验", style="bold red", markup=False,
                )
    else:
        out_console.print("校验通过 ✓")


@docs_app.command("build")
def docs_build(
    out: Annotated[Path, typer.Option("--out", help="文档目录 docs folder")] = Path("docs"),
) -> None:
    """重新生成数据契约文档 Regenerate docs/data-contract.md from the contract code."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "data-contract.md").write_text(render_markdown(), encoding="utf-8")
    out_console.print(f"已写出 {out / 'data-contract.md'}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.add_typer(docs_app, name="docs")
