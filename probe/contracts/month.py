"""The calendar month of a contract, in its own time zone, and what the month adds up to."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from probe.model import Reason, Verdict


@dataclasses.dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        try:
            parsed = datetime.strptime(text, "%Y-%m")  # noqa: DTZ007 - only year and month
        except ValueError:
            raise ValueError(f"month must be YYYY-MM, got {text!r}") from None
        return cls(parsed.year, parsed.month)

    @classmethod
    def containing(cls, t: float, zone: ZoneInfo) -> Month:
        local = datetime.fromtimestamp(t, tz=zone)
        return cls(local.year, local.month)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def bounds(self, zone: ZoneInfo) -> tuple[int, int]:
        """[start, end) as UTC epoch seconds: local midnight on the 1st to the next 1st."""
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        nxt = self.next()
        end = datetime(nxt.year, nxt.month, 1, tzinfo=zone)
        return int(start.timestamp()), int(end.timestamp())

    def minutes(self, zone: ZoneInfo) -> float:
        start, end = self.bounds(zone)
        return (end - start) / 60

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def first_window(t: int, window_seconds: int) -> int:
    """The first epoch-aligned window starting at or after `t`."""
    return math.ceil(t / window_seconds) * window_seconds


@dataclasses.dataclass(frozen=True, slots=True)
class MonthAccount:
    """One objective's month: what was measured, what it means against the target."""

    contract: str
    service: str
    month: Month
    target: float
    window_seconds: int
    minutes_in_month: float
    up_minutes: float
    down_minutes: float
    excluded_minutes: dict[str, float]
    no_data_minutes: float
    pending_minutes: float

    @property
    def excluded_total(self) -> float:
        return sum(self.excluded_minutes.values())

    @property
    def uptime_ratio(self) -> float:
        """1 − down / minutes in the calendar month (contract 000's formula)."""
        if self.minutes_in_month <= 0:
            return 1.0
        return 1.0 - self.down_minutes / self.minutes_in_month

    @property
    def uptime_percent(self) -> float:
        return 100.0 * self.uptime_ratio

    @property
    def met(self) -> bool:
        return self.uptime_percent >= self.target - 1e-9

    @property
    def budget_minutes(self) -> float:
        return (1.0 - self.target / 100.0) * self.minutes_in_month

    @property
    def budget_remaining_minutes(self) -> float:
        return self.budget_minutes - self.down_minutes

    @property
    def final(self) -> bool:
        return self.pending_minutes == 0


def account(
    *,
    contract: str,
    service: str,
    month: Month,
    zone: ZoneInfo,
    target: float,
    window_seconds: int,
    counts: Counter[tuple[str, str]],
    now: float,
) -> MonthAccount:
    """Fold current-verdict counts of one month into minutes.

    Windows of the month that have already ended but have no verdict were not measured: they
    count as `no_data`. Windows not yet ended are `pending` (the month is provisional).
    """
    start, end = month.bounds(zone)
    per = window_seconds / 60
    first = first_window(start, window_seconds)
    total_windows = max(0, (end - first + window_seconds - 1) // window_seconds)
    ended_until = min(end, int(now))
    ended_windows = max(0, (ended_until - first) // window_seconds + 0) if ended_until > first \
        else 0
    ended_windows = min(total_windows, ended_windows)
    up = down = no_data = 0
    excluded: Counter[str] = Counter()
    for (verdict, reason), n in counts.items():
        if verdict == Verdict.UP:
            up += n
        elif verdict == Verdict.DOWN:
            down += n
        elif verdict == Verdict.EXCLUDED:
            excluded[reason or Reason.DECLARED.value] += n
        else:
            no_data += n
    decided = up + down + no_data + sum(excluded.values())
    unmeasured = max(0, ended_windows - decided)
    pending = max(0, total_windows - max(decided, ended_windows))
    return MonthAccount(
        contract=contract, service=service, month=month, target=target,
        window_seconds=window_seconds, minutes_in_month=month.minutes(zone),
        up_minutes=up * per, down_minutes=down * per,
        excluded_minutes={k: v * per for k, v in sorted(excluded.items())},
        no_data_minutes=(no_data + unmeasured) * per, pending_minutes=pending * per,
    )


def utc_iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
