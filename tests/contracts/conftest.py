"""Fixtures: the pure core reads windows from an in-memory store, no SQLite."""

from __future__ import annotations

import pytest

from tests.fakes import MemoryWindows


@pytest.fixture
def ledger() -> MemoryWindows:
    return MemoryWindows()
