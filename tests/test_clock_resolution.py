"""The daemon's clock times attempts finer than a millisecond, on uvloop too (issue 19).

uvloop's `loop.time()` counts whole milliseconds, read once per loop iteration; latencies
and the lean path's phase timings (`connect_seconds`, `first_byte_seconds`, ...) taken on
it were all whole milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from probe.clock import SystemClock


def loops() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    found: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop}
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the [fast] extra is installed in CI
        return found
    found["uvloop"] = uvloop.new_event_loop
    return found


@pytest.mark.parametrize("factory", list(loops().values()), ids=list(loops()))
def test_monotonic_readings_are_not_whole_milliseconds(
    factory: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    clock = SystemClock()

    async def readings() -> list[float]:
        out = []
        for _ in range(50):
            out.append(clock.monotonic())
            await asyncio.sleep(0.0003)
        return out

    with asyncio.Runner(loop_factory=factory) as runner:
        values = runner.run(readings())
    fractions = {round(v * 1000 % 1, 6) for v in values}
    assert fractions != {0.0}, "every reading is a whole millisecond"
    assert values == sorted(values)
