"""Finding the real programs some tests need (mosquitto, softhsm2-util, anvil, ...).

A missing program skips the test, unless `SLA_PROBE_REQUIRE_REAL=1` is set (as in CI), where a
missing program fails it: CI must never pass by skipping what it was meant to exercise.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Where project-local installs put programs (npm packages ship binaries inside them).
_EXTRA_PATHS = [
    REPO / "tools" / "node" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin",
    REPO / "tools" / "node" / "node_modules" / ".bin",
    Path("/usr/sbin"),
    Path("/usr/local/sbin"),
]


def real_required() -> bool:
    return os.environ.get("SLA_PROBE_REQUIRE_REAL", "") == "1"


def require_tool(name_or_path: str) -> str:
    """The absolute path of a program or library file; skip (or fail, in CI) when missing."""
    if os.sep in name_or_path:
        found = name_or_path if Path(name_or_path).exists() else None
    else:
        found = shutil.which(name_or_path)
        if found is None:
            for directory in _EXTRA_PATHS:
                candidate = directory / name_or_path
                if candidate.is_file() and os.access(candidate, os.X_OK):
                    found = str(candidate)
                    break
    if found is None:
        message = f"{name_or_path} is not installed"
        if real_required():
            pytest.fail(f"{message} (SLA_PROBE_REQUIRE_REAL=1)")
        pytest.skip(message)
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
