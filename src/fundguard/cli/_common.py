"""Helpers shared by CLI commands: progress bars that stay quiet in pipes, error printing."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: soft wrap: a long path in an error stays on one line (rich would break it at 80 columns in a pipe or log)
err_console = Console(stderr=True, soft_wrap=True)
out_console = Console(soft_wrap=True)


def is_interactive() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich progress bar on a terminal; disabled (silent) when stderr is a pipe or file."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not is_interactive(),
        transient=False,
    )
    with progress:
        yield progress

#: said wherever flag amounts are summed: each rule states its own amount (README "Choices")
OVERLAP_NOTE = "涉及金额为各规则分别计算的金额之和: 同一笔费用可能被多条规则从不同角度计入, 不等于应拒付或追回的金额 (由复核逐笔认定)"

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
#: stopped by Ctrl-C (128 + SIGINT, as shells report it)
EXIT_INTERRUPTED = 130

#: `--rules-dir`: a rule library folder instead of the built-in one (`fundguard rules export` copies it)
RulesDirOption = Annotated[
    Path | None,
    typer.Option(
        "--rules-dir",
        envvar="FUNDGUARD_RULES_DIR",
        help="规则库目录 (默认: 内置规则库; 用 `fundguard rules export DIR` 复制后修改)",
        show_default=False,
    ),
]


def load_rule_library(rules_dir: Path | None = None):
    """The rule library (`--rules-dir`, else the built-in one), or exit 1 with the bad file and field named."""
    from fundguard.engine import RuleFileError, load_registry

    try:
        return load_registry(rules_dir)
    except RuleFileError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A new folder beside `target` (absent or empty) that takes its name only when the block completes:
    a command that fails midway (a full disk) leaves no half-written folder behind. OSError propagates."""
    import os
    import shutil
    import tempfile

    from fundguard.engine.run import process_umask

    target.parent.mkdir(parents=True, exist_ok=True)
    staging: Path | None = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        os.chmod(staging, 0o777 & ~process_umask())  # mkdtemp's folder is private; the result gets the usual mode
        yield staging
        if target.exists():
            target.rmdir()  # empty: the caller checked
        staging.rename(target)
        staging = None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
