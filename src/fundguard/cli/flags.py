"""`fundguard flags summary OUT`: counts and amounts of an audit's flags by rule, institution and severity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fundguard.cli._common import EXIT_BAD_INPUT, OVERLAP_NOTE, err_console, out_console

flags_app = typer.Typer(help="疑点 Flags of an audit run.", no_args_is_help=True)

#: --by value → (column, table heading)
_GROUPS = {"rule": ("rule_id", "规则"), "institution": ("fixmedins_code", "机构"), "severity": ("sev_deg", "严重程度")}


def _rule_names(folder: Path) -> dict[str, str]:
    """Rule id → Chinese name: from the run's own run.json (the library it ran), else the built-in library."""
    try:
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        names = {r["id"]: r["name"] for r in run.get("rules", []) if r.get("name")}
        if names:
            return names
    except (OSError, ValueError, TypeError, KeyError):
        pass
    from fundguard.engine import load_registry

    return {r.id: r.name for r in load_registry()}


def _label(group: str, key: str | None, rule_names: dict[str, str]) -> str | None:
    from fundguard.engine.rule import Severity

    if key is None:
        return None
    if group == "rule":
        return rule_names.get(key)
    if group == "severity" and key in ("1", "2", "3"):
        return Severity(int(key)).label
    return None


@flags_app.command("summary")
def summary(
    out: Annotated[Path, typer.Argument(help="审核输出目录 (含 flags.parquet)")],
    by: Annotated[str, typer.Option("--by", help="rule,institution,severity 中的一个或多个")] = "rule,institution,severity",
    top: Annotated[int | None, typer.Option("--top", min=1, help="每个分组最多列出的行数 (表格默认 20; --json 默认全部)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON 输出 (金额为两位小数的文本)")] = False,
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
    lacking = sorted({*(c for c, _ in _GROUPS.values()), "vola_amt"} - names)
    if lacking:
        err_console.print(f"{path}: 不是审核输出的疑点文件 (缺少列 {', '.join(lacking)})", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    limit = top if top is not None else (None if as_json else 20)
    rule_names = _rule_names(path.parent) if "rule" in groups else {}
    result: dict[str, list[dict]] = {}
    distinct: dict[str, int] = {}
    for g in groups:
        col = _GROUPS[g][0]
        # severities in their own order (1 明确违规 first); other groups by amount. count(*) OVER (): the
        # number of groups, counted before LIMIT keeps the top ones
        order = "k" if g == "severity" else "amt DESC NULLS LAST, n DESC, k"
        rows = con.execute(
            f"SELECT CAST({col} AS VARCHAR) AS k, count(*) AS n, sum(vola_amt) AS amt, count(*) OVER () AS groups "  # noqa: S608
            f"FROM f GROUP BY 1 ORDER BY {order} LIMIT ?",
            [limit if limit is not None else 2**62],
        ).fetchall()
        distinct[g] = rows[0][3] if rows else 0
        result[g] = [{"key": k, "name": _label(g, k, rule_names), "flags": int(n), "vola_amt": f"{amt:.2f}"}
                     for k, n, amt, _ in rows]
    total = con.execute("SELECT count(*), COALESCE(sum(vola_amt), 0) FROM f").fetchone()
    con.close()
    if as_json:
        body = {"total": {"flags": total[0], "vola_amt": f"{total[1]:.2f}"}, "groups": distinct, **result}
        out_console.print_json(json.dumps(body, ensure_ascii=False))
        return
    out_console.print(f"疑点共 {total[0]:,} 条, 涉及金额 {total[1]:.2f} 元", markup=False)
    out_console.print(OVERLAP_NOTE, markup=False)
    for g, rows in result.items():
        heading = _GROUPS[g][1]
        shown = f" (共 {distinct[g]:,} 项, 列出金额最高的 {len(rows)} 项; --top 调整)" if distinct[g] > len(rows) else ""
        t = Table(title=f"按{heading}{shown}")
        t.add_column(heading)
        if g != "institution":
            t.add_column("名称")
        t.add_column("疑点数", justify="right")
        t.add_column("金额(元)", justify="right")
        for r in rows:
            key = r["key"] or ("(无机构)" if g == "institution" else "-")
            cells = [key] + ([r["name"] or ""] if g != "institution" else []) + [f"{r['flags']:,}", r["vola_amt"]]
            t.add_row(*cells)
        out_console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(flags_app, name="flags")
