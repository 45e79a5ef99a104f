"""Builders shared by the support tests: instants, calendars, contracts, windows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from probe.config import Config, parse_config
from probe.contracts.model import ContractConfig
from probe.durations import AS_TEXT
from probe.model import Reason, Verdict, WindowVerdict
from probe.support.model import SupportTerms

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "config" / "contracts"


def _support_block(contract: str) -> dict[str, Any]:
    """The `support:` block of the seed contract in config/contracts/<contract>.yaml."""
    data = yaml.safe_load((EXAMPLES / f"{contract}.yaml").read_text(encoding="utf-8"))
    [entry] = [c for c in data["contracts"] if c["name"] == contract]
    block: dict[str, Any] = entry["support"]
    return block

ZURICH = ZoneInfo("Europe/Zurich")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def at(zone: ZoneInfo, y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> float:
    """UTC epoch of a local wall-clock time (first occurrence when ambiguous)."""
    return dt.datetime(y, m, d, hh, mm, tzinfo=zone).timestamp()


def local(t: float, zone: ZoneInfo) -> str:
    """`2026-05-26 Tue 16:30 CEST`: readable in assertion messages."""
    return dt.datetime.fromtimestamp(t, tz=zone).strftime("%Y-%m-%d %a %H:%M %Z")


def example_terms(contract: str) -> SupportTerms:
    return SupportTerms.model_validate(_support_block(contract))


def example_support(contract: str, **changes: Any) -> dict[str, Any]:
    block = _support_block(contract)
    block.update(changes)
    return block


def contract(name: str, services: Iterable[str], support: dict[str, Any] | None = None,
             timezone: str = "UTC", window: int = 60, target: float = 99.9) -> ContractConfig:
    return ContractConfig.model_validate({
        "name": name, "timezone": timezone, "window": window,
        "objectives": [{"service": s, "target": target} for s in services],
        "support": support,
    })


def config(*contracts: ContractConfig) -> Config:
    """A whole config around `contracts`, through the real loader (check plugins included)."""
    services = sorted({o.service for c in contracts for o in c.objectives})
    return parse_config(yaml.safe_dump({
        "services": [{"name": s, "checks": [{"type": "http", "name": "h",
                                             "url": "http://127.0.0.1:1/"}]}
                     for s in services],
        "contracts": [c.model_dump(mode="json", context={AS_TEXT: True}) for c in contracts],
    }))


SIMPLE_SUPPORT: dict[str, Any] = {
    "package": "gold",
    "timezone": "Europe/Zurich",
    "calendars": {
        "office": {"timezone": "Europe/Zurich", "hours": {"mon-fri": "09:00-17:00"}},
        "always": {"hours": "24x7"},
    },
    "severities": [{"name": "P1", "label": "Critical"}, {"name": "P2", "label": "Major"},
                   {"name": "P3"}],
    "packages": {"gold": {"calendar": "always",
                          "response": {"P1": "2 support hours",
                                       "P2": {"within": "8 business hours",
                                              "calendar": "office"}}}},
    "notifications": {"incident_notice": {"within": "24 hours", "severities": ["P1"]},
                      "post_incident_report": {"within": "30 calendar days",
                                               "severities": ["P1"]}},
    "severity_rules": [{"severity": "P1", "services": ["a", "b"], "min_down": "all"},
                       {"severity": "P2", "services": ["a", "b"]}],
}


def run(contract_name: str, service: str, start: float, pattern: str, window: int = 60,
        classes: tuple[str, ...] = ("timeout",)) -> list[WindowVerdict]:
    """Windows from a pattern, one character per window from `start`:
    U up, D down, N no_data, M excluded (maintenance), `.` nothing stored."""
    out: list[WindowVerdict] = []
    first = int(start)
    for i, ch in enumerate(pattern):
        ws = first + i * window
        if ch == ".":
            continue
        verdict = {"U": Verdict.UP, "D": Verdict.DOWN, "N": Verdict.NO_DATA,
                   "M": Verdict.EXCLUDED}[ch]
        out.append(WindowVerdict(
            contract=contract_name, service=service, window_start=ws, window_seconds=window,
            verdict=verdict, reason=Reason.MAINTENANCE if ch == "M" else Reason.NONE,
            attempts=1, failures=1 if ch == "D" else 0,
            failure_classes=classes if ch == "D" else (),
        ))
    return out


class FixedClock:
    """A clock whose wall time is set by the test."""

    def __init__(self, wall: float) -> None:
        self.now = wall

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
