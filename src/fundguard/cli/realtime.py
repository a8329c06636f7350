"""`fundguard history load`, `fundguard realtime stats`, `fundguard institutions register|list`:
the real-time service's history store, published figures and callers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fundguard.cli._common import EXIT_BAD_INPUT, EXIT_USAGE, err_console, out_console

#: the workspace `fundguard serve` uses by default: these commands write where the server reads
DEFAULT_WORKSPACE = Path("var/workspace")

history_app = typer.Typer(help="实时审核的参保人历史库 (按 psn_no)", no_args_is_help=True)
realtime_app = typer.Typer(help="实时审核 (事前提醒 / 事中审核) 的统计", no_args_is_help=True)
institutions_app = typer.Typer(help="调用实时接口的定点医药机构及其密钥", no_args_is_help=True)

DbOption = Annotated[str | None, typer.Option("--db", envvar="FUNDGUARD_RT_DB",
                                              help="调用日志数据库 (SQLAlchemy URL; 默认与 fundguard serve 相同: WORKSPACE/fundguard.db)")]
WsOption = Annotated[Path, typer.Option("--workspace", "-w", help="fundguard serve 的工作区目录")]


def _db_url(db: str | None, workspace: Path) -> str:
    """`db`, else the call-log database `fundguard serve --workspace WORKSPACE` uses (FUNDGUARD_DB_URL included)."""
    from fundguard.workspace import AppConfig

    return AppConfig(workspace=workspace, db_url=db).resolved_db_url()


@history_app.command("load")
def history_load(
    dataset: Annotated[Path, typer.Argument(help="符合数据契约的数据集目录 (已结算的就诊与费用明细)")],
    store: Annotated[Path | None, typer.Option("--store", envvar="FUNDGUARD_RT_HISTORY",
                                               help="历史库文件 (默认 WORKSPACE/history.sqlite, fundguard serve 读取之处)")] = None,
    workspace: WsOption = DEFAULT_WORKSPACE,
) -> None:
    """校验数据集并整体替换历史库 (原子替换, 运行中的服务下次查询即用新库)。"""
    from fundguard.contract.load import ContractError
    from fundguard.realtime.history import load_history

    if not dataset.is_dir():
        err_console.print(f"[red]不是目录: {dataset}")
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        summary = load_history(dataset, store or workspace / "history.sqlite")
    except ContractError as exc:
        err_console.print(f"[red]数据集不符合契约, 历史库未改动:\n{exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    out_console.print(
        f"历史库 {summary.path}: {summary.persons} 位参保人, {summary.encounters} 次就诊, "
        f"{summary.fee_lines} 条费用明细 ({summary.seconds:.1f} 秒)", soft_wrap=True)


@realtime_app.command("stats")
def realtime_stats(
    by: Annotated[str, typer.Option("--by", help="分组: rule | institution | doctor | day")] = "rule",
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
    db: DbOption = None,
    workspace: WsOption = DEFAULT_WORKSPACE,
) -> None:
    """提醒次数、违规、可疑提醒、医生反馈 (继续执行 / 返回修改), 按规则、机构、医生或日期。"""
    from fundguard.realtime.store import RealtimeStore

    if by not in ("rule", "institution", "doctor", "day"):
        err_console.print(f"[red]--by 应为 rule, institution, doctor 或 day, 得到 {by!r}")
        raise typer.Exit(EXIT_USAGE)
    store = RealtimeStore(_db_url(db, workspace), background=False)
    try:
        rows = store.stats(by)
    finally:
        store.close()
    if as_json:
        out_console.print_json(json.dumps(rows, ensure_ascii=False, default=str))
        return
    labels = {by: {"rule": "规则", "institution": "机构", "doctor": "医生", "day": "日期"}[by], "calls": "调用",
              "calls_with_reminders": "触发提醒的调用", "reminders": "提醒", "violations": "明确违规",
              "warnings": "可疑提醒", "vola_amt": "涉及金额", "feedback": "反馈", "continued": "继续执行",
              "modified": "返回修改"}
    table = Table(title=f"实时审核统计 (按{labels[by]})")
    for key, text in labels.items():
        table.add_column(text, justify="left" if key == by else "right")
    for r in rows:
        table.add_row(*("-" if r[k] is None else str(r[k]) for k in labels))
    out_console.print(table)


@institutions_app.command("register")
def institutions_register(
    code: Annotated[str, typer.Argument(help="定点医药机构编号 (fixmedins_code)")],
    secret: Annotated[str | None, typer.Option("--secret", help="指定密钥 (默认随机生成)")] = None,
    paasid: Annotated[str | None, typer.Option("--paasid", help="x-tif-paasid (默认为机构编号)")] = None,
    name: Annotated[str | None, typer.Option("--name", help="机构名称")] = None,
    db: DbOption = None,
    workspace: WsOption = DEFAULT_WORKSPACE,
) -> None:
    """登记 (或更换密钥) 一家机构; 密钥只在此显示一次。"""
    from fundguard.realtime.store import RealtimeStore

    if not code.strip() or (secret is not None and len(secret) < 16):
        err_console.print("[red]机构编号不能为空; 密钥至少 16 个字符")
        raise typer.Exit(EXIT_BAD_INPUT)
    store = RealtimeStore(_db_url(db, workspace), background=False)
    try:
        pid, key = store.register_institution(code.strip(), secret=secret, paasid=paasid, name=name)
    finally:
        store.close()
    out_console.print(f"已登记机构 {code}: x-tif-paasid = {pid}", soft_wrap=True)
    if secret is None:
        out_console.print(f"密钥 (只显示这一次, 请安全转交机构): {key}", soft_wrap=True)


@institutions_app.command("list")
def institutions_list(db: DbOption = None, workspace: WsOption = DEFAULT_WORKSPACE) -> None:
    """已登记的机构 (不显示密钥)。"""
    from fundguard.realtime.store import RealtimeStore

    store = RealtimeStore(_db_url(db, workspace), background=False)
    try:
        rows = store.institutions()
    finally:
        store.close()
    for r in rows:
        out_console.print(f"{r['fixmedins_code']}\tpaasid={r['paasid']}\t{'启用' if r['active'] else '停用'}\t{r['name'] or ''}")


def register(app: typer.Typer) -> None:
    app.add_typer(history_app, name="history")
    app.add_typer(realtime_app, name="realtime")
    app.add_typer(institutions_app, name="institutions")
