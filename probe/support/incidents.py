"""Incidents: runs of down windows of one service, with severity and what the vendor owes.

Consecutive down windows of a service form an incident; down windows separated by at most the
contract's `incident_merge_gap` (default 0: strictly consecutive) belong to the same one. An
incident is open until an `up` window of its service follows its last down window (`no_data`
or `excluded` windows do not close it: nothing says the vendor recovered). A down window within
the merge gap after a closing `up` reopens the same incident, so an incident's identity
(contract, service, start) never changes.

Severity comes from the support terms' rules, applied to each down window with the set of the
contract's services down in that same window; an incident's severity is the most severe it
reached. Deadlines assume the customer reports at detection (the end of the first window at
that severity, plus the severity's report delay).
"""

from __future__ import annotations

import bisect
import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from probe.contracts.model import ContractConfig
from probe.contracts.month import utc_iso
from probe.contracts.source import WindowSource
from probe.model import Verdict, WindowVerdict
from probe.support.cadence import next_update_due, update_cadence, update_due_after
from probe.support.deadlines import due, notice_applies, resolution_due, response_due
from probe.support.model import SupportTerms, UpdateCadence

DAY = 86400
# How far the reader looks back or ahead, chunk by chunk, for the rest of a straddling incident.
READ_CHUNK = 7 * DAY
MAX_EXTENSION = 400 * DAY


@dataclasses.dataclass(frozen=True, slots=True)
class Deadlines:
    """Instants (UTC epoch seconds) by which the vendor owes something; None: not owed."""

    response_due: float | None = None
    resolution_due: float | None = None
    notice_due: float | None = None
    report_due: float | None = None
    response_due_other_reading: float | None = None
    """The response deadline under the reading not taken (`TimeLimit.other_reading`)."""
    first_update_due: float | None = None
    """The first status update owed after the first response (`probe.support.cadence`)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Incident:
    contract: str
    service: str
    start: int
    end: int | None
    """The end of the last down window once an up window followed; None while open."""
    last_down_end: int
    window_seconds: int
    down_windows: int
    failure_classes: tuple[str, ...]
    services: tuple[str, ...]
    """The contract's services that were down together with this one at some point."""
    severity: str | None
    severity_label: str
    severity_since: int | None
    detected_at: int
    reported_at: float | None
    deadlines: Deadlines
    best_effort: bool = False
    window_starts: tuple[int, ...] = ()
    update_cadence: UpdateCadence | None = None
    terms: SupportTerms | None = dataclasses.field(default=None, compare=False, repr=False)
    """Kept to compute the next update due at `now` (`to_dict`)."""

    def next_update_due(self, now: float) -> float | None:
        """While open: the next status update deadline after `now` (None: none owed)."""
        if not self.open or self.terms is None or self.update_cadence is None:
            return None
        start = self.deadlines.first_update_due
        if start is None:
            return None
        if start > now:
            return start
        return next_update_due(self.terms, self.update_cadence, start, now)

    @property
    def open(self) -> bool:
        return self.end is None

    @property
    def key(self) -> str:
        return f"{self.contract}/{self.service}/{self.start}"

    @property
    def down_minutes(self) -> float:
        return self.down_windows * self.window_seconds / 60.0

    def down_minutes_between(self, start: float, end: float) -> float:
        """Down minutes of this incident inside `[start, end)` (e.g. one calendar month)."""
        inside = sum(1 for t in self.window_starts if start <= t < end)
        return inside * self.window_seconds / 60.0

    def duration_seconds(self, now: float) -> float:
        """From the first down window's start to the end, or to `now` while open."""
        end = self.end if self.end is not None else max(self.last_down_end, now)
        return max(0.0, end - self.start)

    def to_dict(self, now: float, zone: ZoneInfo | None = None) -> dict[str, Any]:
        """JSON-ready: instants as UTC ISO 8601, plus `*_local` in `zone` when given."""
        out: dict[str, Any] = {
            "id": self.key,
            "contract": self.contract,
            "service": self.service,
            "state": "open" if self.open else "resolved",
            "start": utc_iso(self.start),
            "end": utc_iso(self.end),
            "last_down_end": utc_iso(self.last_down_end),
            "duration_seconds": self.duration_seconds(now),
            "down_minutes": self.down_minutes,
            "down_windows": self.down_windows,
            "failure_classes": list(self.failure_classes),
            "services": list(self.services),
            "severity": self.severity,
            "severity_label": self.severity_label,
            "severity_since": utc_iso(self.severity_since),
            "detected_at": utc_iso(self.detected_at),
            "reported_at": utc_iso(self.reported_at),
            "best_effort": self.best_effort,
        }
        for name in ("response_due", "resolution_due", "notice_due", "report_due"):
            value = getattr(self.deadlines, name)
            out[name] = utc_iso(value)
            # Passed, not "missed": the probe cannot see whether the vendor answered in time.
            out[f"{name}_passed"] = None if value is None else now >= value
        if self.update_cadence is not None:
            out["update_cadence"] = self.update_cadence.describe()
            out["update_clause"] = self.update_cadence.clause
            out["first_update_due"] = utc_iso(self.deadlines.first_update_due)
            out["next_update_due"] = utc_iso(self.next_update_due(now))
            if zone is not None:
                out["next_update_due_local"] = local_text(self.next_update_due(now), zone)
        other = self.deadlines.response_due_other_reading
        if other is not None:
            out["response_due_other_reading"] = utc_iso(other)
        if zone is not None:
            for name in ("start", "end", "response_due", "resolution_due", "notice_due",
                         "report_due"):
                value = self.start if name == "start" else (
                    self.end if name == "end" else getattr(self.deadlines, name))
                out[f"{name}_local"] = local_text(value, zone)
        return out


