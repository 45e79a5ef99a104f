"""Exposition on a fixed clock: exact output, and promtool's lint."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from probe.config import Config, parse_config
from probe.metrics import LedgerCollector, build_registry
from probe.metrics.exposition import render
from probe.model import Attempt, Reason, Role, Verdict, WindowVerdict
from probe.scheduler import LagStats
from probe.store import Ledger
from tests.realtools import require_tool

NOW = 1_793_491_200.0 + 86400 * 3 + 600  # 2026-11-03T00:10:00Z


def fixture_config(state_dir: Path) -> Config:
    return parse_config(textwrap.dedent(f"""\
        probe: {{state_dir: "{state_dir}"}}
        services:
          - name: api
            checks: [{{name: health, type: http, url: "http://vendor/"}}]
        contracts:
          - {{name: acme, timezone: Europe/Zurich, window: 60s,
              objectives: [{{service: api, target: 99.9}}]}}
        """))


class Runtime:
    def __init__(self) -> None:
        self.lag = LagStats()
        for value in (0.0005, 0.003, 0.03):
            self.lag.observe(value)


def build_fixture(state_dir: Path, writer: Callable[[CollectorRegistry], bytes] = render) -> str:
    """The daemon's exposition (`render`) of a small ledger, or another writer's."""
    config = fixture_config(state_dir)
    ledger = Ledger(state_dir)
    ledger.record_attempts([
        Attempt(NOW - 120, "api", "health", Role.SERVICE, True, None, 0.02,
                evidence={"tls_not_after": "1800000000"}),
        Attempt(NOW - 60, "api", "health", Role.SERVICE, False, "timeout", 2.0),
    ])
    start = int(NOW // 60) * 60 - 180
    verdicts = [
        WindowVerdict("acme", "api", start, 60, Verdict.UP, attempts=1, decided_at=NOW - 100),
        WindowVerdict("acme", "api", start + 60, 60, Verdict.DOWN, attempts=1, failures=1,
                      failure_classes=("timeout",), decided_at=NOW - 40),
        WindowVerdict("acme", "api", start + 120, 60, Verdict.EXCLUDED, Reason.VANTAGE,
                      attempts=1, failures=1, decided_at=NOW - 10),
    ]
    ledger.write_verdicts(verdicts)
    collector = LedgerCollector(lambda: config, ledger, lambda: NOW, Runtime())
    text = writer(build_registry(collector)).decode()
    ledger.close()
    return text


class TestExposition:
    def test_exact_output_on_a_fixed_clock(self, state_dir: Path) -> None:
        text = build_fixture(state_dir)
        text = "\n".join(
            line for line in text.splitlines() if not line.startswith("sla_probe_build_info")
        )
        expected = (Path(__file__).parent / "golden" / "metrics.txt").read_text()
        assert text + "\n" == expected

    def test_promtool_accepts_the_exposition(self, state_dir: Path) -> None:
        promtool = require_tool("promtool")
        text = build_fixture(state_dir)
        proc = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                              capture_output=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


class TestZeroSeries:
    def test_a_never_down_objective_still_exports_its_down_counter_at_zero(
        self, state_dir: Path
    ) -> None:
        """Without it, rate() cannot see the first down window and burn alerts miss it."""
        config = fixture_config(state_dir)
        ledger = Ledger(state_dir)
        collector = LedgerCollector(lambda: config, ledger, lambda: NOW, Runtime())
        text = generate_latest(build_registry(collector)).decode()
        ledger.close()
        assert ('sla_probe_windows_total{contract="acme",reason="",scope="local",'
                'service="api",verdict="down"} 0.0') in text
