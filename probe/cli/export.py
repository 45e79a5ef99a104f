"""`sla-probe export openslo -c CONFIG`: every objective as an OpenSLO v1 `SLO` document.

So that a team's SLO tooling (dashboards, burn-rate alerts) watches the same promise the
contract makes: a calendar month in the contract's zone (`timeWindow` `1M` with
`calendar.timeZone`), `budgetingMethod: Timeslices` with one slice per decision window and
the contract's target. The indicator reads what `sla-probe run` exports: the window
verdict counter for a single service, the month uptime gauge for an objective over several
services (its windows are derived, not counted). Fields follow the OpenSLO v1 README
(github.com/OpenSLO/OpenSLO): no schema package for it exists on PyPI.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING, Any

from probe.cli.common import EXIT_OK, config_arg

if TYPE_CHECKING:
    from probe.config import Config
    from probe.contracts.model import ContractConfig, Objective

FORMATS = ("openslo",)
# A fixed calendar start: the month boundary (day 1, 00:00 local) is all that matters.
CALENDAR_START = "2020-01-01 00:00:00"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=FORMATS, help="export format")
    config_arg(parser)


def main(args: argparse.Namespace) -> int:
    import yaml  # noqa: PLC0415 - keep `--help` fast

    from probe.config import load_config  # noqa: PLC0415

    docs = openslo_documents(load_config(args.config))
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True))
    return EXIT_OK


def dns_name(*parts: str) -> str:
    """An OpenSLO metadata.name: lowercase alphanumerics and `-`, at most 63 characters."""
    text = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return text[:63].rstrip("-") or "slo"


def slice_window(seconds: int) -> str | float:
    """duration-shorthand (`1m`, `5m`, `1h`), or a number of minutes when not whole."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return round(seconds / 60, 6)


def slice_target(config: Config, contract: ContractConfig, objective: Objective) -> float:
    """The share of good attempts that makes a window good under the contract's down rule.

    `any`: every attempt must succeed (1.0). `ratio>=X`: down from a failed share X, so
    good above 1 - X (given as 1 - X; OpenSLO compares `>=`). `all`: one success in the
    window is enough, i.e. 1 / attempts per window (the fastest check's interval)."""
    rule = contract.rule
    if rule.kind == "any":
        return 1.0
    if rule.kind == "ratio":
        return max(1e-6, round(1 - rule.threshold, 6))
    intervals = [c.interval for s in config.services if s.name in objective.components
                 for c in s.checks]
    per_window = max(1, int(contract.window_seconds // min(intervals, default=60)))
    return round(1 / per_window, 6)


def _source(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def indicator(contract: ContractConfig, objective: Objective) -> dict[str, Any]:
    labels = f'contract="{contract.name}",service="{objective.service}",scope="local"'
    meta = {"name": dns_name(contract.name, objective.service, "windows")}
    if objective.of:
        return {"metadata": meta, "spec": {
            "description": f"month uptime of {objective.service}: down when "
                           f"{objective.down_when} of {', '.join(objective.of)} is down",
            "ratioMetric": {"rawType": "success", "raw": _source(
                f"sla_probe_month_uptime_ratio{{{labels}}}")}}}
    counter = "sla_probe_windows_total"
    return {"metadata": meta, "spec": {
        "description": "window verdicts decided by sla-probe (excluded and no_data windows "
                       "are in neither count)",
        "ratioMetric": {
            "counter": True,
            "good": _source(f'sum({counter}{{{labels},verdict="up"}})'),
            "total": _source(f'sum({counter}{{{labels},verdict=~"up|down"}})'),
        }}}


def slo(config: Config, contract: ContractConfig, objective: Objective) -> dict[str, Any]:
    """One objective as an OpenSLO v1 SLO."""
    clause = objective.clause or "objective"
    annotations = {"sla-probe/contract": contract.name, "sla-probe/clause": clause,
                   "sla-probe/denominator": contract.denominator,
                   "sla-probe/down-rule": str(contract.rule),
                   "sla-probe/measurement": contract.measurement.method,
                   "sla-probe/credited": str(objective.credited).lower()}
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": dns_name(contract.name, objective.service),
                     "displayName": f"{contract.name}: {objective.service}",
                     "annotations": annotations},
        "spec": {
            "description": (contract.description or contract.name)[:1050],
            "service": objective.service,
            "indicator": indicator(contract, objective),
            "timeWindow": [{"duration": "1M", "isRolling": False,
                            "calendar": {"startTime": CALENDAR_START,
                                         "timeZone": contract.timezone}}],
            "budgetingMethod": "Timeslices",
            "objectives": [{
                "displayName": clause,
                # OpenSLO's target is [0, 1): a 100 % promise is written just below it.
                "target": min(round(objective.target / 100, 6), 0.999999),
                "timeSliceTarget": slice_target(config, contract, objective),
                "timeSliceWindow": slice_window(contract.window_seconds),
            }],
        },
    }


def openslo_documents(config: Config) -> list[dict[str, Any]]:
    """Every objective of every contract, in config order (watch-only services have none)."""
    return [slo(config, c, o) for c in config.contracts for o in c.objectives]
