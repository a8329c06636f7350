"""The `fundguard` console script. Kept free of imports so that Ctrl-C while the command line's
modules load (about a second and a half) ends quietly with exit 130, not with a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from fundguard.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("已中断\n")
        raise SystemExit(130) from None
    cli_main()
