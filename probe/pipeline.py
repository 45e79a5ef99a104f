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

import structlog

from probe.clock import Clock
from probe.config import Config
from probe.contracts.exclusions import revisions_due
from probe.contracts.source import ContractTerms
from probe.model import CONTROL_SERVICE, MAX_WINDOWS_PER_BATCH, Attempt, Role, WindowVerdict
from probe.store import Ledger, LedgerWorker
from probe.verdicts import decide, window_start

log = structlog.get_logger("sla_probe.pipeline")

EARLY_CHECK = 0.005  # after a window's end, first look whether its attempts are all in
EARLY_POLL = 0.02  # then, while one that started in it is still under way, look this often

SEEN_KEY = "decided_attempts"  # meta: attempts up to this id are in their windows' verdicts

VerdictListener = Callable[[Sequence[WindowVerdict]], None]


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
        *,
        adjust: Callable[[Config, list[WindowVerdict]], list[WindowVerdict]] | None = None,
        inflight_oldest: Callable[[], float | None] | None = None,
    ) -> None:
        self.config = config
        # With the scheduler's view of attempts under way, a window is decided as soon as
        # every attempt that started in it has been recorded, instead of after the longest
        # timeout plus grace (which stays the bound when this is not given).
        self.inflight_oldest = inflight_oldest
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
        settle = EARLY_CHECK if self.inflight_oldest is not None else self.settle
        due = [
            cursors[c.name] + c.window_seconds + settle
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
        # Taken before the flush: every attempt that started before `complete` has ended
        # and is in the writer's buffer now, so the flush below brings it to the ledger.
        complete = now - settle
        if not final and self.inflight_oldest is not None:
            oldest = self.inflight_oldest()
            complete = max(complete, now if oldest is None else min(now, oldest))
        await self._writer.flush()
        seen, top = await self._worker.call(self._attempt_marks)
        # Windows decided already that got an attempt since (a backward clock step stamped
        # it there): decide them again, a new revision if the verdict changes.
        written = await self._worker.call(self._redecide_late, self.config, seen, top, now)
        for contract in self.config.contracts:
            w = contract.window_seconds
            cursor = await self._worker.call(self._worker.ledger.next_window, contract.name)
            if cursor is None:
                continue
            while cursor + w <= complete:
                last = min(int(complete // w) * w, cursor + MAX_WINDOWS_PER_BATCH * w)
                # One call on the ledger thread: read, decide, lay exclusions, commit. The
                # event loop only waits, so a big batch does not hold up attempt starts.
                written += await self._worker.call(
                    self._decide_and_store, self.config, contract.name, cursor, last, now)
                cursor = last
        if top > seen:
            await self._worker.call(self._worker.ledger.set_meta, SEEN_KEY, str(top))
        if written:
            self.decided += len(written)
            self.last_decision_wall = now
            for listener in self._listeners:
                try:
                    listener(written)
                except Exception:
                    log.exception("verdict_listener_failed")
        return written

    def _attempt_marks(self) -> tuple[int, int]:
        """(newest attempt id every decided window has seen, newest attempt id now); the
        first mark is kept in the ledger, so a restart re-checks what a crash interrupted."""
        ledger = self._worker.ledger
        top = ledger.max_attempt_id()
        seen = ledger.meta(SEEN_KEY)
        if seen is None:  # a ledger from before this mark: start marking from here
            ledger.set_meta(SEEN_KEY, str(top))
            return top, top
        return int(seen), top

    def _redecide_late(self, config: Config, seen: int, top: int,
                       now: float) -> list[WindowVerdict]:
        """On the ledger thread: decide again each decided window holding an attempt
        stored after the mark `seen`. Written only where the decision changes."""
        if top <= seen:
            return []
        ledger = self._worker.ledger
        out: list[WindowVerdict] = []
        for contract in config.contracts:
            cursor = ledger.next_window(contract.name)
            if cursor is None:
                continue
            w = contract.window_seconds
            # Only windows this ledger decided: a step back past the first one stamps
            # attempts where the contract was not yet watched; they stay undecided there.
            first = ledger.first_window(contract.name)
            late = [ws for ws in ledger.late_windows(seen, top, cursor, w)
                    if first is not None and ws >= first]
            for ws in late:
                out += self._decide_and_store(config, contract.name, ws, ws + w, now,
                                              author="decider:late")
            if late:
                log.warning("late_attempts_redecided", contract=contract.name,
                            windows=len(late), revised=len(out))
        return out

    def _decide_and_store(
        self, config: Config, contract_name: str, start: int, end: int, now: float, *,
        author: str = "decider",
    ) -> list[WindowVerdict]:
        """On the ledger thread: the verdicts of [start, end), exclusions, one commit."""
        ledger = self._worker.ledger

        def compute() -> list[WindowVerdict]:
            verdicts = decide_range(config, contract_name, ledger.outcomes_between(start, end),
                                    start=start, end=end, now=now)
            return verdicts if self._adjust is None else self._adjust(config, verdicts)

        return ledger.decide_and_write(compute, author, {(contract_name, "local"): end})

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            due = self.next_due(await self._cursors())
            floor = EARLY_POLL if self.inflight_oldest is not None else 0.05
            delay = max(floor, min(due - self._clock.wall(), 5.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                break
            try:
                await self.decide_ready()
            except Exception:
                log.exception("decide_failed")


def decide_range(
    config: Config, contract_name: str, attempts: Sequence[Attempt], *, start: int, end: int,
    now: float,
) -> list[WindowVerdict]:
    """Every service's verdict in each window of [start, end) from the attempts there."""
    contract = next(c for c in config.contracts if c.name == contract_name)
    w = contract.window_seconds
    by_window: dict[int, dict[tuple[Role, str], list[Attempt]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for a in attempts:
        by_window[window_start(a.started_at, w)][(a.role, a.service)].append(a)
    out: list[WindowVerdict] = []
    for ws in range(start, end, w):
        groups = by_window.get(ws, {})
        controls = groups.get((Role.CONTROL, CONTROL_SERVICE), [])
        out.extend(
            decide(
                contract=contract.name, service=service, start=ws, window_seconds=w,
                rule=contract.rule,
                service_attempts=groups.get((Role.SERVICE, service), []),
                control_attempts=controls,
                dependency_attempts=groups.get((Role.DEPENDENCY, service), []),
                decided_at=now,
            )
            for service in contract.services()
        )
    return out


def write_due_revisions(ledger: Ledger, terms: ContractTerms, now: float, scope: str = "local",
                        *, since: float | None = None, until: float | None = None) -> int:
    """Re-lay exclusions on decided windows (at start, on reload): the revisions that
    `revisions_due` finds, computed and written in one ledger transaction."""
    return ledger.write_revisions(
        lambda: revisions_due(terms, ledger, now, scope, since=since, until=until))
