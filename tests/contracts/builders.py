"""Config, time and verdict builders shared by the contract and report tests."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from probe.config import Config, parse_config
from probe.model import Reason, Verdict, WindowVerdict

SERVICES = """
services:
  - name: api
    checks: [{name: get, type: http, url: "https://api.example.invalid/"}]
  - name: sign
    checks: [{name: post, type: http, url: "https://sign.example.invalid/"}]
"""


def config_with(contract: str, extra: str = "", state_dir: Path | None = None) -> Config:
    """A valid config: two services, one contract (YAML body), optional top-level sections."""
    probe = f"probe: {{state_dir: '{state_dir}'}}\n" if state_dir is not None else ""
    text = (probe + SERVICES + "contracts:\n" + textwrap.indent(textwrap.dedent(contract), "  ")
            + textwrap.dedent(extra))
    return parse_config(text)


def at(text: str, zone: str = "UTC") -> int:
    """Epoch seconds of a local wall time like '2026-10-05 10:00'."""
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp())


def windows(contract: str, service: str, start: int, count: int, verdict: Verdict,
            reason: Reason = Reason.NONE, attempts: int = 6, failures: int | None = None,
            classes: tuple[str, ...] = ()) -> list[WindowVerdict]:
    if failures is None:
        failures = attempts if verdict == Verdict.DOWN else 0
    if verdict == Verdict.DOWN and not classes:
        classes = ("timeout",)
    return [WindowVerdict(contract, service, start + 60 * i, 60, verdict, reason, attempts,
                          failures, classes) for i in range(count)]
