"""The vendor's word against our measurement, for the month so far, as gauges.

Built at scrape time from the ledger like every other family, with the same reconciliation
as the report (`probe.feeds.plan.reconciliation`), so a dashboard and the month report say
the same. Only contracts with a vendor feed get series. Feed health itself
(`sla_probe_vendor_feed_up`) comes from the poller, which knows each poll's outcome.
"""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from probe.config import Config
from probe.contracts.month import Month
from probe.feeds.plan import reconciliation, stored_versions
from probe.store import LedgerReader


def vendor_metric_families(config: Config, reader: LedgerReader, now: float, *,
                           scope: str = "local") -> list[Metric]:
    declared = GaugeMetricFamily(
        "sla_probe_vendor_declared_downtime_seconds",
        "Downtime the vendor declared on its status page this month, per impact level "
        "(maintenance as impact=\"maintenance\").", labels=["contract", "service", "impact"])
    measured = GaugeMetricFamily(
        "sla_probe_vendor_measured_downtime_seconds",
        "Downtime we measured this month (down windows), beside the vendor's declaration.",
        labels=["contract", "service"])
    undeclared = GaugeMetricFamily(
        "sla_probe_vendor_undeclared_incidents",
        "Incidents we measured this month that the vendor never declared.",
        labels=["contract", "service"])
    unseen = GaugeMetricFamily(
        "sla_probe_vendor_unseen_incidents",
        "Incidents the vendor declared this month during which we measured no downtime.",
        labels=["contract", "service"])
    contracts = sorted({f.contract for f in config.vendor_feeds})
    versions = stored_versions(config, reader) if contracts else {}
    for name in contracts:
        contract = config.contract(name)
        start, end = Month.containing(now, contract.zone).bounds(contract.zone)
        for r in reconciliation(config, reader, versions, name, start=start, end=end,
                                now=now, scope=scope):
            for impact, minutes in r.declared_minutes.items():
                declared.add_metric([name, r.service, impact], minutes * 60)
            measured.add_metric([name, r.service], r.measured_minutes * 60)
            undeclared.add_metric([name, r.service], float(len(r.undeclared)))
            unseen.add_metric([name, r.service], float(len(r.unseen)))
    return [declared, measured, undeclared, unseen]
