"""`RealtimeService` in worker processes, for the national paths on more than one core.

Why not uvicorn's `--workers N`: each worker accepts connections on one shared socket, and with requests
analysed in a thread pool every worker's event loop is always free to accept, so Linux hands most
keep-alive connections to one of them (it wakes the last waiting process first): measured at
concurrency 4, one worker at ~90% of a core, the other at ~10%, and no more throughput than one process.
Here one event loop (one uvicorn process) reads every request and hands it to whichever analysis process
is free: the cores are used evenly, and a slow request still holds up no other.

Each process builds its own service from the same `RealtimeConfig` (knowledge edition, history store,
call log with its background writer, flushed when the process ends) and returns its reply encoded. The
serving process builds none (`api.national.build_router`: only a `Door` for what never reaches one).

Logging: a spawned process starts with no logging set up (uvicorn configures only the process it runs
in), so its records (each call's line, the start-up warnings about rules skipped or run by their SQL,
an internal error's trace) would be lost or printed bare. They are sent over a queue to the serving
process and handed to its loggers of the same name, at the levels that process set: they go wherever
its logging sends them. A start-up line said alike by every process is passed on once.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import threading
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from logging.handlers import QueueHandler, QueueListener
from multiprocessing.util import Finalize
from typing import TYPE_CHECKING

from fundguard.realtime.service import RealtimeConfig, RealtimeService

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

log = logging.getLogger("fundguard.realtime")

_service: RealtimeService | None = None


class _StartUp(logging.Filter):
    """Marks the records said while the process builds its service."""

    active = True

    def filter(self, record: logging.LogRecord) -> bool:
        record.fundguard_start_up = self.active
        return True


def _init_process(config: RealtimeConfig, log_queue: Queue, levels: dict[str, int]) -> None:
    global _service
    # Ctrl-C at the console reaches the whole process group: the serving process stops the pool itself
    # (its shutdown ends these processes after their last task), without a trace from each of them
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    start_up = _StartUp()
    handler = QueueHandler(log_queue)
    handler.addFilter(start_up)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)
    _service = RealtimeService(config)
    start_up.active = False
    # a pool's process ends through multiprocessing's exit function (not atexit): the call log's last
    # rows are written there
    Finalize(None, _service.close, exitpriority=10)


def _ready() -> bool:
    return _service is not None


def _handle(body: bytes, headers: dict[str, str], path_infno: str | None, expect_infno: str | None) -> tuple[int, bytes]:
    assert _service is not None  # noqa: S101 (set by the initializer before any task)
    reply = _service.handle(body, headers, path_infno=path_infno, expect_infno=expect_infno)
    # encoded here, in the analysis process: the one event loop then sends bytes, instead of unpickling
    # the reply's objects and encoding them itself
    return reply.status, reply.encoded()


class _Forward(logging.Handler):
    """In the serving process: a record from an analysis process, handed to this process's logger of the
    same name (its handlers and its parents'); a start-up line already passed on is not repeated."""

    def __init__(self) -> None:
        super().__init__()
        self._said: set[tuple[str, int, str]] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "fundguard_start_up", False):
            key = (record.name, record.levelno, record.getMessage())
            if key in self._said:
                return
            self._said.add(key)
        logging.getLogger(record.name).handle(record)


def _levels() -> dict[str, int]:
    """The levels this process's loggers were set to (the root's as ""), for the analysis processes."""
    levels = {"": logging.getLogger().level}
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            levels[name] = logger.level
    return levels


class ServicePool:
    """`processes` analysis processes; `handle` is awaited from the event loop."""

    def __init__(self, config: RealtimeConfig, processes: int):
        if processes < 1:
            raise ValueError("processes must be at least 1")
        self.config = config
        self.processes = processes
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")
        self._log_queue = self._context.Queue()
        self._listener: QueueListener | None = QueueListener(self._log_queue, _Forward())
        self._listener.start()
        self._executor = self._new_executor()
        # every process started (and its service built) before the first request: submitted together,
        # each task finds no idle process and starts one; a bad configuration fails here, at start
        try:
            for future in wait([self._executor.submit(_ready) for _ in range(processes)]).done:
                future.result()
        except BaseException:
            self.close()
            raise

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.processes, mp_context=self._context, initializer=_init_process,
                                   initargs=(self.config, self._log_queue, _levels()))

    async def handle(self, body: bytes, headers: Mapping[str, str], *, path_infno: str | None = None,
                     expect_infno: str | None = None) -> tuple[int, bytes]:
        """(HTTP status, encoded envelope)."""
        executor = self._executor
        try:
            return await asyncio.get_running_loop().run_in_executor(
                executor, _handle, body, {k.lower(): v for k, v in headers.items()}, path_infno, expect_infno)
        except BrokenProcessPool:
            # a process died (killed, out of memory): this request fails (its caller answers 500), the
            # next ones go to a new pool
            with self._lock:
                if self._executor is executor:
                    log.error("实时审核进程意外退出, 重新启动 %d 个进程", self.processes)
                    self._executor = self._new_executor()
            raise

    def pids(self) -> set[int]:
        """The analysis processes' ids (the executor's own table of them)."""
        return set(self._executor._processes or {})  # noqa: SLF001

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        # after the processes ended (their last lines, the call log's flush among them, are in the queue)
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
