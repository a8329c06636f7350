"""`fundguard kb build|summary`: build a knowledge edition and print what it holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fundguard.cli import EXIT_BAD_INPUT
from fundguard.cli._common import err_console, out_console
from fundguard.kb import Edition, KbError, build_edition, default_edition_path

kb_app = typer.Typer(help="知识库版本：构建与概览", no_args_is_help=True)


@kb_app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", help="输出目录（知识库版本）")],
    name: Annotated[str, typer.Option("--name", help="版本名称")] = "default",
    overlay: Annotated[list[Path] | None, typer.Option(
        "--overlay", help="医保局目录导出目录（CSV/Parquet，按表名命名），可多次指定，后者优先")] = None,
) -> None:
    """从国家两库批次与样例数据构建知识库版本，可叠加本地目录。"""
    try:
        manifest = build_edition(out, name=name, overlays=overlay or ())
    except (KbError, OSError) as exc:
        err_console.print(f"[red]构建失败：{exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    total = sum(manifest.row_counts.values())
    report = Path(out) / "unparsed.csv"
    out_console.print(f"已构建知识库版本 {manifest.name} → {out}", soft_wrap=True)
    out_console.print(f"共 {len(manifest.row_counts)} 张表、{total} 行；内容哈希 {manifest.content_hash}",
                      soft_wrap=True)
    out_console.print(f"未能解析的条目 {manifest.unparsed_count} 条，见 {report}（{report.stat().st_size} 字节）",
                      soft_wrap=True)


def _summary(edition: Edition) -> dict:
    manifest = edition.manifest
    unparsed = edition.unparsed_path
    return {
        "name": manifest["name"],
        "path": str(edition.path),
        "content_hash": manifest["content_hash"],
        "built_at": manifest["built_at"],
        "hilist_complete": manifest["hilist_complete"],
        "row_counts": {name: table.num_rows for name, table in sorted(edition.tables.items())},
        "layers": [layer["name"] for layer in manifest.get("layers", [])],
        "unparsed": {
            "count": manifest.get("unparsed_count", 0),
            "by_reason": manifest.get("unparsed_by_reason", {}),
            "file": str(unparsed),
            "file_bytes": unparsed.stat().st_size if unparsed.exists() else 0,
        },
    }


@kb_app.command("summary")
def summary(
    edition: Annotated[Path | None, typer.Option("--edition", help="知识库版本目录（默认：内置默认版本）")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出")] = False,
) -> None:
    """打印每张表的行数、版本内容哈希和未解析条目统计。"""
    try:
        opened = Edition.open(edition if edition is not None else default_edition_path())
    except (KbError, OSError) as exc:
        err_console.print(f"[red]无法打开知识库版本：{exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    data = _summary(opened)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"知识库版本 {data['name']}（{data['path']}）")
    table.add_column("表")
    table.add_column("行数", justify="right")
    for name, count in data["row_counts"].items():
        table.add_row(name, str(count))
    out_console.print(table)
    out_console.print(f"内容哈希：{data['content_hash']}", soft_wrap=True)
    out_console.print(f"目录完整（hilist_complete）：{'是' if data['hilist_complete'] else '否'}")
    unparsed = data["unparsed"]
    out_console.print(f"未解析条目：{unparsed['count']} 条（{unparsed['file']}，{unparsed['file_bytes']} 字节）",
                      soft_wrap=True)
    for reason, count in unparsed["by_reason"].items():
        out_console.print(f"  {reason}：{count}")


def register(app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")
