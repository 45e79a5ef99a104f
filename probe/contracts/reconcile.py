"""Declared against measured: what the vendor's status page admits, set beside our windows.

Per contract, service and month: the downtime the vendor declared (per impact level, its
maintenance as the level `maintenance`), the downtime we measured (down windows), each
declared incident matched with the measured incidents it overlaps ("the vendor says 12
minutes, we measured 47"), the incidents we measured that the vendor never declared, and the
ones it declared that we did not see, with our own coverage over its interval (a declared
incident during which we measured nothing proves nothing either way).

Pure: windows are read through `WindowSource`; declared incidents are handed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from probe.contracts.source import WindowSource
from probe.model import Reason, Verdict, WindowVerdict


@dataclasses.dataclass(frozen=True, slots=True)
class DeclaredIncident:
    """An interval the vendor declared for one of our services (mapped from its components)."""

    service: str
    start: float
    end: float
    impact: str
    reference: str
    title: str = ""
    open: bool = False

    @property
    def minutes(self) -> float:
        return max(0.0, self.end - self.start) / 60


@dataclasses.dataclass(frozen=True, slots=True)
class MeasuredIncident:
    """A run of consecutive down windows."""

    start: int
    end: int

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / 60


@dataclasses.dataclass(frozen=True, slots=True)
class Match:
    declared: DeclaredIncident
    measured: tuple[MeasuredIncident, ...]
    coverage: float  # share of the declared interval's windows we measured

    @property
    def measured_minutes(self) -> float:
        return sum(m.minutes for m in self.measured)


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceReconciliation:
    service: str
    declared_minutes: dict[str, float]  # impact level -> minutes (union, clipped to period)
    measured_minutes: float
    matches: tuple[Match, ...]  # declared incidents (seen or not) in start order
    undeclared: tuple[MeasuredIncident, ...]

    @property
    def unseen(self) -> tuple[Match, ...]:
        return tuple(m for m in self.matches if not m.measured)


def runs(down: Sequence[WindowVerdict]) -> list[MeasuredIncident]:
    """Consecutive down windows (sorted by start) merged into incidents."""
    out: list[MeasuredIncident] = []
    for v in sorted(down, key=lambda v: v.window_start):
        end = v.window_start + v.window_seconds
        if out and out[-1].end == v.window_start:
            out[-1] = MeasuredIncident(out[-1].start, end)
        else:
            out.append(MeasuredIncident(v.window_start, end))
    return out


def union_minutes(intervals: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """Minutes covered by the union of `intervals`, clipped to [start, end)."""
    total, reach = 0.0, start
    for a, b in sorted((max(a, start), min(b, end)) for a, b in intervals):
        if b <= a or b <= reach:
            continue
        total += b - max(a, reach)
        reach = b
    return total / 60


def coverage(source: WindowSource, contract: str, service: str, start: float, end: float,
             *, window_seconds: int, scope: str) -> float:
    """Share of the windows in [start, end) that we measured: a verdict other than `no_data`
    and not excluded because our own vantage could not reach anything."""
    first = int(start // window_seconds) * window_seconds
    total = max(1, -(-(int(end) - first) // window_seconds))
    rows = source.windows(contract, first, int(end), scope, service)
    seen = sum(1 for v in rows if v.verdict != Verdict.NO_DATA
               and not (v.verdict == Verdict.EXCLUDED and v.reason == Reason.VANTAGE))
    return min(1.0, seen / total)


def reconcile_service(
    source: WindowSource, contract: str, service: str, declared: Sequence[DeclaredIncident],
    *, start: int, end: int, window_seconds: int, scope: str = "local",
) -> ServiceReconciliation:
    """One service's period [start, end): declared and measured side by side."""
    mine = sorted((d for d in declared if d.service == service and d.start < end
                   and d.end > start), key=lambda d: (d.start, d.reference))
    down = source.windows_by_verdict(contract, Verdict.DOWN, start, end, scope=scope,
                                     service=service)
    measured = runs(down)
    by_impact: dict[str, list[tuple[float, float]]] = {}
    for d in mine:
        by_impact.setdefault(d.impact or "unknown", []).append((d.start, d.end))
    declared_minutes = {k: union_minutes(v, start, end) for k, v in sorted(by_impact.items())}
    matches = tuple(
        Match(d, tuple(m for m in measured if m.start < d.end and m.end > d.start),
              coverage(source, contract, service, max(d.start, start), min(d.end, end),
                       window_seconds=window_seconds, scope=scope))
        for d in mine
    )
    undeclared = tuple(m for m in measured
                       if not any(d.start < m.end and d.end > m.start for d in mine))
    return ServiceReconciliation(service, declared_minutes,
                                 len(down) * window_seconds / 60, matches, undeclared)
