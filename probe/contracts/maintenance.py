"""Maintenance: the contract's rules, the vendor's announced entries, and which minutes count.

Each entry is checked against its contract's rules in start order. A `binding` rule that
breaks turns minutes back into ordinary minutes (a down window stays down): all of them for
notice, count and kind, only the excess for length, monthly budget and allowed hours. An
`advisory` rule ("commercially reasonable efforts") that breaks is reported, never counted.
Budgets are charged per service on the union of the entries' windows: two entries that
overlap (01:00-03:00 and 02:00-04:00) take 3 h of a 3 h budget, not 4 h, because the vendor
took three hours of the service, once (issue 15, item 1). Minutes that already count as
downtime do not use up a budget, and an entry whose every minute counts is not an
"intervention" for the count rule.

Notice periods written in days or weeks (`14d`, `8w`) are calendar arithmetic in the
contract's zone: an announcement on 17 March 22:00 CET for 12 May 22:00 CEST is 8 weeks
ahead although only 1,343 hours elapsed (issue 15, item 5). Hours and minutes are elapsed
time. The report shows the elapsed reading beside it (`notice_reading`).
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
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


def _calendar_unit(value: Any) -> bool:
    """True when a duration is written in whole days and/or weeks only (`14d`, `8w`)."""
    return isinstance(value, str) and bool(re.fullmatch(r"\s*(\d+\s*[dw]\s*)+", value))


class NoticeRule(_Rule):
    """How far ahead maintenance must be announced. `counting` is `calendar` for a notice
    written in days or weeks (same local wall time N days earlier, in the contract's zone)
    and `elapsed` for hours and minutes; it may be set explicitly."""

    min: Duration
    counting: Literal["calendar", "elapsed"] = "elapsed"

    @model_validator(mode="before")
    @classmethod
    def _counting(cls, value: Any) -> Any:
        if isinstance(value, dict) and "counting" not in value and _calendar_unit(
                value.get("min")):
            return {**value, "counting": "calendar"}
        return value

    def latest_announcement(self, start: float, zone: ZoneInfo,
                            counting: str | None = None) -> float:
        """The last instant at which an announcement for `start` is still in time."""
        if (counting or self.counting) == "elapsed" or self.min % 86400:
            return start - self.min
        local = datetime.fromtimestamp(start, tz=zone).replace(tzinfo=None)
        earlier = local - timedelta(days=self.min // 86400)
        return earlier.replace(tzinfo=zone).timestamp()


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

    def __init__(self, rules: MaintenanceRules, zone: ZoneInfo, window_seconds: int,
                 notice_counting: str | None = None) -> None:
        self.rules = rules
        self.zone = zone
        self.ws = window_seconds
        self.notice_counting = notice_counting
        # Per (month, service) the windows already charged to the monthly budget; "*" is an
        # entry that covers every service. A service's use is its own set united with "*".
        self.charged: defaultdict[tuple[tuple[int, int], str], set[int]] = defaultdict(set)
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
            start = entry.start.timestamp()
            given = (None if entry.announced_at is None
                     else start - entry.announced_at.timestamp())
            late = entry.announced_at is not None and entry.announced_at.timestamp() > \
                notice.latest_announcement(start, self.zone, self.notice_counting)
            if given is None or late:
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
            over = self._charge(entry, [w for w in windows if w not in counted], budget.max)
            if over:
                breach("max_per_month", budget.binding,
                       f"exceeds {format_duration(budget.max)} of maintenance per month",
                       over)
        excluded = tuple(w for w in windows if w not in counted)
        if excluded:
            self.accepted.append(entry)
        return Assessment(entry, excluded, counted, tuple(violations), self.ws)

    def _used(self, month: tuple[int, int], service: str) -> set[int]:
        if service == "*":
            return self.charged[(month, "*")]
        return self.charged[(month, "*")] | self.charged[(month, service)]

    def _charge(self, entry: MaintenanceEntry, windows: Sequence[int], budget: float
                ) -> list[int]:
        """Charge `windows` to the monthly budget of every service the entry covers, on the
        union with what earlier entries charged; return the windows over budget."""
        over: list[int] = []
        keys = list(entry.services) or ["*"]
        for w in windows:
            month = _month_key(w, self.zone)
            # An all-services entry is judged against every service seen so far this month.
            names = keys if entry.services else \
                ["*", *{s for (m, s) in self.charged if m == month and s != "*"}]
            fresh = [s for s in names if w not in self._used(month, s)]
            if any((len(self._used(month, s)) + 1) * self.ws > budget for s in fresh):
                over.append(w)
                continue
            for s in keys:
                self.charged[(month, s)].add(w)
        return over


def assess(
    entries: Sequence[MaintenanceEntry], rules: MaintenanceRules, zone: ZoneInfo,
    window_seconds: int, *, notice_counting: str | None = None,
) -> list[Assessment]:
    """Judge one contract's entries, in start order (ties by reference).

    `notice_counting` overrides the notice rule's counting (`elapsed`), so the report can
    show what the other reading of a notice period would give."""
    judge = _Judge(rules, zone, window_seconds, notice_counting)
    ordered = sorted(entries, key=lambda e: (e.start, e.reference))
    return [judge.judge(e) for e in ordered]
