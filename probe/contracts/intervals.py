"""The `intervals` measurement: outages wherever they fall, not per aligned window.

Securosys §1.1 "Downtime is defined as an interruption of one (1) minute". A 60 s outage
from 08:00:30 to 08:01:30 fails 3 of the 6 attempts of each of two aligned minutes, so under
the `windows` method and `all` it counts 0 minutes: the interruption is lost between two
clock minutes. Here an outage runs from the first failed attempt to the next successful one
(of any check of the service); it counts when it lasts at least `min_length`, as whole
minutes rounded as the contract states, or exact seconds. Attempts are samples, so each
outage also carries the bounds it could really have had: it began after the last success
before it (earliest) and by its first failure (latest), and ended after its last failure
(earliest) and by the next success (latest).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from probe.contracts.model import Measurement


@dataclasses.dataclass(frozen=True, slots=True)
class Outage:
    """One outage of one service, as observed and as bounded by the sampling."""

    service: str
    start: float
    """The first failed attempt."""
    end: float | None
    """The next successful attempt; None while it lasts."""
    earliest_start: float | None
    """The last success before it (None: none seen)."""
    earliest_end: float
    """The last failed attempt."""
    excluded_seconds: float = 0.0
    counted_minutes: float = 0.0

    def seconds(self, now: float) -> float:
        return (self.end if self.end is not None else now) - self.start


def outages(service: str, samples: Iterable[tuple[float, bool]]) -> list[Outage]:
    """Outages from (started_at, ok) samples in time order: failure to the next success.

    Only the failures and the successes next to them are needed (what
    `WindowSource.outage_samples` returns); any other success is harmless."""
    out: list[Outage] = []
    last_ok: float | None = None
    first_fail: float | None = None
    last_fail = 0.0
    for t, ok in samples:
        if ok:
            if first_fail is not None:
                out.append(Outage(service, first_fail, t, last_ok, last_fail))
                first_fail = None
            last_ok = t
        else:
            if first_fail is None:
                first_fail = t
            last_fail = t
    if first_fail is not None:
        out.append(Outage(service, first_fail, None, last_ok, last_fail))
    return out


def count_minutes(seconds: float, measurement: Measurement) -> float:
    """Downtime minutes of one outage of `seconds`, as the contract counts it."""
    if seconds <= 0 or seconds < measurement.min_length:
        return 0.0
    minutes = seconds / 60
    if measurement.rounding == "exact":
        return minutes
    if measurement.rounding == "ceil":
        return float(math.ceil(minutes - 1e-9))
    if measurement.rounding == "nearest":
        return float(math.floor(minutes + 0.5))
    return float(math.floor(minutes + 1e-9))


def _overlap(a: float, b: float, windows: Sequence[int], ws: int) -> float:
    return sum(max(0.0, min(b, w + ws) - max(a, w)) for w in windows)


def counted(found: Sequence[Outage], measurement: Measurement, *, start: int, end: int,
            now: float, excluded: Sequence[int] = (), window_seconds: int = 60,
            rounding: str | None = None) -> list[Outage]:
    """The outages that touch `[start, end)`, clipped to it, with the seconds inside
    excluded windows (maintenance, vantage, ...) taken out before the minimum length and
    the rounding are applied. `rounding` overrides the contract's (the other reading)."""
    rule = measurement if rounding is None else measurement.model_copy(
        update={"rounding": rounding})
    out: list[Outage] = []
    for o in found:
        a = max(o.start, start)
        b = min(o.end if o.end is not None else now, end)
        if b <= a:
            continue
        cut = _overlap(a, b, excluded, window_seconds)
        out.append(dataclasses.replace(o, excluded_seconds=cut,
                                       counted_minutes=count_minutes(b - a - cut, rule)))
    return out
