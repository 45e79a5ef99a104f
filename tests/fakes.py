"""Fakes for unit tests: checks scripted on the wall clock, and an in-memory window store."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from checks.base import AttemptContext, Result
from probe.clock import Clock
from probe.contracts import memory
from probe.contracts.model import Declared
from probe.contracts.source import FirstFailure, Totals
from probe.model import Verdict, WindowVerdict
from probe.support.tickets import TicketEvent

if TYPE_CHECKING:
    from probe.contracts.source import WindowSource


class ScriptedCheck:
    """Fails (class `http_status`) whenever `failing(wall_time)` is true; may answer slowly."""

    def __init__(self, clock: Clock, failing: Callable[[float], bool],
                 delay: Callable[[float], float] = lambda _t: 0.0) -> None:
        self.clock = clock
        self.failing = failing
        self.delay = delay
        self.calls: list[float] = []

    async def run(self, ctx: AttemptContext) -> Result:
        now = self.clock.wall()
        self.calls.append(now)
        pause = self.delay(now)
        if pause:
            await asyncio.sleep(pause)
        if self.failing(now):
            return Result.failure("http_status", "HTTP 503")
        return Result.success("HTTP 200")


def between(*ranges: tuple[float, float]) -> Callable[[float], bool]:
    return lambda t: any(a <= t < b for a, b in ranges)


class MemoryWindows:
    """An in-memory `WindowSource` for unit tests of the pure contract core: no SQLite.

    `write_verdicts` keeps the store's rule (an unchanged decision is a no-op, a changed one
    revision N+1); the reads answer what `probe.store.LedgerReader` answers for the same
    windows (tests/store/test_source_parity.py checks both against each other)."""

    def __init__(self) -> None:
        self._current: dict[tuple[str, str, str, int], WindowVerdict] = {}
        self._decisions: Counter[tuple[str, str, str, str, str]] = Counter()
        self.history: list[tuple[WindowVerdict, str]] = []
        self.exclusions: list[Declared] = []
        self.attempts: list[tuple[float, str, bool]] = []
        self.failure_details: dict[tuple[float, str], tuple[str, str, str]] = {}
        self.tickets: list[TicketEvent] = []

    def write_verdicts(self, verdicts: Iterable[WindowVerdict], author: str = "decider",
                       cursors: object = None) -> list[WindowVerdict]:
        written: list[WindowVerdict] = []
        for v in verdicts:
            key = (v.contract, v.service, v.scope, v.window_start)
            old = self._current.get(key)
            if old is not None and old.same_decision(v) and old.note == v.note:
                continue
            stored = dataclasses.replace(v, revision=0 if old is None else old.revision + 1)
            self._current[key] = stored
            self._decisions[(v.contract, v.service, v.scope, v.verdict.value,
                             v.reason.value)] += 1
            self.history.append((stored, author))
            written.append(stored)
        return written

    def write_revisions(
        self, due: Callable[[], Iterable[tuple[str, list[WindowVerdict]]]],
    ) -> int:
        return sum(len(self.write_verdicts(batch, author)) for author, batch in due())

    def windows(self, contract: str, start: int, end: int, scope: str = "local",
                service: str | None = None) -> list[WindowVerdict]:
        return memory.select(self._current.values(), contract, start, end, scope, service)

    def notable_windows(self, contract: str, start: int, end: int, scope: str = "local",
                        *, failed_up: bool = False) -> list[WindowVerdict]:
        return [v for v in self.windows(contract, start, end, scope)
                if v.verdict != Verdict.UP or (failed_up and v.failures > 0)]

    def window_totals(self, contract: str, start: int, end: int,
                      scope: str = "local") -> Totals:
        return memory.totals(self.windows(contract, start, end, scope))

    def month_counts(self, contract: str, start: int, end: int,
                     scope: str = "local") -> dict[str, Counter[tuple[str, str]]]:
        return memory.counts(self.window_totals(contract, start, end, scope))

    def windows_by_verdict(
        self, contract: str, verdict: Verdict, start: int, end: int, *,
        scope: str = "local", service: str | None = None, limit: int | None = None,
        newest_first: bool = False,
    ) -> list[WindowVerdict]:
        return memory.by_verdict(self.windows(contract, start, end, scope, service), verdict,
                                 limit, newest_first)

    def window_counts(self, scope: str = "local") -> list[tuple[str, str, str, str, int]]:
        return sorted((c, s, verdict, reason, n)
                      for (c, s, sc, verdict, reason), n in self._decisions.items()
                      if sc == scope)

    def declared_exclusions(self) -> list[Declared]:
        return list(self.exclusions)

    def record_outcomes(self, service: str, samples: Iterable[tuple[float, bool]]) -> None:
        """Attempts of `service` (role service): (started_at, ok)."""
        self.attempts.extend((t, service, ok) for t, ok in samples)

    def outage_samples(self, service: str, start: float, end: float
                       ) -> list[tuple[float, bool]]:
        return memory.outage_samples(sorted((t, ok) for t, s, ok in self.attempts
                                            if s == service and start <= t < end))

    def record_failures(self, failures: Iterable[tuple[float, str, str, str, str]]) -> None:
        """Failed attempts (started_at, service, check, failure_class, detail)."""
        for t, service, check, cls, detail in failures:
            self.attempts.append((t, service, False))
            self.failure_details[(t, service)] = (check, cls, detail)

    def first_failures(self, services: Sequence[str], start: float, end: float,
                       window_seconds: int) -> dict[int, FirstFailure]:
        out: dict[int, FirstFailure] = {}
        for t, s, ok in sorted(self.attempts):
            w = int(t // window_seconds) * window_seconds
            if ok or s not in services or not start <= t < end or w in out:
                continue
            check, cls, detail = self.failure_details.get((t, s), ("", "", ""))
            out[w] = FirstFailure(w, t, s, check, cls, detail)
        return out

    def ticket_events(self, contract: str | None = None) -> list[TicketEvent]:
        return [e for e in self.tickets if contract is None or e.contract == contract]

    def revisions(self, contract: str, service: str, window_start: int,
                  scope: str = "local") -> list[tuple[WindowVerdict, str]]:
        return [(v, author) for v, author in self.history
                if (v.contract, v.service, v.scope, v.window_start)
                == (contract, service, scope, window_start)]


if TYPE_CHECKING:
    _source: WindowSource = MemoryWindows()
