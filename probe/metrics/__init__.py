"""The Prometheus face: one custom collector on a private registry, built from the store at
each scrape (`collector`), with the incident families (`incidents`) beside it."""

from probe.metrics.collector import ExtraFamilies, LedgerCollector, build_registry
from probe.metrics.incidents import incident_metric_families

__all__ = ["ExtraFamilies", "LedgerCollector", "build_registry", "incident_metric_families"]
