"""One worker process: its own event loop (uvloop when installed), scheduler and checks.

It never touches the ledger. Every `BATCH_EVERY` seconds it sends the main process one
message over its pipe: the attempts finished since the last one, a snapshot of the
attempts still under way (service, check, role, wall start) and `horizon`, the wall time
before which every attempt is either in this or an earlier batch or in the snapshot.
Both come from one synchronous step, so the main process can decide windows early
(nothing that started before `horizon` is missing) and, if this process dies, record the
snapshot's attempts as lost.

SIGTERM stops the scheduler, drains attempts under way for `shutdown_grace`, sends the
last batch and exits; SIGINT is ignored (a terminal's Ctrl-C reaches the whole process
group; the main process decides when workers stop). A worker whose pipe breaks (the main
process is gone) stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from checks.base import AttemptContext, Check, Resources, Result
from probe.clock import SystemClock
from probe.config import Config
from probe.jobs import build_jobs, close_jobs
from probe.model import Attempt, Role
from probe.scheduler import Job, Scheduler
from probe.secrets import REGISTRY
from probe.workers.split import worker_part

BATCH_EVERY = 0.05
Running = tuple[str, str, Role, float]  # service, check, role, wall start


class _Tracked:
    """A check that notes, while it runs, which attempt of which job is under way."""

    __slots__ = ("_check", "_clock", "_job", "_running")

    def __init__(self, check: Check, running: dict[int, Running], clock: SystemClock) -> None:
        self._check = check
        self._running = running
        self._clock = clock
        self._job: tuple[str, str, Role] = ("", "", Role.SERVICE)

    async def run(self, ctx: AttemptContext) -> Result:
        key = id(asyncio.current_task())
        self._running[key] = (*self._job, self._clock.wall())
        try:
            return await self._check.run(ctx)
        finally:
            self._running.pop(key, None)

    async def aclose(self) -> None:
        aclose: Callable[[], Awaitable[Any]] | None = getattr(self._check, "aclose", None)
        if aclose is not None:
            await aclose()


def main(config: Config, where: tuple[int, int], conn: Connection,
         secrets: list[str], log_level: str) -> None:
    """The worker process's entry point (multiprocessing, spawn); `where` = (index, count)."""
    from probe.logs import configure  # noqa: PLC0415

    configure(log_level, json=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for value in secrets:
        REGISTRY.add(value)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve(config, *where, conn))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The daemon's choice (probe/cli/run.py): uvloop when installed, unless
    SLA_PROBE_LOOP=asyncio (the environment is inherited from the main process)."""
    if os.environ.get("SLA_PROBE_LOOP", "auto") == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def _serve(config: Config, index: int, count: int, conn: Connection) -> None:
    clock = SystemClock()
    running: dict[int, Running] = {}
    jobs: list[Job] = []
    for job in build_jobs(worker_part(config, index, count), Resources(clock=clock)):
        tracked = _Tracked(job.check, running, clock)
        tracked._job = (job.service, job.name, job.role)
        job.check = tracked
        jobs.append(job)
    done: list[Attempt] = []
    probe = config.probe
    scheduler = Scheduler(jobs, clock, done.append, max_concurrency=probe.max_concurrency,
                          spread=probe.spread, jitter=probe.jitter)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    def send() -> bool:
        batch = done[:]
        done.clear()
        try:
            now = clock.wall()
            oldest = scheduler.oldest_inflight()
            horizon = now if oldest is None else min(now, oldest)
            conn.send((batch, list(running.values()), horizon))
        except (BrokenPipeError, OSError):
            return False
        return True

    task = asyncio.create_task(scheduler.run(), name="scheduler")
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), BATCH_EVERY)
            if not send():
                return
        scheduler.stop()
        await scheduler.drain(probe.shutdown_grace)
        send()
    finally:
        scheduler.stop()
        await asyncio.gather(task, return_exceptions=True)
        await close_jobs(jobs)
        conn.close()
