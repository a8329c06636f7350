"""`fundguard serve`: the web app and the HTTP API (and the national real-time interfaces when installed)."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from fundguard.cli._common import EXIT_USAGE, RulesDirOption, err_console, load_rule_library
from fundguard.workspace import AppConfig

# The doors are independent packages: the CLI names the app factory like uvicorn does ("module:function").
APP_FACTORY = "fundguard.api.app:create_app"


def build_app(config: AppConfig):
    module, _, func = APP_FACTORY.partition(":")
    return getattr(importlib.import_module(module), func)(config)


def run_server(config: AppConfig, host: str, port: int) -> None:
    import threading

    import uvicorn

    from fundguard.logs import show_on_console

    # FundGuard's own progress (index builds at start, the real-time call log) beside uvicorn's lines
    show_on_console()

    app = build_app(config)
    if config.index_in_background:
        # the server answers at once; a run's pages say "索引建立中" until its flag index is ready
        threading.Thread(target=app.state.services.index_runs, name="fundguard-index", daemon=True).start()
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False, server_header=False,
                log_config=access_log_without_queries())


class _NoQuery(logging.Filter):
    """Access-log lines without the query string: a search by `psn_no` or `mdtrt_id` must not write the
    identifier to the server's log (the app's own access log records who viewed what)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], args[2].split("?", 1)[0] + "?…", args[3], args[4])
        return True


def access_log_without_queries() -> dict:
    """uvicorn's logging configuration with `_NoQuery` on its access handler."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["no_query"] = {"()": _NoQuery}
    config["handlers"]["access"]["filters"] = ["no_query"]
    return config


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        workspace: Annotated[Path, typer.Option("--workspace", "-w", help="审核结果所在目录 (含 run.json 与 flags.parquet 的目录或其上级)")] = Path("var/workspace"),
        db: Annotated[str | None, typer.Option("--db", help="数据库 URL (默认 WORKSPACE/fundguard.db 的 SQLite; PostgreSQL: postgresql+psycopg://…)")] = None,
        host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="端口")] = 8000,
        no_auth: Annotated[bool, typer.Option("--no-auth", help="不要求登录 (仅限本机演示与开发)")] = False,
        https_only: Annotated[bool, typer.Option("--https-only", help="会话 Cookie 仅经 HTTPS 发送 (在 HTTPS 反向代理之后)")] = False,
        rebuild_index: Annotated[bool, typer.Option("--rebuild-index", help="重建疑点索引")] = False,
        rules_dir: RulesDirOption = None,
        psn_search_limit: Annotated[int | None, typer.Option(
            "--psn-search-limit", min=0,
            help="脱敏角色按参保人编号精确查询的上限: 每个时间窗内不同编号的个数 (默认 30, 或 FUNDGUARD_PSN_SEARCH_LIMIT)")] = None,
        psn_search_window: Annotated[int | None, typer.Option(
            "--psn-search-window", min=1,
            help="上述时间窗, 秒 (默认 600, 或 FUNDGUARD_PSN_SEARCH_WINDOW)")] = None,
    ) -> None:
        """启动 Web 应用与 HTTP API (/api/v1/, OpenAPI: /api/v1/openapi.json)。"""
        if no_auth and host not in ("127.0.0.1", "localhost", "::1"):
            err_console.print("[red]--no-auth 只允许监听本机地址 (127.0.0.1)[/red]")
            raise typer.Exit(EXIT_USAGE)
        if rules_dir is not None:
            load_rule_library(rules_dir)  # a bad library stops the start, before anything listens
        workspace.mkdir(parents=True, exist_ok=True)
        config = AppConfig(workspace=workspace, db_url=db, no_auth=no_auth, https_only=https_only,
                           rebuild_index=rebuild_index, rules_dir=rules_dir, index_in_background=True,
                           psn_search_limit=psn_search_limit, psn_search_window=psn_search_window)
        try:
            config.resolved_psn_search_limit()
        except ValueError as exc:  # a bad FUNDGUARD_PSN_SEARCH_* variable stops the start, before anything listens
            err_console.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(EXIT_USAGE) from exc
        err_console.print(f"FundGuard 正在启动: http://{host}:{port}/  (工作区 {workspace})")
        run_server(config, host, port)
