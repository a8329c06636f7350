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
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.util import Finalize

from fundguard.realtime.service import RealtimeConfig, RealtimeService

log = logging.getLogger("fundguard.realtime")

_service: RealtimeService | None = None


def _init_process(config: RealtimeConfig) -> None:
    global _service
    _service = RealtimeService(config)
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


class ServicePool:
    """`processes` analysis processes; `handle` is awaited from the event loop."""

    def __init__(self, config: RealtimeConfig, processes: int):
        if processes < 1:
            raise ValueError("processes must be at least 1")
        self.config = config
        self.processes = processes
        self._lock = threading.Lock()
        self._executor = self._new_executor()
        # every process started (and its service built) before the first request: submitted together,
        # each task finds no idle process and starts one; a bad configuration fails here, at start
        for future in wait([self._executor.submit(_ready) for _ in range(processes)]).done:
            future.result()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_process, initargs=(self.config,))

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
