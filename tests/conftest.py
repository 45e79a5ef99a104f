from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe import logs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    logs.configure("warning", json=True)
    return


@pytest.fixture(autouse=True)
def _no_implicit_loop_in_sync_tests(request: pytest.FixtureRequest) -> None:
    """Stop looptime's hook from creating (and leaking) an event loop around a sync test.

    looptime asks the policy for the current loop around every test; in a sync test there is
    none, so the default policy creates one that is never closed, and its ResourceWarning
    surfaces (as an error) in whichever async test runs next.
    """
    if not inspect.iscoroutinefunction(request.function):
        asyncio.set_event_loop(None)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path
