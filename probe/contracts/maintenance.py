"""Maintenance: the contract's rules, the vendor's announced entries, and which minutes count.

Each entry is checked against its contract's rules in start order. A `binding` rule that
breaks turns minutes back into ordinary minutes (a down window stays down): all of them for
notice, count and kind, only the excess for length, monthly budget and allowed hours. An
`advisory` rule ("commercially reasonable efforts") that breaks is reported, never counted.
Budgets are per contract (maintenance is time the vendor takes, whichever service it
touches); minutes that already count as downtime do not use up a budget, and an entry whose
every minute counts is not an "intervention" for the count rule.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field, model_validator

from probe.durations import Duration, format_duration
from probe.fields import NAME_PATTERN, StrictModel, TimeZoneName

Kind = Literal["scheduled", "emergency"]


def _scheduled() -> list[Kind]:
    return ["scheduled"]


def _both() -> list[Kind]:
    return ["scheduled", "emergency"]


class _Rule(StrictModel):
    binding: bool = True
    kinds: list[Kind] = Field(default_factory=_scheduled)
    clause: str = ""


class NoticeRule(_Rule):
    min: Duration


class LengthRule(_Rule):
    max: Duration


class CountRule(_Rule):
    max: int = Field(ge=1)
    months: int = Field(default=6, ge=1, le=120)


class HoursRule(_Rule):
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")
    timezone: TimeZoneName | None = None

    def minutes(self) -> tuple[int, int]:
        (sh, sm), (eh, em) = (map(int, t.split(":")) for t in (self.start, self.end))
        return sh * 60 + sm, eh * 60 + em

    def allows(self, t: float, default_zone: ZoneInfo) -> bool:
        zone = ZoneInfo(self.timezone) if self.timezone else default_zone
        local = datetime.fromtimestamp(t, tz=zone)
        minute = local.hour * 60 + local.minute
        lo, hi = self.minutes()
        return lo <= minute < hi if lo <= hi else (minute >= lo or minute < hi)


class MaintenanceRules(StrictModel):
    """Which maintenance a contract excludes from downtime, and on which conditions."""

    excluded_kinds: list[Kind] = Field(default_factory=_both)
    min_notice: NoticeRule | None = None
    max_length: LengthRule | None = None
    max_per_month: LengthRule | None = None
    max_count: CountRule | None = None
    allowed_hours: HoursRule | None = None


class MaintenanceEntry(StrictModel):
    """One maintenance the vendor announced (or took): top-level `maintenance:` in config."""

    contract: str
    services: list[str] = Field(default_factory=list)
    start: AwareDatetime
    end: AwareDatetime
    announced_at: AwareDatetime | None = None
    kind: Kind = "scheduled"
    reference: str = Field(pattern=NAME_PATTERN, max_length=128)
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceEntry:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def covers(self, service: str) -> bool:
        return not self.services or service in self.services


@dataclasses.dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    binding: bool
    message: str
    counted_minutes: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class Assessment:
    """One entry judged: which windows are excluded, which count, and why."""

    entry: MaintenanceEntry
    excluded: tuple[int, ...]
    counted: dict[int, str]
    violations: tuple[Violation, ...]
    window_seconds: int

    @property
    def status(self) -> Literal["valid", "partly valid", "invalid"]:
        if not self.counted:
            return "valid"
        return "invalid" if not self.excluded else "partly valid"

    @property
    def invalid(self) -> bool:
        return any(v.binding for v in self.violations)

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if not v.binding]

    @property
    def excluded_minutes(self) -> float:
        return len(self.excluded) * self.window_seconds / 60

    @property
    def counted_minutes(self) -> float:
        return len(self.counted) * self.window_seconds / 60


def entry_windows(entry: MaintenanceEntry, window_seconds: int) -> list[int]:
    """Windows whose start lies in [start, end): an attempt's window is where it started."""
    start, end = entry.start.timestamp(), entry.end.timestamp()
    first = -(-int(start) // window_seconds) * window_seconds
    return list(range(first, int(end) if end == int(end) else int(end) + 1, window_seconds))


def months_before(t: float, months: int, zone: ZoneInfo) -> float:
    """The same local wall time `months` calendar months earlier (day clamped to month end)."""
    local = datetime.fromtimestamp(t, tz=zone)
    index = local.year * 12 + local.month - 1 - months
    year, month = divmod(index, 12)
    day = local.day
    while True:
        try:
            return local.replace(year=year, month=month + 1, day=day).timestamp()
        except ValueError:
            day -= 1


def _month_key(t: int, zone: ZoneInfo) -> tuple[int, int]:
    local = datetime.fromtimestamp(t, tz=zone)
    return local.year, local.month


class _Judge:
    """Walks one contract's entries in start order, keeping budgets across them."""

    def __init__(self, rules: MaintenanceRules, zone: ZoneInfo, window_seconds: int) -> None:
        self.rules = rules
        self.zone = zone
        self.ws = window_seconds
        self.used: Counter[tuple[int, int]] = Counter()
        self.accepted: list[MaintenanceEntry] = []

    def _applies(self, rule: _Rule | None, entry: MaintenanceEntry) -> bool:
        return rule is not None and entry.kind in rule.kinds

    def judge(self, entry: MaintenanceEntry) -> Assessment:
        windows = entry_windows(entry, self.ws)
        counted: dict[int, str] = {}
        violations: list[Violation] = []

        def breach(rule: str, binding: bool, message: str, which: Sequence[int]) -> None:
            fresh = [w for w in which if w not in counted] if binding else []
            for w in fresh:
                counted[w] = rule
            violations.append(Violation(rule, binding, message, len(fresh) * self.ws / 60))

        r = self.rules
        if entry.kind not in r.excluded_kinds:
            breach("kind", True, f"the contract excludes no {entry.kind} maintenance", windows)
        notice = r.min_notice
        if notice is not None and self._applies(notice, entry):
            given = (None if entry.announced_at is None
                     else entry.start.timestamp() - entry.announced_at.timestamp())
            if given is None or given < notice.min:
                said = "no announcement date" if given is None else \
                    f"announced {format_duration(max(0.0, round(given)))} ahead"
                breach("min_notice", notice.binding,
                       f"{said}, needs {format_duration(notice.min)}", windows)
        count = r.max_count
        if count is not None and self._applies(count, entry):
            since = months_before(entry.start.timestamp(), count.months, self.zone)
            prior = [e for e in self.accepted if e.kind in count.kinds
                     and since <= e.start.timestamp() < entry.start.timestamp()]
            if len(prior) >= count.max:
                breach("max_count", count.binding,
                       f"{len(prior) + 1} interventions within {count.months} months, "
                       f"allowed {count.max} (previous: {prior[-1].reference})", windows)
        hours = r.allowed_hours
        if hours is not None and self._applies(hours, entry):
            outside = [w for w in windows if not hours.allows(w, self.zone)]
            if outside:
                zone = hours.timezone or str(self.zone)
                breach("allowed_hours", hours.binding,
                       f"{len(outside) * self.ws // 60} min outside {hours.start}-{hours.end} "
                       f"{zone}", outside)
        length = r.max_length
        if length is not None and self._applies(length, entry):
            keep = int(length.max // self.ws)
            if len(windows) > keep:
                breach("max_length", length.binding,
                       f"lasts {format_duration(len(windows) * self.ws)}, "
                       f"longer than {format_duration(length.max)}", windows[keep:])
        budget = r.max_per_month
        if budget is not None and self._applies(budget, entry):
            over: list[int] = []
            for w in windows:
                if w in counted:
                    continue
                key = _month_key(w, self.zone)
                if (self.used[key] + 1) * self.ws > budget.max:
                    over.append(w)
                else:
                    self.used[key] += 1
            if over:
                breach("max_per_month", budget.binding,
                       f"exceeds {format_duration(budget.max)} of maintenance per month",
                       over)
        excluded = tuple(w for w in windows if w not in counted)
        if excluded:
            self.accepted.append(entry)
        return Assessment(entry, excluded, counted, tuple(violations), self.ws)


def assess(
    entries: Sequence[MaintenanceEntry], rules: MaintenanceRules, zone: ZoneInfo,
    window_seconds: int,
) -> list[Assessment]:
    """Judge one contract's entries, in start order (ties by reference)."""
    judge = _Judge(rules, zone, window_seconds)
    ordered = sorted(entries, key=lambda e: (e.start, e.reference))
    return [judge.judge(e) for e in ordered]
