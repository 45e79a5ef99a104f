"""The Prometheus text format (0.0.4) of the registry, fast enough for 10,000 checks.

Why not `prometheus_client.generate_latest` alone: at 10,000 checks a scrape is about
180,000 samples (each check's latency histogram is 13 of them), and the client builds a
dict and a `Sample` per bucket, then validates and escapes every label name of every
sample again: about 6 s of CPU per scrape, on a thread that holds the GIL and so stalls
the scheduler (schedule lag of seconds, BENCHMARKS.md, issue 19). Here:

- `Rows` is a `Metric` that keeps its series as rows of label values and renders them with
  one format string per line; its `samples` are built only if something asks for them (a
  test, `registry.get_sample_value`), so every other reader sees an ordinary family;
- `render` writes every other family sample by sample, exactly as `generate_latest`
  does (label names sorted, label values escaped, floats as Go prints them), escaping
  each metric and label name once per family instead of once per sample.

`tests/test_metrics_exposition.py` holds the output byte for byte equal to
`generate_latest`'s.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import UNDERSCORES, escape_label_name
from prometheus_client.openmetrics.exposition import escape_metric_name as _metric_name
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

_OPENMETRICS_SUFFIXES = ("_created", "_gsum", "_gcount")
_MINUS_INF = float("-inf")


def go_float(value: float) -> str:
    """`floatToGoString`, with a shortcut for the common case (finite, below 1e6)."""
    value = float(value)
    if _MINUS_INF < value < 1e6:  # NaN and -Inf compare false
        return repr(value)
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


def escape_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@functools.lru_cache(maxsize=1024)
def _name(name: str) -> str:
    return _metric_name(name, UNDERSCORES)


@functools.lru_cache(maxsize=1024)
def _label(name: str) -> str:
    return escape_label_name(name, UNDERSCORES)


class Rows(Metric):
    """A counter, gauge or histogram family kept as rows and rendered as text directly.

    Histogram rows hold cumulative bucket counts (the last one is +Inf, the count) and the
    sum; `le` values are given once for the family."""

    def __init__(self, name: str, documentation: str, typ: str, labels: Sequence[str],
                 buckets: Sequence[str] = ()) -> None:
        super().__init__(name, documentation, typ)
        self._labelnames = tuple(labels)
        self._le = tuple(buckets)
        self._rows: list[tuple[tuple[str, ...], Any, float]] = []

    def add(self, labels: Sequence[str], value: float) -> None:
        self._rows.append((tuple(labels), value, 0.0))

    def add_histogram(self, labels: Sequence[str], cumulative: Sequence[float],
                      sum_value: float) -> None:
        self._rows.append((tuple(labels), tuple(cumulative), sum_value))

    # Metric.__init__ assigns `samples`; the property keeps them computed on demand.
    @property
    def samples(self) -> list[Sample]:
        out = list(self._given)
        for labels, value, total in self._rows:
            named = dict(zip(self._labelnames, labels, strict=True))
            if self.type != "histogram":
                out.append(Sample(self._sample_name(""), named, value))
                continue
            out.extend(Sample(self.name + "_bucket", {**named, "le": le}, count)
                       for le, count in zip(self._le, value, strict=True))
            out.append(Sample(self.name + "_count", named, value[-1]))
            out.append(Sample(self.name + "_sum", named, total))
        return out

    @samples.setter
    def samples(self, given: list[Sample]) -> None:
        self._given = list(given)

    def _sample_name(self, suffix: str) -> str:
        return self.name + ("_total" if self.type == "counter" else "") + suffix

    def lines(self) -> Iterable[str]:
        """The text lines of every row (samples added by `add_sample` come first)."""
        yield from (_sample_line(s) for s in self._given)
        names = [_label(n) for n in self._labelnames]
        if self.type != "histogram":
            order = sorted(range(len(names)), key=names.__getitem__)
            name = _name(self._sample_name(""))
            for labels, value, _ in self._rows:
                yield f"{name}{_braces(names, labels, order)} {go_float(value)}\n"
            return
        # sorted label names, with `le` in its place among them
        order = sorted(range(len(names) + 1), key=lambda i: "le" if i == len(names)
                       else names[i])
        at = order.index(len(names))
        before, after = order[:at], order[at + 1:]
        bucket, count, total = (_name(self.name + s) for s in ("_bucket", "_count", "_sum"))
        plain = sorted(range(len(names)), key=names.__getitem__)
        for labels, cumulative, sum_value in self._rows:
            head = ",".join(f'{names[i]}="{escape_value(labels[i])}"' for i in before)
            tail = ",".join(f'{names[i]}="{escape_value(labels[i])}"' for i in after)
            head = f"{bucket}{{{head},le=" if head else f"{bucket}{{le="
            tail = f",{tail}}}" if tail else "}"
            for le, value in zip(self._le, cumulative, strict=True):
                yield f'{head}"{le}"{tail} {go_float(value)}\n'
            braces = _braces(names, labels, plain)
            yield f"{count}{braces} {go_float(cumulative[-1])}\n"
            yield f"{total}{braces} {go_float(sum_value)}\n"


def _braces(names: Sequence[str], labels: Sequence[str], order: Sequence[int]) -> str:
    if not names:
        return ""
    return "{" + ",".join(f'{names[i]}="{escape_value(labels[i])}"' for i in order) + "}"


def _sample_line(sample: Sample) -> str:
    labels = ""
    if sample.labels:
        labels = "{" + ",".join(f'{_label(k)}="{escape_value(v)}"'
                                for k, v in sorted(sample.labels.items())) + "}"
    stamp = ""
    if sample.timestamp is not None:
        stamp = f" {int(float(sample.timestamp) * 1000):d}"
    return f"{_name(sample.name)}{labels} {go_float(sample.value)}{stamp}\n"


_TYPES = {"counter": "counter", "info": "gauge", "stateset": "gauge",
          "gaugehistogram": "histogram", "unknown": "untyped"}


def render(registry: Collector) -> bytes:
    """What `generate_latest(registry)` returns, with `Rows` families rendered directly."""
    output: list[str] = []
    for metric in registry.collect():
        mname = metric.name + {"counter": "_total", "info": "_info"}.get(metric.type, "")
        mtype = _TYPES.get(metric.type, metric.type)
        doc = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
        output.append(f"# HELP {_name(mname)} {doc}\n# TYPE {_name(mname)} {mtype}\n")
        if isinstance(metric, Rows):
            output.extend(metric.lines())
            continue
        extra: dict[str, list[str]] = {}
        for sample in metric.samples:
            suffix = next((s for s in _OPENMETRICS_SUFFIXES
                           if sample.name == metric.name + s), None)
            if suffix is None:
                output.append(_sample_line(sample))
            else:
                extra.setdefault(suffix, []).append(_sample_line(sample))
        for suffix, lines in sorted(extra.items()):
            output.append(f"# HELP {_name(metric.name + suffix)} {doc}\n"
                          f"# TYPE {_name(metric.name + suffix)} gauge\n")
            output.extend(lines)
    return "".join(output).encode("utf-8")
