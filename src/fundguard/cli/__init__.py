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


def _version(value: bool) -> None:
    if value:
        from fundguard.engine.run import software_versions

        typer.echo(" ".join(f"{k} {v}" for k, v in software_versions().items()))
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="显示 FundGuard 与引擎的版本"),
) -> None:
    """FundGuard 医保基金智能监管平台 — audit medical insurance claims against a rule library."""


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
