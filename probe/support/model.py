"""Support terms of a contract: severities, response times, support calendars, notices.

The `support:` block of a contract. One contract text usually offers several packages (ECO
24x7, SBX 8x5 ...); `package` selects the one that was bought. Calendars are named, because
one package can count different severities on different clocks (Securosys ECO: P1 on the 24x7
Support Service Time, P2-P4 on Office Hours).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from probe.durations import Duration
from probe.fields import StrictModel, TimeZoneName
from probe.support.calendar import SECONDS_PER_DAY, BusinessCalendar, CalendarError, parse_clock
from probe.support.limits import NoticeTerm, TimeLimit, TimeUnit, UpdateCadence, parse_time_limit

__all__ = ["NoticeTerm", "TimeLimit", "TimeUnit", "UpdateCadence", "parse_time_limit"]

# -- time limits: probe/support/limits.py (re-exported here) --------------------------------

class Notifications(StrictModel):
    incident_notice: NoticeTerm | None = None
    """Counted from detection (the probe's proxy for the vendor becoming aware)."""
    post_incident_report: NoticeTerm | None = None
    """Counted from resolution (the end of the incident)."""
    status_updates: UpdateCadence | None = None
    """Updates owed while a (material, `severities`) incident is unresolved, whatever the
    package (Securosys §1.5 "Status updates at reasonable intervals")."""


# -- calendars ------------------------------------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _day_set(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        if part in ("daily", "all", "mon-sun"):
            out.extend(range(7))
            continue
        first, sep, last = part.partition("-")
        if first not in _DAYS or (sep and last not in _DAYS):
            raise ValueError(f"{spec!r}: days are mon..sun, ranges mon-fri, lists sat,sun")
        a = _DAYS.index(first)
        b = _DAYS.index(last) if sep else a
        if b < a:
            raise ValueError(f"{spec!r}: a day range runs forwards, e.g. mon-fri")
        out.extend(range(a, b + 1))
    return out


def _ranges(value: str | list[str]) -> list[tuple[int, int]]:
    items = [value] if isinstance(value, str) else value
    out: list[tuple[int, int]] = []
    for item in items:
        start, sep, end = str(item).partition("-")
        if not sep:
            raise ValueError(f"{item!r} is not an interval HH:MM-HH:MM")
        try:
            a, b = parse_clock(start), parse_clock(end)
        except CalendarError as exc:
            raise ValueError(str(exc)) from None
        if b <= a:
            raise ValueError(f"{item!r}: the close must be after the open (same day)")
        out.append((a, b))
    return out


def parse_hours(value: str | dict[str, str | list[str]]) -> tuple[tuple[tuple[int, int], ...],
                                                                   ...]:
    """`24x7`, or weekday spec -> interval(s): `{mon-fri: "09:00-17:00"}`."""
    if isinstance(value, str):
        if value.strip().lower() in ("24x7", "24/7"):
            return tuple(((0, SECONDS_PER_DAY),) for _ in range(7))
        raise ValueError("hours must be 24x7 or a mapping such as {mon-fri: 09:00-17:00}")
    week: list[list[tuple[int, int]] | None] = [None] * 7
    for spec, ranges in value.items():
        parsed = _ranges(ranges)
        for day in _day_set(str(spec)):
            if week[day] is not None:
                raise ValueError(f"{_DAYS[day]} is given twice")
            week[day] = parsed
    out = tuple(tuple(sorted(ranges or ())) for ranges in week)
    for day_ranges in out:
        for (_, close), (nxt, _) in itertools.pairwise(day_ranges):
            if nxt < close:
                raise ValueError("business intervals of one day overlap")
    if not any(out):
        raise ValueError("no business hours on any day")
    return out


@functools.cache
def _english(country: str) -> str | None:
    """English holiday names where the package has them, so `exclude` can name them."""
    import holidays as holidays_lib  # noqa: PLC0415 - lazy: 4 MiB, only for holiday calendars

    try:
        languages = holidays_lib.country_holidays(country).supported_languages
    except (NotImplementedError, KeyError) as exc:
        raise ValueError(str(exc)) from None
    return next((lang for lang in ("en_US", "en_GB") if lang in languages), None)


class HolidaySource(StrictModel):
    """Public holidays from the `holidays` package: ISO country, optional subdivision
    (e.g. CH/ZH, BR/SP, GB/ENG), categories, and names the contract does not observe."""

    country: str = Field(min_length=2, max_length=3)
    subdiv: str | None = None
    categories: list[str] = Field(default_factory=lambda: ["public"])
    exclude: list[str] = Field(default_factory=list)
    """English holiday names (case-insensitive) to drop, e.g. "Labor Day"."""

    @model_validator(mode="after")
    def _known(self) -> HolidaySource:
        try:
            self.for_year(2026)
        except (NotImplementedError, ValueError, KeyError) as exc:
            raise ValueError(f"holidays: {exc}") from None
        return self

    def for_year(self, year: int) -> dict[dt.date, str]:
        """Holiday dates of one year with their names, exclusions applied."""
        import holidays as holidays_lib  # noqa: PLC0415 - lazy, see _english

        found = holidays_lib.country_holidays(
            self.country, subdiv=self.subdiv, years=year, language=_english(self.country),
            categories=tuple(self.categories),
        )
        dropped = {name.casefold() for name in self.exclude}
        out: dict[dt.date, str] = {}
        for day, names in found.items():
            kept = [n for n in str(names).split("; ") if n.casefold() not in dropped]
            if kept:
                out[day] = "; ".join(kept)
        return out


class ExtraHoliday(StrictModel):
    """A local day off the package does not know: one `date` (Sechseläuten 2026-04-20) or an
    `annual` month-day (`01-02`, Berchtold's Day) observed every year."""

    date: dt.date | None = None
    annual: str | None = Field(default=None, pattern=r"^\d\d-\d\d$")
    name: str = ""

    @model_validator(mode="after")
    def _one(self) -> ExtraHoliday:
        if (self.date is None) == (self.annual is None):
            raise ValueError("give exactly one of date (YYYY-MM-DD) or annual (MM-DD)")
        if self.annual is not None:
            month, day = (int(x) for x in self.annual.split("-"))
            dt.date(2000, month, day)  # a leap year: 02-29 is allowed
        return self

    def on(self, year: int) -> dt.date | None:
        if self.date is not None:
            return self.date if self.date.year == year else None
        assert self.annual is not None
        month, day = (int(x) for x in self.annual.split("-"))
        try:
            return dt.date(year, month, day)
        except ValueError:  # 02-29 outside leap years
            return None


class CalendarConfig(StrictModel):
    """A support calendar: time zone, business hours per weekday, holidays."""

    timezone: TimeZoneName = "UTC"
    hours: str | dict[str, str | list[str]] = "24x7"
    holidays: HolidaySource | None = None
    extra_holidays: list[ExtraHoliday] = Field(default_factory=list)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str | dict[str, str | list[str]]) -> str | dict[str, str | list[str]]:
        parse_hours(value)
        return value

    def holiday_names(self, year: int) -> dict[dt.date, str]:
        out = self.holidays.for_year(year) if self.holidays is not None else {}
        for extra in self.extra_holidays:
            day = extra.on(year)
            if day is not None:
                out[day] = extra.name or out.get(day, "holiday")
        return out

    def build(self) -> BusinessCalendar:
        per_year: dict[int, frozenset[dt.date]] = {}

        def is_holiday(day: dt.date) -> bool:
            dates = per_year.get(day.year)
            if dates is None:
                dates = per_year[day.year] = frozenset(self.holiday_names(day.year))
            return day in dates

        if self.holidays is None and not self.extra_holidays:
            return BusinessCalendar(self.timezone, parse_hours(self.hours))
        return BusinessCalendar(self.timezone, parse_hours(self.hours), is_holiday)


