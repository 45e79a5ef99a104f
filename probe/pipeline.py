"""Attempts → ledger → verdicts, off the event loop.

The ledger is SQLite and blocking, so every write runs on one dedicated thread; the
scheduler only appends to an in-memory buffer (never blocks), and the writer flushes the
buffer in one transaction per tick. The decider turns ended windows into verdicts from what
the ledger holds, so a restart decides exactly what a continuous run would have.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import structlog

from probe.clock import Clock
from probe.config import Config
from probe.ledger import Ledger
from probe.model import Attempt, Role, WindowVerdict
from probe.verdicts import decide, window_start

log = structlog.get_logger("sla_probe.pipeline")

P = ParamSpec("P")
T = TypeVar("T")
MAX_WINDOWS_PER_BATCH = 1440

VerdictListener = Callable[[Sequence[WindowVerdict]], None]


class LedgerWorker:
    """Runs ledger calls on one thread, so the event loop never waits on the disk."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.ledger.close()


class AttemptWriter:
    """Buffers attempts from the scheduler and commits them in batches."""

    def __init__(self, worker: LedgerWorker, clock: Clock, every: float = 0.25) -> None:
        self._worker = worker
        self._clock = clock
        self._every = every
        self._buffer: list[Attempt] = []
        self._lock = asyncio.Lock()
        self.written = 0

    def put(self, attempt: Attempt) -> None:
        self._buffer.append(attempt)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def flush(self) -> int:
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            try:
                await self._worker.call(self._worker.ledger.record_attempts, batch)
            except Exception:
                self._buffer[:0] = batch  # keep them for the next try; nothing is lost
                raise
            self.written += len(batch)
            return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._every)
            try:
                await self.flush()
            except Exception:
                log.exception("attempt_flush_failed", pending=self.pending)
        await self.flush()


class Decider:
    """Decides every ended window of every contract, in order, exactly once per revision.

    `adjust` lays exclusions (maintenance, declared) over a batch of fresh verdicts; it runs
    on the ledger thread because it may read declared exclusions from the ledger.
    """

    def __init__(
        self,
        config: Config,
        worker: LedgerWorker,
        writer: AttemptWriter,
        clock: Clock,
        adjust: Callable[[Config, list[WindowVerdict]], list[WindowVerdict]] | None = None,
    ) -> None:
        self.config = config
        self._worker = worker
        self._writer = writer
        self._clock = clock
        self._adjust = adjust
        self._listeners: list[VerdictListener] = []
        self.decided = 0
        self.last_decision_wall: float | None = None

    def subscribe(self, listener: VerdictListener) -> None:
        self._listeners.append(listener)

    @property
    def settle(self) -> float:
        """How long after a window ends its last attempt may still be running."""
        return self.config.max_timeout() + self.config.probe.grace

    async def start(self) -> None:
        """Place a cursor for contracts seen for the first time at the current window."""
        now = self._clock.wall()
        ledger = self._worker.ledger
        cursors: dict[tuple[str, str], int] = {}
        for contract in self.config.contracts:
            if await self._worker.call(ledger.next_window, contract.name) is None:
                cursors[(contract.name, "local")] = window_start(now, contract.window_seconds)
        if cursors:
            await self._worker.call(ledger.write_verdicts, [], "decider", cursors)

    def next_due(self, cursors: dict[str, int]) -> float:
        """Wall time at which the earliest undecided window can be decided."""
        due = [
            cursors[c.name] + c.window_seconds + self.settle
            for c in self.config.contracts
            if c.name in cursors
        ]
        return min(due) if due else self._clock.wall() + 1.0

    async def _cursors(self) -> dict[str, int]:
        ledger = self._worker.ledger
        out: dict[str, int] = {}
        for contract in self.config.contracts:
            value = await self._worker.call(ledger.next_window, contract.name)
            if value is not None:
                out[contract.name] = value
        return out

    async def decide_ready(self, final: bool = False) -> list[WindowVerdict]:
        """Decide all windows that have ended and settled; `final` skips the settle time."""
        now = self._clock.wall()
        settle = 0.0 if final else self.settle
        await self._writer.flush()
        written: list[WindowVerdict] = []
        for contract in self.config.contracts:
            w = contract.window_seconds
            cursor = await self._worker.call(self._worker.ledger.next_window, contract.name)
            if cursor is None:
                continue
            while cursor + w + settle <= now:
                last = min(int((now - settle) // w) * w, cursor + MAX_WINDOWS_PER_BATCH * w)
                verdicts = await self._decide_range(contract.name, cursor, last, now)
                if self._adjust is not None:
                    verdicts = await self._worker.call(self._adjust, self.config, verdicts)
                written += await self._worker.call(
                    self._worker.ledger.write_verdicts, verdicts, "decider",
                    {(contract.name, "local"): last},
                )
                cursor = last
        if written:
            self.decided += len(written)
            self.last_decision_wall = now
            for listener in self._listeners:
                try:
                    listener(written)
                except Exception:
                    log.exception("verdict_listener_failed")
        return written

    async def _decide_range(
        self, contract_name: str, start: int, end: int, now: float
    ) -> list[WindowVerdict]:
        config = self.config
        contract = next(c for c in config.contracts if c.name == contract_name)
        w = contract.window_seconds
        attempts = await self._worker.call(self._worker.ledger.attempts_between, start, end)
        by_window: dict[int, dict[tuple[Role, str], list[Attempt]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for a in attempts:
            by_window[window_start(a.started_at, w)][(a.role, a.service)].append(a)
        out: list[WindowVerdict] = []
        for ws in range(start, end, w):
            groups = by_window.get(ws, {})
            controls = groups.get((Role.CONTROL, "_controls"), [])
            for service in contract.services():
                verdict = decide(
                    contract=contract.name, service=service, start=ws, window_seconds=w,
                    rule=contract.rule,
                    service_attempts=groups.get((Role.SERVICE, service), []),
                    control_attempts=controls,
                    dependency_attempts=groups.get((Role.DEPENDENCY, service), []),
                    decided_at=now,
                )
                out.append(verdict)
        return out

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            due = self.next_due(await self._cursors())
            delay = max(0.05, min(due - self._clock.wall(), 5.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                break
            try:
                await self.decide_ready()
            except Exception:
                log.exception("decide_failed")
