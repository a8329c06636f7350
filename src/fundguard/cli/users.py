"""`fundguard users …`: create the first admin and manage users (roles: auditor, institution, admin)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fundguard.cli._common import EXIT_BAD_INPUT, err_console, out_console
from fundguard.workspace import AppConfig, Role, UserError, UserStore

users_app = typer.Typer(help="用户与角色 (审核员 auditor / 机构用户 institution / 管理员 admin)", no_args_is_help=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="数据库 URL (默认 WORKSPACE/fundguard.db 的 SQLite)")]
WsOpt = Annotated[Path, typer.Option("--workspace", "-w", help="工作区目录 (默认数据库所在处)")]


def _store(db: str | None, workspace: Path) -> UserStore:
    return UserStore.open(AppConfig(workspace=workspace, db_url=db).resolved_db_url())


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("密码", hide_input=True, confirmation_prompt=True)


def _create(username: str, role: Role, db: str | None, workspace: Path, password_stdin: bool,
            fixmedins: str | None = None, admdvs: str | None = None, name: str = "") -> None:
    store = _store(db, workspace)
    try:
        user = store.create(username, _password(password_stdin), role, fixmedins_code=fixmedins, admdvs=admdvs,
                            display_name=name)
    except UserError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    out_console.print(f"已创建 {user.role.label} {user.username}")


@users_app.command("create-admin")
def create_admin(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码 (一行)")] = False,
    db: DbOpt = None,
    workspace: WsOpt = Path("var/workspace"),
) -> None:
    """创建管理员 (首个管理员由此创建)。"""
    _create(username, Role.ADMIN, db, workspace, password_stdin)


@users_app.command("add")
def add(
    username: str,
    role: Annotated[Role, typer.Option("--role", help="auditor / institution / admin")] = Role.AUDITOR,
    fixmedins: Annotated[str | None, typer.Option("--fixmedins", help="机构用户绑定的定点医药机构编号")] = None,
    admdvs: Annotated[str | None, typer.Option("--admdvs", help="审核员的医保区划 (代码或前缀); 不填为全部")] = None,
    name: Annotated[str, typer.Option("--name", help="显示名")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码 (一行)")] = False,
    db: DbOpt = None,
    workspace: WsOpt = Path("var/workspace"),
) -> None:
    """添加用户。"""
    _create(username, role, db, workspace, password_stdin, fixmedins, admdvs, name)


@users_app.command("list")
def list_users(db: DbOpt = None, workspace: WsOpt = Path("var/workspace")) -> None:
    """列出用户。"""
    for u in _store(db, workspace).list():
        scope = u.fixmedins_code or (f"区划 {u.admdvs}" if u.admdvs else "全部")
        out_console.print(f"{u.username}\t{u.role.value}\t{scope}\t{'启用' if u.is_active else '停用'}")


@users_app.command("passwd")
def passwd(username: str, password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
           db: DbOpt = None, workspace: WsOpt = Path("var/workspace")) -> None:
    """修改密码 (该用户已有的会话随即失效)。"""
    try:
        _store(db, workspace).set_password(username, _password(password_stdin))
    except UserError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    out_console.print(f"已修改 {username} 的密码")


@users_app.command("disable")
def disable(username: str, db: DbOpt = None, workspace: WsOpt = Path("var/workspace")) -> None:
    """停用用户 (会话随即失效)。"""
    try:
        _store(db, workspace).set_active(username, False)
    except UserError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    out_console.print(f"已停用 {username}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
