"""Time is injected: one object answers "what time is it" for both clocks.

The monotonic clock times intervals and timeouts; the wall clock (UTC epoch seconds) assigns
attempts to windows. Tests pass a clock whose wall time is derived from a fake loop time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Protocol

STEP_THRESHOLD = 0.5  # a change of wall minus monotonic larger than this is a step, not slew


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; the event loop's own clock."""

    def wall(self) -> float:
        """UTC seconds since the epoch."""

    async def sleep(self, seconds: float) -> None:
        """Suspend for `seconds` of monotonic time."""


class ClockSteps:
    """Wall-clock steps seen so far (an NTP correction, an operator's `date -s`)."""

    def __init__(self) -> None:
        self.count = 0
        self.last = 0.0  # signed seconds of the newest step
        self.listeners: list[Callable[[float], None]] = []

    def record(self, seconds: float) -> None:
        self.count += 1
        self.last = seconds
        for listener in self.listeners:
            listener(seconds)


class SystemClock:
    """The real clocks: the running loop's monotonic time and `time.time()`.

    Attempts are stamped with UTC as the host knows it (the SLA's windows are UTC windows),
    so a step of the host's clock moves the stamps with it. Every reading compares the wall
    clock with the monotonic one; a jump of their difference by more than `STEP_THRESHOLD`
    is a step, recorded in `steps` (listeners log it and the metrics export it). What keeps
    verdicts right across a step is the decider: an attempt stamped into a window already
    decided makes it decide that window again (`probe.pipeline.Decider`).
    """

    def __init__(self) -> None:
        self.steps = ClockSteps()
        self._offset: float | None = None
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        # `time.monotonic()`, which is what asyncio's own loop.time() returns; uvloop's
        # loop.time() counts whole milliseconds, read once per loop iteration, which would
        # round every latency and phase timing to the millisecond (issue 19).
        return time.monotonic()

    def wall(self) -> float:
        with self._lock:
            m1 = time.monotonic()
            real = time.time()
            m2 = time.monotonic()
            if m2 - m1 > 0.05:  # preempted between the readings: no fair comparison
                return real
            offset = real - (m1 + m2) / 2
            previous, self._offset = self._offset, offset
        if previous is not None and abs(offset - previous) > STEP_THRESHOLD:
            self.steps.record(offset - previous)
        return real

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class LoopClock:
    """Wall time that advances with the event loop's clock from a fixed epoch.

    Under a time-faking loop (looptime) the whole pipeline runs on simulated time, and window
    boundaries fall exactly where a test puts them.
    """

    def __init__(self, wall_at_start: float) -> None:
        self._wall0 = wall_at_start
        try:
            self._mono0: float | None = asyncio.get_running_loop().time()
        except RuntimeError:  # made outside a loop: anchored at the first reading
            self._mono0 = None

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    def wall(self) -> float:
        now = self.monotonic()
        if self._mono0 is None:
            self._mono0 = now
        return self._wall0 + (now - self._mono0)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
