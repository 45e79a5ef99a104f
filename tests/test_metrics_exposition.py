"""The fast exposition (probe/metrics/exposition.py) equals `generate_latest`, byte for byte."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from probe.metrics.exposition import Rows, go_float, render

AWKWARD = ['plain', 'with "quotes"', "back\\slash", "new\nline", "ünïcødé", "", "a,b=c}"]
VALUES = [0.0, 1.0, 2.5, -3.0, 123456.0, 1234567.0, 1e21, 1e-9, math.inf, -math.inf,
          math.nan, 7]
LE = ("0.005", "0.1", "1.0", "+Inf")


class Fixed(Collector):
    def __init__(self, *families: Metric) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def registry(*families: Metric) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(Fixed(*families))
    return reg


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_floats_are_written_as_go_writes_them(value: float) -> None:
    from prometheus_client.utils import floatToGoString  # noqa: PLC0415

    assert go_float(value) == floatToGoString(value)  # type: ignore[no-untyped-call]


def rows_families() -> list[Metric]:
    counter = Rows("demo_attempts", "Attempts.\nSecond line \\ here.", "counter",
                   ["service", "check", "result"])
    gauge = Rows("demo_success", "Success.", "gauge", ["service", "check"])
    histogram = Rows("demo_duration_seconds", "Latency.", "histogram", ["service", "check"],
                     buckets=LE)
    zlabels = Rows("demo_zones", "Label names after le.", "histogram", ["zone", "a"],
                   buckets=LE)
    bare = Rows("demo_bare", "No labels.", "gauge", [])
    for i, label in enumerate(AWKWARD):
        value = VALUES[i % len(VALUES)]
        counter.add([label, f"c{i}", "ok"], value)
        gauge.add([label, label], value)
        histogram.add_histogram([label, f"c{i}"], [i, i + 1, 2 * i + 1, 3 * i + 2], value)
        zlabels.add_histogram([label, "x"], [0, 0, 1, 1], 0.5)
    bare.add([], 42)
    bare.add_sample("demo_bare", {"extra": "sample"}, 1.0)
    return [counter, gauge, histogram, zlabels, bare]


def classic_families() -> list[Metric]:
    counter = CounterMetricFamily("demo_classic", "Classic.", labels=["k"], created=12.5)
    counter.add_metric(["v\"1"], 3, created=1.5)
    gauge = GaugeMetricFamily("demo_gauge", "Gauge.", labels=["b", "a"])
    for value in VALUES:
        gauge.add_metric(["x\\", "y\n"], value, timestamp=1700000000.123)
    histogram = HistogramMetricFamily("demo_hist", "Hist.", labels=["s"])
    histogram.add_metric(["s1"], [("0.1", 1), ("+Inf", 3)], 0.75)
    info = InfoMetricFamily("demo_build", "Build.", value={"version": "1", "python": "3"})
    return [counter, gauge, histogram, info]


@pytest.mark.parametrize("families", [rows_families, classic_families],
                         ids=["rows", "classic"])
def test_output_equals_generate_latest(families: object) -> None:
    reg = registry(*families())  # type: ignore[operator]
    assert render(reg) == generate_latest(reg)


def test_rows_answer_like_ordinary_families() -> None:
    reg = registry(*rows_families())
    assert reg.get_sample_value("demo_attempts_total",
                                {"service": "plain", "check": "c0", "result": "ok"}) == 0.0
    labels = {"service": 'with "quotes"', "check": "c1"}
    assert reg.get_sample_value("demo_duration_seconds_bucket", {**labels, "le": "+Inf"}) == 5
    assert reg.get_sample_value("demo_duration_seconds_count", labels) == 5
    assert reg.get_sample_value("demo_duration_seconds_sum", labels) == 1.0


def test_the_collectors_families_render_the_same(tmp_path: Path) -> None:
    """The daemon's own collector, on a ledger with attempts, through both writers."""
    from tests.test_metrics import build_fixture  # noqa: PLC0415

    ours = build_fixture(tmp_path / "a", render)
    theirs = build_fixture(tmp_path / "b", generate_latest)
    assert ours.replace(str(tmp_path / "a"), "") == theirs.replace(str(tmp_path / "b"), "")
