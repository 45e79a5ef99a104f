"""The table of built-in check types: complete, lazy, cycle-free, and open to third parties."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Literal

import pytest

from checks import registry
from checks.base import AttemptContext, CheckConfig, Resources, Result
from probe.clock import SystemClock
from tests.realtools import REPO

PLUGINS = sorted({entry.module for entry in registry.BUILTINS.values()})


class TestBuiltinTable:
    @pytest.mark.parametrize("module", PLUGINS)
    def test_each_module_defines_exactly_its_table_entries(self, module: str) -> None:
        defined = {t.name for t in importlib.import_module(module).CHECK_TYPES}
        listed = {name for name, entry in registry.BUILTINS.items() if entry.module == module}
        assert defined == listed

    @pytest.mark.parametrize("module", PLUGINS)
    def test_no_plugin_imports_the_registry_or_another_plugin(self, module: str) -> None:
        path = REPO / Path(*module.split(".")).with_suffix(".py")
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        forbidden = ({"checks.registry", "checks.builtin", *PLUGINS} - {module}) & imported
        assert not forbidden

    def test_a_type_loads_only_its_own_module(self) -> None:
        program = textwrap.dedent(
            """
            import sys
            from checks.registry import known_types, lookup
            assert "mqtt_broadcast" in known_types()
            lookup("http")
            loaded = sorted(m for m in sys.modules
                            if m in {"aiomqtt", "pkcs11", "eth_account", "checks.net"})
            print(",".join(loaded))
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True,
            timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == ""

    def test_unknown_type_names_every_known_type(self) -> None:
        with pytest.raises(registry.UnknownCheckTypeError, match="pkcs11"):
            registry.lookup("no_such_type")


class _PingConfig(CheckConfig):
    type: Literal["ping_test"] = "ping_test"


class _Ping:
    async def run(self, ctx: AttemptContext) -> Result:
        return Result.success("pong")


class TestThirdPartyTypes:
    def test_register_adds_a_type(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(registry, "_TYPES", {})

        @registry.register("ping_test", _PingConfig)
        def build_ping(_config: Any, _resources: Resources) -> _Ping:
            return _Ping()

        assert "ping_test" in registry.known_types()
        config = registry.validate_config({"name": "p", "type": "ping_test"})
        assert isinstance(config, _PingConfig)
        assert isinstance(registry.build(config, Resources(clock=SystemClock())), _Ping)

    def test_register_unavailable_names_the_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(registry, "_TYPES", {})
        registry.register_unavailable("ping_test", "ping", _PingConfig)
        assert "ping_test" in registry.known_types()
        with pytest.raises(registry.MissingExtraError, match=r"pip install 'sla-probe\[ping\]'"):
            registry.lookup("ping_test")
