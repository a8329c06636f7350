"""`fundguard flags summary OUT`: counts and amounts of an audit's flags by rule, institution and severity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fundguard.cli._common import EXIT_BAD_INPUT, err_console, out_console

flags_app = typer.Typer(help="疑点 Flags of an audit run.", no_args_is_help=True)

_GROUPS = {"rule": "rule_id", "institution": "fixmedins_code", "severity": "sev_deg"}


@flags_app.command("summary")
def summary(
    out: Annotated[Path, typer.Argument(help="审核输出目录 (含 flags.parquet)")],
    by: Annotated[str, typer.Option("--by", help="rule,institution,severity 中的一个或多个")] = "rule,institution,severity",
    top: Annotated[int, typer.Option("--top", min=1, help="每个分组最多列出的行数")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """按规则、机构、严重程度汇总疑点数量与金额 Summarise flags by rule, institution and severity."""
    import duckdb
    from rich.table import Table

    from fundguard.contract.load import short_reason

    path = out / "flags.parquet" if out.is_dir() else out
    if not path.exists():
        err_console.print(f"找不到 {path}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    if path.is_dir():
        err_console.print(f"{path} 是目录: 应为审核输出的 flags.parquet 文件", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    groups = [g.strip() for g in by.split(",") if g.strip()]
    bad = [g for g in groups if g not in _GROUPS]
    if bad:
        raise typer.BadParameter(f"未知分组 {', '.join(bad)} (可用: {', '.join(_GROUPS)})")
    con = duckdb.connect()
    try:
        con.execute("CREATE TEMP TABLE f AS SELECT * FROM read_parquet(?)", [str(path)])
        names = {r[0] for r in con.execute("DESCRIBE f").fetchall()}
    except duckdb.Error as exc:
        err_console.print(f"{path}: 文件损坏或不是 Parquet 文件 ({short_reason(exc, path)})", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    lacking = sorted({*_GROUPS.values(), "vola_amt"} - names)
    if lacking:
        err_console.print(f"{path}: 不是审核输出的疑点文件 (缺少列 {', '.join(lacking)})", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    result: dict[str, list[dict]] = {}
    distinct: dict[str, int] = {}
    for g in groups:
        col = _GROUPS[g]
        # count(*) OVER (): the number of groups, counted before LIMIT keeps the top ones
        rows = con.execute(
            f"SELECT CAST({col} AS VARCHAR) AS k, count(*) AS n, sum(vola_amt) AS amt, count(*) OVER () AS groups "  # noqa: S608
            "FROM f GROUP BY 1 ORDER BY amt DESC NULLS LAST, n DESC, k LIMIT ?",
            [top],
        ).fetchall()
        distinct[g] = rows[0][3] if rows else 0
        result[g] = [{"key": k, "flags": int(n), "vola_amt": f"{amt:.2f}"} for k, n, amt, _ in rows]
    total = con.execute("SELECT count(*), COALESCE(sum(vola_amt), 0) FROM f").fetchone()
    con.close()
    if as_json:
        out_console.print_json(json.dumps({"total": {"flags": total[0], "vola_amt": f"{total[1]:.2f}"}, **result}, ensure_ascii=False))
        return
    out_console.print(f"疑点共 {total[0]:,} 条, 涉及金额 {total[1]:.2f} 元", markup=False)
    for g, rows in result.items():
        shown = f" (共 {distinct[g]:,} 项, 列出金额最高的 {len(rows)} 项; --top 调整)" if distinct[g] > len(rows) else ""
        t = Table(title=f"按 {g}{shown}")
        t.add_column(g)
        t.add_column("疑点数", justify="right")
        t.add_column("金额(元)", justify="right")
        for r in rows:
            t.add_row(r["key"] or "-", f"{r['flags']:,}", r["vola_amt"])
        out_console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(flags_app, name="flags")
