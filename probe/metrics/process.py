"""The daemon's own troubles, the two figures that are process state, not ledger state.

`sla_probe_clock_step_seconds` and `sla_probe_clock_steps_total` show wall-clock steps the
daemon detected (each one also logged, and each one a reason windows may be decided again);
`sla_probe_log_write_errors_total` counts log lines that could not be written (a dead log
pipe). Both reset with the process, which is what they describe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from probe import logs
from probe.clock import ClockSteps
from probe.config import Config
from probe.store import LedgerReader


def process_metric_families(
    steps: ClockSteps | None,
) -> Callable[[Config, LedgerReader, float], Iterable[Metric]]:
    """An extra family source for the collector, reading `steps` (None: a fake clock)."""

    def families(_config: Config, _reader: LedgerReader, _now: float) -> Iterable[Metric]:
        yield CounterMetricFamily(
            "sla_probe_log_write_errors", "Log lines that could not be written (dropped).",
            value=logs.write_errors.count)
        if steps is None:
            return
        yield CounterMetricFamily(
            "sla_probe_clock_steps", "Wall-clock steps detected (|step| > 0.5 s).",
            value=steps.count)
        yield GaugeMetricFamily(
            "sla_probe_clock_step_seconds",
            "Signed size of the newest wall-clock step detected (0 before any).",
            value=steps.last)

    return families
