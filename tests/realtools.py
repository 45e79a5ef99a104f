"""Finding the real programs some tests need (promtool, mosquitto, softhsm2, anvil, chromium).

Locally a missing program skips its tests; with SLA_PROBE_REQUIRE_REAL=1 (CI) it fails them,
so a green CI run means the real peers were really exercised.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest


def require_tool(name_or_path: str) -> str:
    """The absolute path of a program, or skip (fail under SLA_PROBE_REQUIRE_REAL=1)."""
    candidate = Path(name_or_path)
    found = str(candidate) if candidate.is_absolute() and os.access(candidate, os.X_OK) \
        else shutil.which(name_or_path)
    if found:
        return found
    message = f"{name_or_path} is not installed"
    if os.environ.get("SLA_PROBE_REQUIRE_REAL") == "1":
        pytest.fail(f"{message} (SLA_PROBE_REQUIRE_REAL=1)")
    pytest.skip(message)
    raise AssertionError("unreachable")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
