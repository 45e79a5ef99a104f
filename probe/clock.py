"""Time is injected: one object answers "what time is it" for both clocks.

The monotonic clock times intervals and timeouts; the wall clock (UTC epoch seconds) assigns
attempts to windows. Tests pass a clock whose wall time is derived from a fake loop time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; the event loop's own clock."""

    def wall(self) -> float:
        """UTC seconds since the epoch."""

    async def sleep(self, seconds: float) -> None:
        """Suspend for `seconds` of monotonic time."""


class SystemClock:
    """The real clocks: the running loop's monotonic time and `time.time()`."""

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    def wall(self) -> float:
        return time.time()

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
