"""The `fundguard` command line: a thin door over the core.

Each module in this package defines `register(app: typer.Typer) -> None` and adds its commands
(`fundguard <noun> <verb>`); modules are discovered, so adding a command touches one file.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2

app = typer.Typer(
    name="fundguard",
    help="FundGuard 医保基金智能监管平台 — audit medical insurance claims against a rule library.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main() -> None:
    app()
