"""Stored announcements → what the contract arithmetic reads: maintenance entries for the
plan, and declared incidents for the reconciliation.

The store is the single source: the daemon, `sla-probe report` and the status page all call
`with_vendor_maintenance(config, reader)`, so a restarted daemon and a report run on another
machine judge the same imported maintenance the same way (`Config.with_imported` replaces,
so calling it twice changes nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from probe.config import Config
from probe.contracts.maintenance import MaintenanceEntry
from probe.contracts.month import utc_iso
from probe.contracts.reconcile import DeclaredIncident, ServiceReconciliation, reconcile_service
from probe.contracts.source import WindowSource
from probe.contracts.vendor import Version, maintenance_entry, map_services, reference
from probe.feeds.config import VendorFeedConfig
from probe.store import LedgerReader
from probe.store import feeds as feed_store

Versions = Mapping[tuple[str, str], Sequence[Version]]


def stored_versions(config: Config, reader: LedgerReader) -> Versions:
    names = [f.name for f in config.vendor_feeds]
    if not names:
        return {}
    return reader.read(lambda conn: feed_store.versions(conn, names))


def _services(config: Config, feed: VendorFeedConfig, components: Sequence[str]) -> list[str]:
    return map_services(components, feed.components, config.contract(feed.contract).services())


def imported_entries(config: Config, versions: Versions) -> list[MaintenanceEntry]:
    """Every live (not cancelled) maintenance announcement of every feed, as an entry."""
    out: list[MaintenanceEntry] = []
    feeds = {f.name: f for f in config.vendor_feeds}
    for (name, _vid), history in sorted(versions.items()):
        feed = feeds.get(name)
        if feed is None or not history:
            continue
        services = _services(config, feed, history[-1].announcement.components)
        entry = maintenance_entry(feed.contract, name, history, services,
                                  poll_interval=feed.interval, tolerance=feed.tolerance)
        if entry is not None:
            out.append(entry)
    return out


def with_vendor_maintenance(config: Config, reader: LedgerReader) -> Config:
    """`config` with the maintenance its vendor feeds announced, read from the ledger."""
    if not config.vendor_feeds:
        return config
    return config.with_imported(imported_entries(config, stored_versions(config, reader)))


def declared_incidents(config: Config, contract: str, versions: Versions,
                       now: float) -> list[DeclaredIncident]:
    """What the vendor declared for `contract`'s services: incidents at their impact level
    (open ones until `now`), maintenance as the level `maintenance`; notices (RSS) carry no
    times and are not declared downtime."""
    out: list[DeclaredIncident] = []
    for feed in config.vendor_feeds:
        if feed.contract != contract:
            continue
        for (name, vid), history in sorted(versions.items()):
            a = history[-1].announcement if name == feed.name and history else None
            if a is None or a.kind == "notice" or a.cancelled or a.start is None:
                continue
            out.extend(DeclaredIncident(
                service=service, start=a.start, end=a.end if a.end is not None else now,
                impact=a.impact or "unknown", reference=reference(feed.name, vid),
                title=a.title, open=a.end is None)
                for service in _services(config, feed, a.components))
    return out


def reconciliation(config: Config, source: WindowSource, versions: Versions, contract: str,
                   *, start: int, end: int, now: float, scope: str = "local",
                   ) -> list[ServiceReconciliation]:
    """Per objective of `contract` covered by a feed: declared against measured."""
    feeds = [f for f in config.vendor_feeds if f.contract == contract]
    if not feeds:
        return []
    terms = config.contract(contract)
    covered = {s for f in feeds for s in f.services()}
    declared = declared_incidents(config, contract, versions, now)
    stop = min(end, int(now))
    return [reconcile_service(source, contract, o.service, declared, start=start, end=stop,
                              window_seconds=terms.window_seconds, scope=scope)
            for o in terms.objectives if o.service in covered]


def _n(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 3)


def reconciliation_json(rows: Sequence[ServiceReconciliation]) -> list[dict[str, Any]]:
    """The reconciliation as the report's JSON, the status page and the API show it."""
    return [{
        "service": r.service,
        "declared_minutes": {k: _n(v) for k, v in r.declared_minutes.items()},
        "declared_downtime_minutes": _n(sum(v for k, v in r.declared_minutes.items()
                                            if k != "maintenance")),
        "measured_down_minutes": _n(r.measured_minutes),
        "declared": [{
            "reference": m.declared.reference, "title": m.declared.title,
            "impact": m.declared.impact, "start": utc_iso(m.declared.start),
            "end": utc_iso(m.declared.end), "open": m.declared.open,
            "declared_minutes": _n(m.declared.minutes),
            "measured_minutes": _n(m.measured_minutes), "seen": bool(m.measured),
            "our_coverage_percent": _n(100 * m.coverage),
        } for m in r.matches],
        "undeclared": [{"start": utc_iso(i.start), "end": utc_iso(i.end),
                        "minutes": _n(i.minutes)} for i in r.undeclared],
    } for r in rows]
