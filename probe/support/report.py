"""Incidents for the month report: one JSON-ready dict per incident."""

from __future__ import annotations

from typing import Any

from probe.contracts.model import ContractConfig
from probe.contracts.source import ContractTerms, WindowSource
from probe.support.incidents import read_incidents


def incidents_json(
    config: ContractTerms | ContractConfig, reader: WindowSource, month_start: float,
    month_end: float, now: float, *, scope: str = "local",
) -> list[dict[str, Any]]:
    """Incidents overlapping `[month_start, month_end)` of every contract in `config` (or of
    the one contract given), oldest first.

    Each dict has the incident's full extent (`start`, `end`, which may lie outside the
    month), `down_minutes_in_period` (its down minutes inside the month), severity, failure
    classes, services down together, and deadlines as UTC ISO 8601 plus `*_local` in the
    support time zone.
    """
    contracts = [config] if isinstance(config, ContractConfig) else list(config.contracts)
    out: list[dict[str, Any]] = []
    for contract in contracts:
        zone = contract.support.zone if contract.support is not None else contract.zone
        for incident in read_incidents(contract, reader, month_start, month_end, now,
                                       scope=scope):
            item = incident.to_dict(now, zone)
            item["down_minutes_in_period"] = incident.down_minutes_between(month_start,
                                                                           month_end)
            out.append(item)
    out.sort(key=lambda item: (item["start"], item["contract"], item["service"]))
    return out