def local_text(t: float | None, zone: ZoneInfo) -> str | None:
    """`2026-05-26 16:30 CEST`: how a deadline reads in the vendor's office."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=zone).strftime("%Y-%m-%d %H:%M %Z")


def _merge_gap(contract: ContractConfig, override: float | None) -> float:
    if override is not None:
        return override
    terms = contract.support
    return terms.incident_merge_gap if terms is not None else 0.0


def _end(w: WindowVerdict) -> int:
    return w.window_start + w.window_seconds


def incidents_from_windows(
    contract: ContractConfig, windows: Iterable[WindowVerdict], *,
    merge_gap: float | None = None,
) -> list[Incident]:
    """All incidents in `windows` (current verdicts of `contract`, any order), oldest first.

    Pure: the same windows always give the same incidents. Windows of other contracts are
    ignored. Supply every down window of the span and at least the first `up` window after
    each service's last down window, or that incident is reported open.
    """
    gap = _merge_gap(contract, merge_gap)
    by_service: dict[str, list[WindowVerdict]] = defaultdict(list)
    down_at: dict[int, set[str]] = defaultdict(set)
    for w in windows:
        if w.contract != contract.name:
            continue
        by_service[w.service].append(w)
        if w.verdict == Verdict.DOWN:
            down_at[w.window_start].add(w.service)
    incidents: list[Incident] = []
    for service, seq in by_service.items():
        seq.sort(key=lambda w: w.window_start)
        ups = [w.window_start for w in seq if w.verdict == Verdict.UP]
        groups: list[list[WindowVerdict]] = []
        for w in seq:
            if w.verdict != Verdict.DOWN:
                continue
            if groups and w.window_start - _end(groups[-1][-1]) <= gap:
                groups[-1].append(w)
            else:
                groups.append([w])
        for i, group in enumerate(groups):
            last_end = _end(group[-1])
            closed = i < len(groups) - 1 or bisect.bisect_left(ups, last_end) < len(ups)
            incidents.append(_incident(contract, service, group, down_at,
                                       last_end if closed else None))
    incidents.sort(key=lambda inc: (inc.start, inc.service))
    return incidents


def _incident(contract: ContractConfig, service: str, group: list[WindowVerdict],
              down_at: dict[int, set[str]], end: int | None) -> Incident:
    classes = sorted({c for w in group for c in w.failure_classes})
    together = sorted({s for w in group for s in down_at[w.window_start]})
    first = group[0]
    detected = _end(first)
    terms = contract.support
    base = Incident(
        contract=contract.name, service=service, start=first.window_start, end=end,
        last_down_end=_end(group[-1]), window_seconds=first.window_seconds,
        down_windows=len(group), failure_classes=tuple(classes), services=tuple(together),
        severity=None, severity_label="", severity_since=None, detected_at=detected,
        reported_at=None, deadlines=Deadlines(),
        window_starts=tuple(w.window_start for w in group),
    )
    if terms is None:
        return base
    return _with_terms(base, terms, contract, group, down_at)


def _with_terms(base: Incident, terms: SupportTerms, contract: ContractConfig,
                group: list[WindowVerdict], down_at: dict[int, set[str]]) -> Incident:
    covered = tuple(contract.services())
    reached: dict[str, int] = {}  # severity -> end of the first window at it
    for w in group:
        name = terms.classify(frozenset(down_at[w.window_start]), covered)
        reached.setdefault(name, _end(w))
    severity = min(reached, key=terms.severity_rank)
    level = terms.severity_named(severity)
    since = reached[severity]
    reported = since + level.report_delay
    notice = terms.notifications.incident_notice
    report = terms.notifications.post_incident_report
    notice_at = None
    if notice is not None:
        aware = [t for name, t in reached.items() if notice_applies(notice, name)]
        notice_at = due(notice, min(aware), terms) if aware else None
    report_at = None
    if report is not None and base.end is not None and any(
            notice_applies(report, name) for name in reached):
        report_at = due(report, base.end, terms)
    package = terms.selected
    limits = [x for x in (package.response.get(severity), package.resolution.get(severity))
              if x is not None]
    first = package.response.get(severity)
    other = first.other() if first is not None else None
    answer = response_due(terms, severity, reported)
    cadence = update_cadence(terms, severity)
    anchor = next((t for t in (answer, notice_at) if t is not None), reported)
    return dataclasses.replace(
        base, severity=severity, severity_label=level.label, severity_since=since,
        reported_at=reported, update_cadence=cadence, terms=terms,
        deadlines=Deadlines(
            first_update_due=None if cadence is None else
            update_due_after(terms, cadence, anchor),
            response_due=answer,
            resolution_due=resolution_due(terms, severity, reported),
            notice_due=notice_at, report_due=report_at,
            response_due_other_reading=None if other is None else
            due(other, terms.clock_starts(reported), terms),
        ),
        best_effort=bool(limits) and all(x.best_effort for x in limits),
    )


def _has_down(reader: WindowSource, name: str, start: int, end: int, scope: str) -> bool:
    return bool(reader.windows_by_verdict(name, Verdict.DOWN, start, end, scope=scope, limit=1))


def _still_open_since(contract: ContractConfig, reader: WindowSource, before: int,
                      scope: str) -> int | None:
    """The start of the earliest last-down window before `before` that no up window ever
    followed: an incident that is still open although nothing was recorded since."""
    name = contract.name
    services = {s for c, s, verdict, _, _ in reader.window_counts(scope)
                if c == name and verdict == Verdict.DOWN.value}
    earliest: int | None = None
    for service in sorted(services):
        last = reader.windows_by_verdict(name, Verdict.DOWN, 0, before, scope=scope,
                                         service=service, limit=1, newest_first=True)
        if not last:
            continue
        if reader.windows_by_verdict(name, Verdict.UP, _end(last[0]), 2**62, scope=scope,
                                     service=service, limit=1):
            continue
        start = last[0].window_start
        earliest = start if earliest is None else min(earliest, start)
    return earliest


def read_incidents(
    contract: ContractConfig, reader: WindowSource, start: float, end: float, now: float, *,
    scope: str = "local",
) -> list[Incident]:
    """Incidents of `contract` that overlap `[start, end)`, read from the ledger.

    Reads only down windows (by index): those of the span, those of an incident still open
    from before it, extended backwards and forwards chunk by chunk while an incident
    straddles the span; plus the first up window after each service's last down window,
    which decides whether it is still open.
    """
    gap = _merge_gap(contract, None)
    reach = int(gap) + contract.window_seconds
    name = contract.name
    lo, hi = int(start), int(min(end, now + contract.window_seconds))
    hi = max(hi, lo)
    downs = reader.windows_by_verdict(name, Verdict.DOWN, lo, hi, scope=scope)
    stale = _still_open_since(contract, reader, lo, scope)
    if stale is not None and stale < lo:
        downs = reader.windows_by_verdict(name, Verdict.DOWN, stale, lo, scope=scope) + downs
        lo = stale
    floor = lo - MAX_EXTENSION
    while lo > floor and _has_down(reader, name, lo - reach, lo, scope):
        downs = reader.windows_by_verdict(name, Verdict.DOWN, lo - READ_CHUNK, lo,
                                          scope=scope) + downs
        lo -= READ_CHUNK
    ceiling = hi + MAX_EXTENSION
    while hi < ceiling and _has_down(reader, name, hi, hi + reach, scope):
        downs += reader.windows_by_verdict(name, Verdict.DOWN, hi, hi + READ_CHUNK,
                                           scope=scope)
        hi += READ_CHUNK
    last_down: dict[str, int] = {}
    for w in downs:
        last_down[w.service] = max(last_down.get(w.service, 0), _end(w))
    extra: list[WindowVerdict] = []
    for service, after in last_down.items():
        for verdict, since in ((Verdict.UP, after), (Verdict.DOWN, hi)):
            extra += reader.windows_by_verdict(name, verdict, since, 2**62, scope=scope,
                                               service=service, limit=1)
    found = incidents_from_windows(contract, [*downs, *extra])
    return [inc for inc in found
            if inc.start < end and (inc.end is None or inc.end > start)]
