"""The main process's side of the workers: start, feed the ledger, restart, stop.

Each worker gets the whole (pickled) config, its index and the secrets this process knows
(so its redaction matches), and runs its part (probe/workers/split.py). A reader thread
per worker receives its batches and hands them to the event loop, which puts every attempt
into the one AttemptWriter: the ledger keeps a single writer.

A worker that exits while the daemon runs (killed, crashed) is restarted after
`RESTART_DELAY`; the attempts its last batch listed as under way are recorded as lost
(failure class `lost`, never `up`): their windows count them and show the class, and the
rule judges only what was measured (probe/verdicts.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import structlog

from probe.config import Config
from probe.model import LOST, Attempt
from probe.secrets import REGISTRY
from probe.workers import child

log = structlog.get_logger("sla_probe.workers")

RESTART_DELAY = 0.5
_SPAWN = multiprocessing.get_context("spawn")


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.process: Any = None
        self.running: list[child.Running] = []
        self.horizon: float | None = None  # None: not started or gone (holds nothing back)
        self.exited = asyncio.Event()
        self.restarts = 0


class WorkerPool:
    """`count` worker processes running the services' checks; attempts go to `sink`."""

    def __init__(self, config: Config, count: int, sink: Callable[[Attempt], None],
                 log_level: str = "info") -> None:
        self.config = config
        self.count = count
        self._sink = sink
        self._log_level = log_level
        self._workers = [_Worker(i) for i in range(count)]
        self._stopping = False
        self.lost = 0
        # The schedule lag of the workers' attempts, for the main process's histogram.
        self.on_lag: Callable[[float], None] | None = None

    # -- what the daemon reads --------------------------------------------------------------

    def oldest_inflight(self) -> float | None:
        """The earliest wall time some worker may still deliver an attempt for."""
        horizons = [w.horizon for w in self._workers if w.horizon is not None]
        return min(horizons) if horizons else None

    @property
    def inflight(self) -> int:
        return sum(len(w.running) for w in self._workers)

    def pids(self) -> list[int | None]:
        return [None if w.process is None else w.process.pid for w in self._workers]

    # -- life ---------------------------------------------------------------------------------

    def _start(self, worker: _Worker) -> None:
        receive, send = _SPAWN.Pipe(duplex=False)
        process = _SPAWN.Process(
            target=child.main, name=f"sla-probe-worker-{worker.index}", daemon=True,
            args=(self.config, (worker.index, self.count), send, REGISTRY.values(),
                  self._log_level),
        )
        process.start()
        send.close()  # the child holds the only sending end: EOF when it dies
        worker.process = process
        worker.running = []
        # Until its first batch the new worker may start attempts at any moment from now.
        worker.horizon = time.time()
        worker.exited.clear()
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, args=(loop, worker, receive),
                         name=f"worker-{worker.index}-reader", daemon=True).start()
        log.info("worker_started", worker=worker.index, pid=process.pid)

    def _read(self, loop: asyncio.AbstractEventLoop, worker: _Worker,
              conn: Connection) -> None:
        """On the reader thread: every message to the loop, then the worker's end."""
        try:
            while True:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    break
                loop.call_soon_threadsafe(self._batch, worker, message)
        finally:
            conn.close()
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits
                loop.call_soon_threadsafe(worker.exited.set)

    def _batch(self, worker: _Worker, message: tuple[list[Attempt], list[child.Running],
                                                      float]) -> None:
        attempts, running, horizon = message
        on_lag = self.on_lag
        for attempt in attempts:
            self._sink(attempt)
            if on_lag is not None:
                on_lag(attempt.lag)
        worker.running = running
        worker.horizon = horizon

    def _record_lost(self, worker: _Worker, code: int | None) -> None:
        for service, check, role, started in worker.running:
            self._sink(Attempt(
                started_at=started, service=service, check=check, role=role, ok=False,
                failure_class=LOST, latency=0.0,
                detail=f"worker {worker.index} exited (code {code}) during the attempt",
            ))
        self.lost += len(worker.running)
        if worker.running:
            log.warning("attempts_lost", worker=worker.index, attempts=len(worker.running))
        worker.running = []
        worker.horizon = None

    def reconfigure(self, config: Config) -> None:
        """Restart every worker on `config` (a reload): SIGTERM drains each one, and its
        watcher starts it again with the new config (the worker count holds until restart)."""
        self.config = config
        for worker in self._workers:
            if worker.process is not None and worker.process.is_alive():
                worker.process.terminate()

    async def run(self, stop: asyncio.Event) -> None:
        """Start every worker, restart the ones that die, stop them all when `stop` is set."""
        for worker in self._workers:
            self._start(worker)
        watchers = [asyncio.create_task(self._watch(w, stop), name=f"worker-{w.index}")
                    for w in self._workers]
        try:
            await stop.wait()
        finally:
            self._stopping = True
            await self._stop_all()
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)

    async def _watch(self, worker: _Worker, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await worker.exited.wait()
            if self._stopping:
                return
            process = worker.process
            await asyncio.to_thread(process.join, 5)
            code = process.exitcode
            log.log(logging.INFO if code == 0 else logging.ERROR,
                    "worker_exited" if code == 0 else "worker_died",
                    worker=worker.index, pid=process.pid, code=code)
            self._record_lost(worker, code)
            await asyncio.sleep(RESTART_DELAY)
            if stop.is_set():
                return
            worker.restarts += 1
            self._start(worker)

    async def _stop_all(self) -> None:
        """SIGTERM, then wait for the last batches (the drain), then SIGKILL."""
        live = [w for w in self._workers if w.process is not None and w.process.is_alive()]
        for worker in live:
            worker.process.terminate()
        grace = self.config.probe.shutdown_grace + 2.0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                for worker in live:
                    await worker.exited.wait()
        for worker in self._workers:
            process = worker.process
            if process is None:
                continue
            if process.is_alive():
                process.kill()
            await asyncio.to_thread(process.join, 5)
            if worker.running:  # killed before its final batch
                self._record_lost(worker, process.exitcode)
