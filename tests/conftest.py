from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe import logs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def _owned_default_event_loop() -> Iterator[None]:
    """Work around pytest-asyncio#724: it may create a default loop it never closes.

    With `filterwarnings = error` that surfaces as an "unclosed event loop" failure in
    whichever async test follows a sync one. Owning (and closing) the default loop avoids it.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    logs.configure("warning", json=True)
    return


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path
