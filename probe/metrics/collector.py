"""One custom collector on a private registry, built fresh from the ledger at each scrape.

Nothing is counted in process memory except the scheduler's lag histogram: every figure a
scrape shows is what the ledger holds, so a restart cannot reset or invent a number.
"""

from __future__ import annotations

import itertools
import platform
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from probe import __version__
from probe.config import Config
from probe.contracts.accounts import contract_credits, month_accounts
from probe.contracts.month import Month
from probe.metrics.exposition import Rows
from probe.model import LATENCY_BUCKETS
from probe.scheduler import LAG_BUCKETS, LagStats
from probe.store import LedgerReader

ExtraFamilies = Callable[[Config, LedgerReader, float], Iterable[Metric]]


class RuntimeView(Protocol):
    """What the collector needs from the running daemon (absent in `sla-probe report`)."""

    lag: LagStats


def _buckets(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    cumulative = 0
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        cumulative += count
        out.append(("+Inf" if bound == float("inf") else repr(float(bound)), cumulative))
    return out


LATENCY_LE = (*(repr(float(bound)) for bound in LATENCY_BUCKETS), "+Inf")


def month_scopes(config: Config) -> tuple[str, ...]:
    """Month gauges per scope: `local` always, `quorum` when this daemon decides a quorum."""
    if config.quorum is not None and config.quorum.decides:
        return ("local", "quorum")
    return ("local",)


class LedgerCollector(Collector):
    def __init__(
        self,
        config: Callable[[], Config],
        reader: LedgerReader,
        now: Callable[[], float],
        runtime: RuntimeView | None = None,
        extras: Iterable[ExtraFamilies] = (),
    ) -> None:
        self._config = config
        self._reader = reader
        self._now = now
        self._runtime = runtime
        self._extras = list(extras)

    def collect(self) -> Iterator[Metric]:
        config = self._config()
        now = self._now()
        reader = self._reader
        yield from self._attempt_families(reader)
        yield from self._window_families(config, reader, now)
        if self._runtime is not None:
            lag = self._runtime.lag
            yield HistogramMetricFamily(
                "sla_probe_schedule_lag_seconds",
                "Actual minus planned start of attempts.",
                buckets=_buckets(LAG_BUCKETS, lag.counts), sum_value=lag.total,
            )
        info = GaugeMetricFamily(
            "sla_probe_build_info", "Build information.", labels=["version", "python"]
        )
        info.add_metric([__version__, platform.python_version()], 1)
        yield info
        for extra in self._extras:
            yield from extra(config, reader, now)

    def _attempt_families(self, reader: LedgerReader) -> Iterator[Metric]:
        # Per-check families are `Rows`: at 10,000 checks they are most of a scrape
        # (probe/metrics/exposition.py).
        attempts = Rows("sla_probe_attempts", "Attempts by outcome (ok or failure class).",
                        "counter", ["service", "check", "result"])
        sums: dict[tuple[str, str], float] = {}
        for service, check, result, count, total in reader.attempt_stats():
            attempts.add([service, check, result], count)
            sums[(service, check)] = sums.get((service, check), 0.0) + total
        yield attempts
        duration = Rows("sla_probe_attempt_duration_seconds", "Attempt latency.", "histogram",
                        ["service", "check"], buckets=LATENCY_LE)
        for (service, check), counts in sorted(reader.attempt_buckets().items()):
            duration.add_histogram([service, check], list(itertools.accumulate(counts)),
                                   sums.get((service, check), 0.0))
        yield duration
        success = Rows("sla_probe_check_success", "Whether the last attempt succeeded.",
                       "gauge", ["service", "check"])
        expiry = GaugeMetricFamily(
            "sla_probe_tls_cert_expiry_timestamp_seconds",
            "Expiry of the peer certificate seen by the last attempt.",
            labels=["service", "check"],
        )
        for service, check, _, _, ok, _, _, evidence in reader.last_attempts():
            success.add([service, check], 1.0 if ok else 0.0)
            not_after = evidence.get("tls_not_after")
            if not_after is not None:
                expiry.add_metric([service, check], float(not_after))
        yield success
        yield expiry

    def _window_families(
        self, config: Config, reader: LedgerReader, now: float
    ) -> Iterator[Metric]:
        windows = CounterMetricFamily(
            "sla_probe_windows", "Window verdicts decided (a revision counts again).",
            labels=["contract", "service", "scope", "verdict", "reason"],
        )
        seen: set[tuple[str, str, str]] = set()
        for scope in ("local", "quorum"):
            for name, service, verdict, reason, count in reader.window_counts(scope):
                windows.add_metric([name, service, scope, verdict, reason], count)
                if not reason:
                    seen.add((name, service, verdict))
        # Zero series for every objective, so rate() sees the very first down window.
        for contract in config.contracts:
            for objective in contract.objectives:
                for verdict in ("up", "down"):
                    if (contract.name, objective.service, verdict) not in seen:
                        windows.add_metric(
                            [contract.name, objective.service, "local", verdict, ""], 0
                        )
        yield windows
        labels = ["contract", "service", "scope"]
        uptime = GaugeMetricFamily(
            "sla_probe_month_uptime_ratio",
            "Month-to-date uptime: 1 - down minutes / minutes in the calendar month.",
            labels=labels,
        )
        target = GaugeMetricFamily(
            "sla_probe_month_target_ratio", "The contract's availability target.",
            labels=["contract", "service"],
        )
        down = GaugeMetricFamily(
            "sla_probe_month_downtime_seconds", "Down time this month (whole windows).",
            labels=labels,
        )
        budget = GaugeMetricFamily(
            "sla_probe_month_budget_remaining_seconds",
            "Down time the target still allows this month.", labels=labels,
        )
        excluded = GaugeMetricFamily(
            "sla_probe_month_excluded_seconds", "Excluded time this month by reason.",
            labels=[*labels, "reason"],
        )
        no_data = GaugeMetricFamily(
            "sla_probe_month_no_data_seconds", "Time of this month with no measurement.",
            labels=labels,
        )
        window_len = GaugeMetricFamily(
            "sla_probe_window_seconds", "Window length of the contract.", labels=["contract"]
        )
        credit = GaugeMetricFamily(
            "sla_probe_month_credit",
            "Service credit due for the month so far, per credited objective; service=\"\" "
            "is the contract's total after its monthly cap.",
            labels=["contract", "service", "unit"],
        )
        invalid = GaugeMetricFamily(
            "sla_probe_maintenance_invalid",
            "Maintenance entries this month that break a binding contract rule.",
            labels=["contract"],
        )
        invalid_by_contract: dict[str, int] = {}
        for contract in config.contracts:
            window_len.add_metric([contract.name], contract.window_seconds)
            month = Month.containing(now, contract.zone)
            single = config.model_copy(update={"contracts": [contract]})
            for scope in month_scopes(config):
                accounts = month_accounts(single, reader, month, now, scope)
                if scope == "local":
                    # The contract's one credit: service="" (an empty label is no label), so
                    # sum by (service) of the objectives stays apart from the total.
                    for total in contract_credits(single, accounts):
                        credit.add_metric([total.contract, "", total.unit], float(total.amount))
                for acc in accounts:
                    values = [acc.contract, acc.service, scope]
                    uptime.add_metric(values, acc.uptime_ratio)
                    down.add_metric(values, acc.downtime_minutes * 60)
                    budget.add_metric(values, round(acc.budget_remaining_minutes * 60, 6))
                    no_data.add_metric(values, acc.no_data_minutes * 60)
                    for reason, minutes in acc.excluded_minutes.items():
                        excluded.add_metric([*values, reason], minutes * 60)
                    if scope != "local":
                        continue  # target, credit and maintenance: once, from the local scope
                    target.add_metric([acc.contract, acc.service], round(acc.target / 100, 9))
                    if acc.credit.unit is not None and acc.credited:
                        credit.add_metric([acc.contract, acc.service, acc.credit.unit],
                                          float(acc.credit.amount))
                    invalid_by_contract[acc.contract] = max(
                        invalid_by_contract.get(acc.contract, 0), acc.invalid_maintenance)
            invalid.add_metric([contract.name], invalid_by_contract.get(contract.name, 0))
        yield from (credit, invalid)
        yield from (uptime, target, down, budget, excluded, no_data, window_len)
        last = GaugeMetricFamily(
            "sla_probe_last_decision_timestamp_seconds",
            "When the latest window verdict was decided.", labels=["scope"],
        )
        for scope in ("local", "quorum"):
            value = reader.latest_decided(scope)
            if value is not None:
                last.add_metric([scope], value)
        yield last


def build_registry(collector: LedgerCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
