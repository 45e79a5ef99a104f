"""The one place that owns time: intervals, spreading, jitter, timeouts, concurrency.

Checks never sleep or loop. Each job has a fixed grid of planned starts (`offset + k *
interval`, so there is no drift); jitter moves one start without moving the grid; an attempt
that cannot start because the concurrency bound is reached starts late, and the lateness is
recorded as schedule lag. Attempts go to a sink that never blocks.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import heapq
import itertools
import random
import zlib
from collections.abc import Callable, Sequence

import structlog

from checks.base import ERROR, TIMEOUT, AttemptContext, Check, CheckFailure, Result
from probe.clock import Clock
from probe.model import Attempt, Role
from probe.secrets import redact

log = structlog.get_logger("sla_probe.scheduler")

HEARTBEAT_EVERY = 5.0
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclasses.dataclass(slots=True)
class Job:
    service: str
    name: str
    role: Role
    check: Check
    interval: float
    timeout: float
    confirm_retry: bool = False

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"


class LagStats:
    """A histogram of schedule lag (actual − planned start), read by the metrics collector."""

    def __init__(self) -> None:
        self.counts = [0] * (len(LAG_BUCKETS) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, lag: float) -> None:
        self.counts[bisect.bisect_left(LAG_BUCKETS, lag)] += 1
        self.total += lag
        self.count += 1


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def spread_offset(key: str, interval: float) -> float:
    """A stable position in the interval for `key`, so restarts keep the same rhythm."""
    return (zlib.crc32(key.encode()) / 2**32) * interval


class _Deadline:
    """The timer of one attempt: cancels the attempt's task when it fires.

    `run_attempt` used `asyncio.timeout`, whose context manager object, state machine and
    rescheduling cost a measurable share of a cheap attempt at thousands a second
    (BENCHMARKS.md, issue 19). This does the same with one `loop.call_at` handle and the
    same bookkeeping: the task is cancelled when the time is up, and the cancellation is
    turned into a timeout only if no one else asked to cancel the task meanwhile
    (`Task.uncancel()` against the count taken at the start), exactly as
    `asyncio.timeout` decides it.
    """

    __slots__ = ("expired", "task")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.expired = False

    def __call__(self) -> None:
        self.expired = True
        self.task.cancel()


def _timed_out(ctx: AttemptContext) -> Result:
    """The `timeout` result, with whatever the attempt measured before the time was up."""
    return Result(False, TIMEOUT, f"no answer within {ctx.timeout:g}s", ctx.timeout,
                  dict(ctx.evidence))


async def run_attempt(check: Check, timeout: float, clock: Clock) -> Result:
    """One attempt under the scheduler's timeout; every exception becomes a classified result."""
    started = clock.monotonic()
    ctx = AttemptContext(timeout=timeout, clock=clock, started_mono=started)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    deadline = _Deadline(task)
    cancelling = task.cancelling()
    handle = loop.call_at(loop.time() + timeout, deadline)
    try:
        try:
            result = await check.run(ctx)
        finally:
            handle.cancel()
            if deadline.expired and task.uncancel() <= cancelling:
                deadline.expired = True  # ours alone: a cancellation here is the timeout
            else:
                deadline.expired = False
    except TimeoutError:
        return _timed_out(ctx)
    except CheckFailure as exc:
        result = Result(False, exc.failure_class, redact(exc.detail), None, exc.evidence)
    except asyncio.CancelledError:
        if deadline.expired:
            return _timed_out(ctx)
        raise
    except Exception as exc:
        result = Result.failure(ERROR, redact(f"{type(exc).__name__}: {exc}"))
    if result.latency is None:
        result = dataclasses.replace(result, latency=clock.monotonic() - started)
    return result


