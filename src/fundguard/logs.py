"""FundGuard's own log lines on the console, for the servers (`fundguard serve`, the standalone national
app under uvicorn)."""

from __future__ import annotations

import logging


def show_on_console() -> None:
    """FundGuard's lines (index builds, each real-time call, warnings at start) on stderr beside uvicorn's,
    at INFO. Nothing is changed when the process set up logging itself (a handler on `fundguard` or on
    the root logger): then the lines go where it sends them."""
    logger = logging.getLogger("fundguard")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-9s %(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