# -- severities and packages ----------------------------------------------------------------


class Severity(StrictModel):
    """One severity level, as the contract names and defines it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$", max_length=40)
    label: str = ""
    description: str = ""
    report_delay: Duration = 0.0
    """How long after detection a report becomes valid (Securosys P1: phone call 15 min
    after the ticket); the response clock starts then."""


class SupportPackage(StrictModel):
    """One support package: its Support Service Time and its times per severity."""

    description: str = ""
    calendar: str
    response: dict[str, TimeLimit] = Field(default_factory=dict)
    resolution: dict[str, TimeLimit] = Field(default_factory=dict)
    updates: dict[str, UpdateCadence] = Field(default_factory=dict)
    """Per severity: how often the vendor owes a status update (issue 15, item 8)."""


class SeverityRule(StrictModel):
    """An impairment that maps to a severity: at least `min_down` of `services` (default all
    of the contract's services) down in the same window. Rules are tried most severe first."""

    severity: str
    services: list[str] | None = None
    min_down: int | Literal["all"] = 1

    @field_validator("min_down")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("must be at least 1, or all")
        return value

    def matches(self, down: frozenset[str], covered: tuple[str, ...]) -> bool:
        scope = tuple(self.services) if self.services is not None else covered
        hit = sum(1 for s in scope if s in down)
        need = len(scope) if self.min_down == "all" else self.min_down
        return hit > 0 and hit >= need


class ClockStart(StrictModel):
    """When the response clock starts for a report received outside business hours.

    senhasegura §7.9 "In notifications sent by the portal, the service time counts from the
    first hour of the business day following receipt of the ticket, if it occurs outside
    business hours, even for the S-24x7 support mode": with `next_business_day`, a report
    outside `calendar`'s hours starts every clock (24x7 ones too) at the next business
    opening. Reports are assumed to go through the portal (§7.1 "Occurrences ... must be
    notified to the senhasegura service portal")."""

    outside_hours: Literal["immediately", "next_business_day"] = "immediately"
    calendar: str
    clause: str = ""


class SupportTerms(StrictModel):
    """The support half of a contract."""

    package: str
    timezone: TimeZoneName = "UTC"
    """Where calendar days are counted (post-incident report within 30 calendar days)."""
    calendars: dict[str, CalendarConfig] = Field(min_length=1)
    severities: list[Severity] = Field(min_length=1)
    """Most severe first."""
    packages: dict[str, SupportPackage] = Field(min_length=1)
    notifications: Notifications = Field(default_factory=Notifications)
    severity_rules: list[SeverityRule] = Field(default_factory=list)
    default_severity: str | None = None
    """Severity of an outage no rule matches; default: the least severe."""
    incident_merge_gap: Duration = 0.0
    """Down windows at most this far apart belong to one incident."""
    clock_start: ClockStart | None = None

    @model_validator(mode="after")
    def _references(self) -> SupportTerms:
        names = [s.name for s in self.severities]
        if len(set(names)) != len(names):
            raise ValueError("severity names must be unique")
        problems: list[str] = []
        if self.package not in self.packages:
            problems.append(f"package {self.package!r} is not one of {sorted(self.packages)}")

        def severity(where: str, name: str) -> None:
            if name not in names:
                problems.append(f"{where}: unknown severity {name!r} (known: {names})")

        def calendar(where: str, name: str | None) -> None:
            if name is not None and name not in self.calendars:
                problems.append(f"{where}: unknown calendar {name!r} "
                                f"(known: {sorted(self.calendars)})")

        for pname, package in self.packages.items():
            calendar(f"packages.{pname}.calendar", package.calendar)
            for kind in ("response", "resolution"):
                for sname, limit in getattr(package, kind).items():
                    severity(f"packages.{pname}.{kind}", sname)
                    calendar(f"packages.{pname}.{kind}.{sname}.calendar", limit.calendar)
            for sname, cadence in package.updates.items():
                severity(f"packages.{pname}.updates", sname)
                if cadence.every is not None:
                    calendar(f"packages.{pname}.updates.{sname}.every.calendar",
                             cadence.every.calendar)
        for kind in ("incident_notice", "post_incident_report"):
            notice: NoticeTerm | None = getattr(self.notifications, kind)
            if notice is not None:
                calendar(f"notifications.{kind}.calendar", notice.calendar)
                for sname in notice.severities or ():
                    severity(f"notifications.{kind}.severities", sname)
                if notice.unit in ("business_hours", "business_days") and notice.calendar is None:
                    problems.append(f"notifications.{kind}: business time needs a calendar")
        status = self.notifications.status_updates
        if status is not None:
            for sname in status.severities or ():
                severity("notifications.status_updates.severities", sname)
            if status.every is not None:
                calendar("notifications.status_updates.every.calendar", status.every.calendar)
        for i, rule in enumerate(self.severity_rules):
            severity(f"severity_rules[{i}]", rule.severity)
        if self.default_severity is not None:
            severity("default_severity", self.default_severity)
        if self.clock_start is not None:
            calendar("clock_start.calendar", self.clock_start.calendar)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- derived ------------------------------------------------------------------------

    @property
    def selected(self) -> SupportPackage:
        return self.packages[self.package]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def compiled_calendars(self) -> dict[str, BusinessCalendar]:
        return {name: cal.build() for name, cal in self.calendars.items()}

    def calendar(self, name: str | None = None) -> BusinessCalendar:
        """A named calendar, or the selected package's Support Service Time."""
        return self.compiled_calendars[name or self.selected.calendar]

    def clock_starts(self, reported_at: float) -> float:
        """When the response and resolution clocks start for a report at `reported_at`."""
        rule = self.clock_start
        if rule is None or rule.outside_hours == "immediately":
            return reported_at
        return self.calendar(rule.calendar).next_open(reported_at)

    def severity_rank(self, name: str) -> int:
        for i, severity in enumerate(self.severities):
            if severity.name == name:
                return i
        raise KeyError(name)

    def severity_named(self, name: str) -> Severity:
        return self.severities[self.severity_rank(name)]

    @property
    def fallback_severity(self) -> str:
        return self.default_severity or self.severities[-1].name

    def classify(self, down: frozenset[str], covered: tuple[str, ...]) -> str:
        """The severity of one window in which the services `down` are down."""
        best: int | None = None
        for rule in self.severity_rules:
            if rule.matches(down, covered):
                rank = self.severity_rank(rule.severity)
                best = rank if best is None else min(best, rank)
        return self.severities[best].name if best is not None else self.fallback_severity

    def unknown_services(self, services: list[str]) -> list[str]:
        """Services named in severity rules that the contract does not cover (for config
        cross-checks)."""
        known = set(services)
        return sorted({s for rule in self.severity_rules for s in rule.services or ()
                       if s not in known})
