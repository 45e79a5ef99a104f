from __future__ import annotations

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


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path
