"""Incident metrics for the Prometheus collector: what is open, and by when what is owed.

Each family carries `{contract, service, severity}`; `severity` is `none` for a contract
without support terms. Where several incidents share a label set, the gauge holds the
earliest deadline (the next thing owed).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.core import GaugeMetricFamily, Metric

from probe.config import Config
from probe.store import LedgerReader
from probe.support.incidents import Incident, read_incidents

# Resolved incidents are looked at this far back: long enough for a 30-day report deadline.
LOOKBACK_SECONDS = 45 * 86400
LABELS = ("contract", "service", "severity")

Key = tuple[str, str, str]


def _key(incident: Incident) -> Key:
    return (incident.contract, incident.service, incident.severity or "none")


def _earliest(values: dict[Key, float], key: Key, value: float | None) -> None:
    if value is not None:
        values[key] = min(value, values.get(key, value))


def incident_metric_families(config: Config, reader: LedgerReader, now: float, *,
                             scope: str = "local") -> list[Metric]:
    """`sla_probe_incident_*` families for every contract of `config`, at instant `now`."""
    open_count: dict[Key, float] = {}
    started: dict[Key, float] = {}
    dues: dict[str, dict[Key, float]] = {name: {} for name in (
        "response_due", "resolution_due", "notice_due", "report_due")}
    pending: dict[str, Callable[[Incident], bool]] = {
        # owed while the incident is open
        "response_due": lambda inc: inc.open,
        "resolution_due": lambda inc: inc.open,
        # the notice is owed while open, and after resolution until its deadline
        "notice_due": lambda inc: inc.open or (
            inc.deadlines.notice_due is not None and inc.deadlines.notice_due >= now),
        "report_due": lambda inc: not inc.open and (
            inc.deadlines.report_due is not None and inc.deadlines.report_due >= now),
    }
    for contract in config.contracts:
        for incident in read_incidents(contract, reader, now - LOOKBACK_SECONDS, now + 1, now,
                                       scope=scope):
            key = _key(incident)
            if incident.open:
                open_count[key] = open_count.get(key, 0) + 1
                _earliest(started, key, incident.start)
            for name, owed in pending.items():
                if owed(incident):
                    _earliest(dues[name], key, getattr(incident.deadlines, name))
    families: list[Metric] = []

    def family(name: str, doc: str, values: dict[Key, float]) -> None:
        metric = GaugeMetricFamily(name, doc, labels=LABELS)
        for key in sorted(values):
            metric.add_metric(list(key), values[key])
        families.append(metric)

    family("sla_probe_incident_open",
           "Open incidents (consecutive down windows not yet followed by an up window).",
           open_count)
    family("sla_probe_incident_started_timestamp_seconds",
           "Start of the earliest open incident, UTC epoch seconds.", started)
    family("sla_probe_incident_response_due_timestamp_seconds",
           "When the vendor owes a first response to an open incident reported at "
           "detection (support calendar applied).", dues["response_due"])
    family("sla_probe_incident_resolution_due_timestamp_seconds",
           "When the contract's resolution target for an open incident runs out.",
           dues["resolution_due"])
    family("sla_probe_incident_notice_due_timestamp_seconds",
           "When the vendor owes the incident notice (counted from detection).",
           dues["notice_due"])
    family("sla_probe_incident_report_due_timestamp_seconds",
           "When the vendor owes the post-incident report of a resolved incident.",
           dues["report_due"])
    return families
