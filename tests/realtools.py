"""Finding the real programs some tests need (promtool, mosquitto, softhsm2, anvil, chromium).

Locally a missing program skips its tests; with SLA_PROBE_REQUIRE_REAL=1 (CI) it fails them,
so a green CI run means the real peers were really exercised. Programs installed into the
project (anvil ships inside an npm package: `npm ci --prefix tools/node`) are found too.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Where project-local installs and sbin programs live (sbin is not on every user's PATH).
_EXTRA_PATHS = [
    REPO / "tools" / "node" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin",
    REPO / "tools" / "node" / "node_modules" / ".bin",
    Path("/usr/sbin"),
    Path("/usr/local/sbin"),
]


def real_required() -> bool:
    return os.environ.get("SLA_PROBE_REQUIRE_REAL") == "1"


def _find(name_or_path: str) -> str | None:
    if os.sep in name_or_path:
        # A path: a program or a shared library (libraries need not be executable).
        return name_or_path if Path(name_or_path).exists() else None
    found = shutil.which(name_or_path)
    if found is not None:
        return found
    for directory in _EXTRA_PATHS:
        candidate = directory / name_or_path
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require_tool(name_or_path: str) -> str:
    """The absolute path of a program or library, or skip (fail under SLA_PROBE_REQUIRE_REAL=1)."""
    found = _find(name_or_path)
    if found:
        return found
    message = f"{name_or_path} is not installed"
    if real_required():
        pytest.fail(f"{message} (SLA_PROBE_REQUIRE_REAL=1)")
    pytest.skip(message)
    raise AssertionError("unreachable")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