class Scheduler:
    """Runs every job on its grid until `stop()`; in-flight attempts are awaited by `drain()`."""

    def __init__(
        self,
        jobs: Sequence[Job],
        clock: Clock,
        sink: Callable[[Attempt], None],
        *,
        max_concurrency: int = 256,
        spread: bool = True,
        jitter: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._sink = sink
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._spread = spread
        self._jitter = jitter
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._seq = itertools.count()
        self._heap: list[tuple[float, int, float, Job]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._started: dict[int, float] = {}  # attempt id → wall time it started
        self._wake = asyncio.Event()
        self._waiter: asyncio.Future[None] | None = None
        self._stopping = False
        self.lag = LagStats()
        self.ticks = 0
        self.last_tick: float | None = None
        self.skipped = 0
        self.heartbeat = 0
        self.replace_jobs(jobs)

    @property
    def jobs(self) -> list[Job]:
        return [entry[3] for entry in self._heap]

    def replace_jobs(self, jobs: Sequence[Job]) -> None:
        """Install a new job set (config reload); attempts under way finish normally."""
        now = self._clock.monotonic()
        self._heap = []
        for job in jobs:
            offset = spread_offset(job.key, job.interval) if self._spread else 0.0
            base = now + offset
            heapq.heappush(self._heap, (self._jittered(base, job), next(self._seq), base, job))
        self._notify()

    def _jittered(self, base: float, job: Job) -> float:
        if not self._jitter:
            return base
        return base + self._rng.uniform(0, self._jitter) * job.interval

    def stop(self) -> None:
        self._stopping = True
        self._notify()

    def _notify(self) -> None:
        self._wake.set()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _sleep(self, delay: float) -> None:
        """Sleep until the next start or a `_notify`: a bare future and one timer, which at
        thousands of starts a second costs far less than `wait_for` on an event (a task
        and a timeout per sleep)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        handle = loop.call_later(delay, _resolve, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._waiter = None

    async def run(self) -> None:
        while not self._stopping:
            self.heartbeat += 1  # progress the systemd watchdog can see, even when idle
            delay = HEARTBEAT_EVERY
            if self._heap:
                due, _, base, job = self._heap[0]
                delay = min(delay, due - self._clock.monotonic())
            if delay > 0 or not self._heap:
                await self._sleep(max(delay, 0.0))
                continue
            heapq.heappop(self._heap)
            await self._semaphore.acquire()
            if self._stopping:
                self._semaphore.release()
                break
            now = self._clock.monotonic()
            self._launch(job, due, now)
            nxt = base + job.interval
            if nxt + job.interval < now:  # fell behind by whole intervals (suspend, overload)
                missed = int((now - nxt) // job.interval)
                self.skipped += missed
                nxt += missed * job.interval
            heapq.heappush(self._heap, (self._jittered(nxt, job), next(self._seq), nxt, job))
            self.ticks += 1
            self.last_tick = now

    def _launch(self, job: Job, planned: float, now: float) -> None:
        # No task name: naming costs a measurable share of a cheap attempt (bench/cost.py).
        task = asyncio.create_task(self._attempt(job, planned))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    def oldest_inflight(self) -> float | None:
        """Wall time at which the oldest attempt still under way started (None: none).

        An attempt belongs to the window in which it started, so once no attempt that
        started before a window's end is under way, that window's attempts are all in."""
        started = self._started
        return min(started.values()) if started else None

    async def _attempt(self, job: Job, planned: float) -> None:
        # The lag is taken when the attempt really starts: it includes the wait for the
        # concurrency bound and for the event loop to get to the new task.
        lag = max(0.0, self._clock.monotonic() - planned)
        self.lag.observe(lag)
        key = next(self._seq)
        try:
            wall = self._clock.wall()
            self._started[key] = wall
            result = await run_attempt(job.check, job.timeout, self._clock)
            retried = False
            if not result.ok and job.confirm_retry:
                retried = True
                second = await run_attempt(job.check, job.timeout, self._clock)
                if second.ok:
                    result = dataclasses.replace(
                        second, detail=f"passed on confirmation retry after "
                        f"{result.failure_class}: {result.detail}",
                    )
                else:
                    result = second
            self._sink(
                Attempt(
                    started_at=wall, service=job.service, check=job.name, role=job.role,
                    ok=result.ok, failure_class=result.failure_class,
                    latency=result.latency or 0.0, detail=redact(result.detail)[:500],
                    evidence=dict(result.evidence), retried=retried, lag=lag,
                )
            )
        except Exception:  # a sink bug must not kill the scheduler
            log.exception("attempt_record_failed", check=job.key)
        finally:
            self._started.pop(key, None)
            self._semaphore.release()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def drain(self, grace: float) -> int:
        """Wait up to `grace` for attempts under way; cancel the rest. Returns how many."""
        pending = set(self._inflight)
        if not pending:
            return 0
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)
        return len(late)
