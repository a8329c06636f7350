"""`fundguard demo`: synthetic dataset → audit → demo users → the web app on 127.0.0.1:8000.

Everything goes under `./var/demo/` and is reused on the next run (`--fresh` starts over). A piece
that is not installed is skipped with a message, and the rest still runs.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Annotated

import typer

from fundguard.cli._common import EXIT_BAD_INPUT, err_console, out_console
from fundguard.workspace import AppConfig, Role, Scope, UserStore, Workspace, generate_password

DEMO_DIR = Path("var/demo")


def _step(msg: str) -> None:
    err_console.print(f"[bold cyan]▶[/bold cyan] {msg}")


def make_dataset(folder: Path, persons: int, seed: int) -> bool:
    marker = folder / ".complete"
    if marker.exists():
        _step(f"沿用合成数据 {folder}")
        return True
    try:
        from fundguard.synth import generate
    except ImportError:
        err_console.print("[yellow]合成数据模块 (fundguard.synth) 尚未安装, 跳过数据生成[/yellow]")
        return False
    _step(f"生成合成数据: {persons} 名参保人, 12 个月 → {folder}")
    if folder.exists():
        shutil.rmtree(folder)
    t0 = time.perf_counter()
    generate(folder, persons=persons, seed=seed)
    marker.write_text(json.dumps({"persons": persons, "seed": seed}), encoding="utf-8")
    err_console.print(f"  完成, 用时 {time.perf_counter() - t0:.1f} 秒")
    return True


def run_audit_step(dataset: Path, out: Path) -> bool:
    if (out / "run.json").exists() and (out / "flags.parquet").exists():
        _step(f"沿用审核结果 {out}")
        return True
    try:
        from fundguard.engine import run_audit
    except ImportError:
        err_console.print("[yellow]审核引擎 (fundguard.engine) 尚未安装, 跳过审核[/yellow]")
        return False
    _step(f"审核 (事后监管, 全部规则) → {out}")
    t0 = time.perf_counter()
    result = run_audit(dataset, out)
    totals = result.get("totals", {})
    err_console.print(f"  {totals.get('flags', 0)} 条疑点, 金额 {totals.get('vola_amt', '0.00')} 元, "
                      f"用时 {time.perf_counter() - t0:.1f} 秒")
    return True


def demo_users(store: UserStore, workspace: Path) -> list[tuple[str, str, str]]:
    """Demo admin, auditor and an institution user (for the institution with most flags), with new passwords."""
    ws = Workspace(workspace)
    ws.prepare()
    top_org = None
    latest = ws.latest()
    if latest is not None and latest.index is not None:
        rows = latest.index.institutions(Scope())
        top_org = next((r["fixmedins_code"] for r in rows if r["fixmedins_code"]), None)
    wanted = [("admin", Role.ADMIN, None), ("auditor", Role.AUDITOR, None)]
    if top_org:
        wanted.append((f"inst_{top_org}", Role.INSTITUTION, top_org))
    out = []
    for username, role, org in wanted:
        password = generate_password()
        if store.by_name(username) is None:
            store.create(username, password, role, fixmedins_code=org, display_name={
                Role.ADMIN: "演示管理员", Role.AUDITOR: "演示审核员", Role.INSTITUTION: f"演示机构用户 {org}"}[role])
        else:
            store.set_password(username, password)
            store.set_active(username, True)
        out.append((username, password, role.label + (f" · {org}" if org else "")))
    return out


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        persons: Annotated[int, typer.Option(help="合成参保人数")] = 20_000,
        seed: Annotated[int, typer.Option(help="随机种子")] = 7,
        folder: Annotated[Path, typer.Option("--dir", help="演示数据目录")] = DEMO_DIR,
        host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="端口")] = 8000,
        fresh: Annotated[bool, typer.Option("--fresh", help="删除已有演示数据, 重新生成")] = False,
        serve: Annotated[bool, typer.Option("--serve/--no-serve", help="完成后启动 Web 应用")] = True,
    ) -> None:
        """演示: 生成约 2 万参保人一年的合成数据, 审核, 并在 127.0.0.1:8000 提供 Web 应用。"""
        if fresh and folder.exists():
            shutil.rmtree(folder)
        dataset, workspace = folder / "dataset", folder / "workspace"
        workspace.mkdir(parents=True, exist_ok=True)
        have_data = make_dataset(dataset, persons, seed)
        if have_data:
            run_audit_step(dataset, workspace / "audit")
        config = AppConfig(workspace=workspace)
        _step("准备数据库与演示用户")
        store = UserStore.open(config.resolved_db_url())
        try:
            users = demo_users(store, workspace)
        except Exception as exc:
            err_console.print(f"[red]演示用户创建失败: {exc}[/red]")
            raise typer.Exit(EXIT_BAD_INPUT) from exc
        address = f"http://{host}:{port}/"
        out_console.print("")
        if serve:
            out_console.print(f"[bold green]FundGuard 演示[/bold green]: 在浏览器打开 {address}")
        else:
            out_console.print(f"[bold green]FundGuard 演示已准备好[/bold green] (未启动服务): fundguard serve -w {workspace.resolve()}")
        out_console.print("登录 (密码每次运行 demo 时重新生成):")
        for username, password, label in users:
            out_console.print(f"  用户名 [bold]{username}[/bold]  密码 [bold]{password}[/bold]  ({label})")
        out_console.print(f"数据与数据库: {folder.resolve()}" + (f"  · API: {address}api/v1/openapi.json  · Ctrl+C 退出" if serve else ""))
        if serve:
            from fundguard.cli.serve import run_server

            run_server(config, host, port)
