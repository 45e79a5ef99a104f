"""Fake checks for unit tests on simulated time: outcomes scripted on the wall clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from checks.base import AttemptContext, Result
from probe.clock import Clock


class ScriptedCheck:
    """Fails (class `http_status`) whenever `failing(wall_time)` is true; may answer slowly."""

    def __init__(self, clock: Clock, failing: Callable[[float], bool],
                 delay: Callable[[float], float] = lambda _t: 0.0) -> None:
        self.clock = clock
        self.failing = failing
        self.delay = delay
        self.calls: list[float] = []

    async def run(self, ctx: AttemptContext) -> Result:
        now = self.clock.wall()
        self.calls.append(now)
        pause = self.delay(now)
        if pause:
            await asyncio.sleep(pause)
        if self.failing(now):
            return Result.failure("http_status", "HTTP 503")
        return Result.success("HTTP 200")


def between(*ranges: tuple[float, float]) -> Callable[[float], bool]:
    return lambda t: any(a <= t < b for a, b in ranges)
