"""The calendar month of a contract, in its own time zone, and what the month adds up to."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from typing import overload
from zoneinfo import ZoneInfo


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


@overload
def utc_iso(t: float) -> str: ...
@overload
def utc_iso(t: float | None) -> str | None: ...
def utc_iso(t: float | None) -> str | None:
    """`2026-10-12T00:00:00Z`, the one way instants are written in reports and the API."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
