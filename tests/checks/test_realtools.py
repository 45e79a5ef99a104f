"""`require_tool`: skip when a program is missing, fail instead under SLA_PROBE_REQUIRE_REAL=1."""

from __future__ import annotations

import sys

import pytest

from tests.realtools import require_tool


class TestRequireTool:
    def test_existing_program_is_found_by_name(self) -> None:
        assert require_tool("sh").endswith("/sh")

    def test_existing_path_is_returned(self) -> None:
        assert require_tool(sys.executable) == sys.executable

    @pytest.mark.parametrize("name", ["no-such-program-xyz", "/no/such/lib.so"])
    def test_missing_program_skips(self, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("SLA_PROBE_REQUIRE_REAL", raising=False)
        with pytest.raises(pytest.skip.Exception, match="not installed"):
            require_tool(name)

    def test_missing_program_fails_when_real_tools_are_required(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SLA_PROBE_REQUIRE_REAL", "1")
        with pytest.raises(pytest.fail.Exception, match="SLA_PROBE_REQUIRE_REAL"):
            require_tool("no-such-program-xyz")
