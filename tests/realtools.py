"""Locate real external programs for `@pytest.mark.real` tests.

A missing program skips the test, unless `SLA_PROBE_REQUIRE_REAL=1` (CI), where it fails:
a CI run that silently skipped every integration test would prove nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def require_tool(name_or_path: str) -> str:
    """Absolute path of the program `name_or_path`, or skip (fail under SLA_PROBE_REQUIRE_REAL)."""
    if os.sep in name_or_path:
        path = Path(name_or_path)
        found = str(path) if path.is_file() and os.access(path, os.X_OK) else None
    else:
        found = shutil.which(name_or_path)
    if found is not None:
        return found
    message = f"{name_or_path} is not installed"
    if os.environ.get("SLA_PROBE_REQUIRE_REAL") == "1":
        pytest.fail(f"{message} and SLA_PROBE_REQUIRE_REAL=1", pytrace=False)
    pytest.skip(message)
