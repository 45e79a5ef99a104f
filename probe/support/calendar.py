"""Business-hours arithmetic on a support calendar: pure, DST-correct, fast.

A calendar is a time zone, opening hours per weekday (local wall-clock intervals, half-open
`[open, close)`), and holidays (local dates on which it is closed all day). Everything is
computed in UTC epoch seconds; wall-clock intervals are resolved to instants day by day, so a
DST change inside a response window shortens or lengthens nothing that the contract counts in
wall-clock business hours, while elapsed-time deadlines (`24h`) stay elapsed time.

Deadlines are "the earliest instant at which N business hours have elapsed": eight business
hours from Monday 09:00 on a 09:00-17:00 calendar end at Monday 17:00, not Tuesday 09:00.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection, Iterator, Sequence
from zoneinfo import ZoneInfo

SECONDS_PER_DAY = 86400
# A calendar that is closed for this many consecutive days is treated as never open again.
MAX_CLOSED_DAYS = 400

Interval = tuple[float, float]
DayHours = tuple[tuple[int, int], ...]  # (open, close) seconds after local midnight, sorted


class CalendarError(ValueError):
    """A calendar that cannot answer: never open, or malformed hours."""


def _never(_: dt.date) -> bool:
    return False


class BusinessCalendar:
    """Opening hours in a time zone, minus holidays.

    `week[0]` is Monday. Each day's intervals are `(open, close)` seconds after local midnight
    with `0 <= open < close <= 86400`, sorted and non-overlapping. `is_holiday(date)` closes a
    whole local date. `BusinessCalendar.always()` is open around the clock (24x7).
    """

    def __init__(
        self,
        zone: ZoneInfo | str,
        week: Sequence[Sequence[tuple[int, int]]],
        is_holiday: Callable[[dt.date], bool] | Collection[dt.date] = (),
    ) -> None:
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        if len(week) != 7:
            raise CalendarError("a week has 7 days, Monday first")
        normalized: list[DayHours] = []
        for day in week:
            ranges = tuple(sorted((int(a), int(b)) for a, b in day))
            previous_close = 0
            for a, b in ranges:
                if not 0 <= a < b <= SECONDS_PER_DAY or a < previous_close:
                    raise CalendarError(f"bad or overlapping business hours {ranges}")
                previous_close = b
            normalized.append(ranges)
        if not any(normalized):
            raise CalendarError("the calendar has no business hours on any weekday")
        self.week: tuple[DayHours, ...] = tuple(normalized)
        if callable(is_holiday):
            self._is_holiday: Callable[[dt.date], bool] = is_holiday
            self._has_holidays = True
        else:
            dates = frozenset(is_holiday)
            self._is_holiday = dates.__contains__ if dates else _never
            self._has_holidays = bool(dates)
        full = ((0, SECONDS_PER_DAY),)
        self._always = not self._has_holidays and all(day == full for day in self.week)
        self._cache: dict[dt.date, tuple[Interval, ...]] = {}

    @classmethod
    def always(cls, zone: ZoneInfo | str = "UTC") -> BusinessCalendar:
        """Open 24 hours a day, 7 days a week: business time is elapsed time."""
        return cls(zone, [((0, SECONDS_PER_DAY),)] * 7)

    @property
    def is_always_open(self) -> bool:
        return self._always

    # -- the calendar, day by day -------------------------------------------------------------

    def local_date(self, t: float) -> dt.date:
        return dt.datetime.fromtimestamp(t, tz=self.zone).date()

    def _instant(self, day: dt.date, seconds: int) -> float:
        if seconds >= SECONDS_PER_DAY:
            day, seconds = day + dt.timedelta(days=1), seconds - SECONDS_PER_DAY
        hour, rest = divmod(seconds, 3600)
        local = dt.datetime(day.year, day.month, day.day, hour, rest // 60, rest % 60,
                            tzinfo=self.zone)
        return local.timestamp()

    def is_holiday(self, day: dt.date) -> bool:
        return self._is_holiday(day)

    def intervals(self, day: dt.date) -> tuple[Interval, ...]:
        """The business intervals of one local date as UTC epoch `[open, close)` pairs.

        A wall-clock time skipped by a DST change is read with the offset before the change
        (02:30 on the spring-forward night is 03:30), an interval that would run backwards is
        dropped, and a repeated hour is counted twice, as it happens.
        """
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        out: list[Interval] = []
        if not self._is_holiday(day):
            for a, b in self.week[day.weekday()]:
                start, end = self._instant(day, a), self._instant(day, b)
                if end > start:
                    out.append((start, end))
        result = tuple(out)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[day] = result
        return result

    def is_business_day(self, day: dt.date) -> bool:
        return bool(self.intervals(day))

    def _intervals_after(self, t: float) -> Iterator[Interval]:
        """Successive business intervals that end after `t`, in order."""
        day = self.local_date(t)
        closed_days = 0
        while True:
            found = False
            for interval in self.intervals(day):
                if interval[1] > t:
                    found = True
                    yield interval
            if found:
                closed_days = 0
            else:
                closed_days += 1
                if closed_days > MAX_CLOSED_DAYS:
                    raise CalendarError(f"no business hours within {MAX_CLOSED_DAYS} days")
            day += dt.timedelta(days=1)

    # -- questions ----------------------------------------------------------------------------

    def is_open(self, t: float) -> bool:
        """Whether instant `t` lies inside a business interval (`open <= t < close`)."""
        if self._always:
            return True
        return any(a <= t < b for a, b in self.intervals(self.local_date(t)))

    def next_open(self, t: float) -> float:
        """The first business instant at or after `t` (`t` itself during business hours)."""
        if self._always:
            return t
        a, _ = next(self._intervals_after(t))
        return max(a, t)

    def add_business_seconds(self, t: float, seconds: float) -> float:
        """The earliest instant by which `seconds` of business time have elapsed after `t`."""
        if seconds < 0 or math.isnan(seconds):
            raise ValueError("business time to add must be zero or positive")
        if seconds == 0:
            return t
        if self._always:
            return t + seconds
        remaining = seconds
        for a, b in self._intervals_after(t):
            start = max(a, t)
            available = b - start
            if remaining <= available:
                return start + remaining
            remaining -= available
        raise AssertionError("the business intervals never end")

    def add_business_hours(self, t: float, hours: float) -> float:
        return self.add_business_seconds(t, hours * 3600.0)

    def business_seconds_between(self, start: float, end: float) -> float:
        """Business time inside `[start, end)`; zero when `end <= start`."""
        if end <= start:
            return 0.0
        if self._always:
            return end - start
        total = 0.0
        for a, b in self._intervals_after(start):
            if a >= end:
                return total
            total += min(b, end) - max(a, start)
            if b >= end:
                return total
        raise AssertionError("the business intervals never end")

    def _business_day_after(self, day: dt.date, n: int) -> dt.date:
        """The `n`-th business day after `day` (n >= 1)."""
        closed = 0
        while n > 0:
            day += dt.timedelta(days=1)
            if self.is_business_day(day):
                n -= 1
                closed = 0
            else:
                closed += 1
                if closed > MAX_CLOSED_DAYS:
                    raise CalendarError(f"no business hours within {MAX_CLOSED_DAYS} days")
        return day

    def _elapsed_in_day(self, day: dt.date, offset: float) -> float:
        """The instant at which `offset` business seconds of `day` have elapsed (clamped)."""
        intervals = self.intervals(day)
        for a, b in intervals:
            if offset <= b - a:
                return a + offset
            offset -= b - a
        return intervals[-1][1]

    def add_business_days(self, t: float, days: int) -> float:
        """The same business moment `days` business days later.

        `t` is first moved to the next business instant. From the opening of a business day,
        one business day ends at that day's close; from the middle of one, at the same
        elapsed business time of the next business day (Wednesday 11:00 -> Thursday 11:00;
        clamped to that day's close when it is shorter).
        """
        if days < 0 or int(days) != days:
            raise ValueError("business days to add must be a whole number, zero or more")
        if days == 0:
            return t
        if self._always:
            return add_calendar_days(t, days, self.zone)
        start = self.next_open(t)
        day = self.local_date(start)
        intervals = self.intervals(day)
        if not intervals or start >= intervals[-1][1]:  # a close at local midnight
            day = self.local_date(start - 1)
            intervals = self.intervals(day)
        offset = sum(max(0.0, min(b, start) - a) for a, b in intervals)
        if offset == 0:
            target = day if days == 1 else self._business_day_after(day, days - 1)
            return self.intervals(target)[-1][1]
        return self._elapsed_in_day(self._business_day_after(day, days), offset)


def add_calendar_days(t: float, days: int, zone: ZoneInfo) -> float:
    """Same local wall-clock time `days` calendar days later (23 or 25 hours on DST days)."""
    local = dt.datetime.fromtimestamp(t, tz=zone)
    moved = (local.replace(tzinfo=None) + dt.timedelta(days=days)).replace(tzinfo=zone)
    return moved.timestamp()


def parse_clock(text: str) -> int:
    """Seconds after midnight of `HH:MM` (`24:00` is the end of the day)."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise CalendarError(f"{text!r} is not a time of day HH:MM")
    value = int(hours) * 3600 + int(minutes) * 60
    if int(minutes) >= 60 or value > SECONDS_PER_DAY:
        raise CalendarError(f"{text!r} is not a time of day between 00:00 and 24:00")
    return value
