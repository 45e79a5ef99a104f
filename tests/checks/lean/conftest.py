"""The lean-vs-aiohttp suite runs on asyncio's loop and on uvloop.

A directory of its own: pytest-asyncio's loop-factory hook applies to every test below the
conftest that defines it, and the other check tests keep the default loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item,
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The lean-vs-aiohttp suite runs on asyncio's loop and on uvloop (the daemon's loop
    when installed): their transports differ (uvloop's are no asyncio.Transport)."""
    del config, item
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop}
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415

        factories["uvloop"] = uvloop.new_event_loop
    return factories
