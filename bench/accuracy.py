"""Accuracy (and freshness): the daemon and Prometheus + blackbox_exporter against one
fault-injecting vendor, window by window, against the vendor's ground-truth schedule.

sla-probe decides each window under three contracts (`all`, `any`, `ratio>=0.5`);
Prometheus scrapes blackbox_exporter's `/probe` of the same vendor at the same rate and the
windows are computed the usual PromQL way at aligned window ends:
`max_over_time(probe_success[W])` (any success → up: the `all` rule),
`min_over_time(probe_success[W])` (all success → up: the `any` rule),
`avg_over_time(probe_success[W])` (the ratio rule). The same run measures freshness: the
time from a window's end to its verdict in the daemon's `/metrics`.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp

from bench import promstack
from bench.common import (
    PYTHON,
    free_port,
    keep_or_temp,
    percentile,
    save,
    spawn,
    stop,
    table,
    wait_port,
)
from bench.servers import SHAPES, TRUTH

RULES = ("all", "any", "ratio>=0.5")
CONTRACTS = {"all": "all", "any": "any", "ratio>=0.5": "ratio"}
CLASSES = ("up", "down", "excluded", "no_data")

FULL_CYCLE = ["healthy", "whole", "healthy", "first2", "first6", "single", "flapping",
              "healthy", "slow_under", "slow_over", "slow_mixed", "reset", "healthy",
              "bad_signature", "vantage", "healthy"]
QUICK_CYCLE = ["whole", "single", "vantage"]


def daemon_config(state_dir: Path, vendor: str, port: int, window: int, interval: float,
                  timeout: float) -> str:
    check = (f'{{name: sign, type: http, url: "{vendor}/sla/health", interval: {interval}s, '
             f'timeout: {timeout}s, expect: {{status: [200], json: [{{path: "$.signature", '
             f'equals: valid}}]}}}}')
    contracts = "\n".join(
        f"  - {{name: {name}, window: {window}s, down_rule: \"{rule}\", "
        f"objectives: [{{service: api, target: 99.9}}]}}"
        for rule, name in CONTRACTS.items())
    return f"""\
probe: {{vantage: bench, state_dir: "{state_dir}", listen: "127.0.0.1:{port}",
         spread: false, log_level: warning, shutdown_grace: 2s}}
services:
  - name: api
    checks:
      - {check}
controls:
  - {{name: reach, type: http, url: "{vendor}/sla/control", interval: {interval}s,
     timeout: {timeout}s}}
contracts:
{contracts}
"""


def matrix(pairs: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    counts = Counter(pairs)
    return {t: {p: counts[(t, p)] for p in CLASSES} for t in CLASSES}


def misclassified(pairs: list[tuple[str, str]]) -> int:
    return sum(1 for t, p in pairs if t != p)


def bb_verdict(minimum: float | None, maximum: float | None, avg: float | None,
               count: float | None, rule: str) -> str:
    if count is None or count == 0 or avg is None:
        return "no_data"
    if rule == "all":
        return "down" if maximum == 0 else "up"
    if rule == "any":
        return "down" if minimum == 0 else "up"
    return "down" if avg <= 0.5 else "up"


async def poll_metrics(port: int, stop_event: asyncio.Event,
                       samples: list[tuple[float, dict[str, float]]]) -> None:
    pattern = re.compile(r'^sla_probe_windows_total\{contract="([^"]+)".* ([0-9.e+]+)$',
                         re.MULTILINE)
    async with aiohttp.ClientSession() as http:
        while not stop_event.is_set():
            try:
                async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    text = await resp.text()
                t = time.time()
                totals: dict[str, float] = {}
                for name, value in pattern.findall(text):
                    totals[name] = totals.get(name, 0.0) + float(value)
                samples.append((t, totals))
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)


def ledger_windows(state_dir: Path) -> dict[str, list[tuple[int, str, str, float, int]]]:
    from probe.store import Ledger  # noqa: PLC0415

    reader = Ledger.reader(state_dir)
    try:
        return {name: [(v.window_start, v.verdict.value, v.reason.value, v.decided_at,
                        v.attempts) for v in reader.windows(name, 0, 2**40)]
                for name in CONTRACTS.values()}
    finally:
        reader.close()


async def run(quick: bool = False, out: Path | None = None) -> dict[str, Any]:
    from probe import logs  # noqa: PLC0415
    from probe.config import parse_config  # noqa: PLC0415
    from probe.daemon import Daemon  # noqa: PLC0415

    logs.configure("error", json=True)
    window = 2 if quick else 4
    interval = window / 8
    timeout = round(interval * 0.6, 3)
    cycle = QUICK_CYCLE if quick else FULL_CYCLE
    cycles = 1 if quick else 2
    shapes = cycle * cycles
    lead = 2
    first = math.ceil(time.time() / window) * window + lead * window
    schedule = {first + i * window: shape for i, shape in enumerate(shapes)}
    last_end = first + len(shapes) * window
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(keep_or_temp("bench-accuracy-")))
        (workdir / "schedule.json").write_text(json.dumps(schedule))
        vport = free_port()
        vendor_proc = spawn([PYTHON, "-m", "bench.servers", "vendor", "--port", str(vport),
                             "--schedule", str(workdir / "schedule.json"), "--window",
                             str(window), "--timeout", str(timeout)])
        stack.callback(stop, vendor_proc)
        wait_port(vport, proc=vendor_proc)
        vendor = f"http://127.0.0.1:{vport}"
        prom: promstack.Prometheus | None = None
        if promstack.available():
            bb = stack.enter_context(promstack.Blackbox(
                workdir / "bb", timeout, body_regex='"signature": *"valid"'))
            prom = stack.enter_context(promstack.Prometheus(
                workdir / "prom", bb.port, f"{vendor}/bb/health", interval,
                scrape_timeout=min(interval - 0.01, timeout + 0.15)))
        state_dir = workdir / "state"
        port = free_port()
        config = parse_config(daemon_config(state_dir, vendor, port, window, interval, timeout))
        daemon = Daemon(config, install_signals=False)
        serve = asyncio.create_task(daemon.serve())
        await asyncio.wait_for(daemon.started.wait(), 20)
        # put the attempts half an interval away from every window boundary
        now = time.time()
        await asyncio.sleep((interval / 2 - now % interval) % interval)
        assert daemon.scheduler is not None
        daemon.scheduler.replace_jobs(daemon.scheduler.jobs)
        samples: list[tuple[float, dict[str, float]]] = []
        poll_stop = asyncio.Event()
        poller = asyncio.create_task(poll_metrics(daemon.bound_port or port, poll_stop,
                                                  samples))
        settle = config.max_timeout() + config.probe.grace
        await asyncio.sleep(max(0.0, last_end + settle + 1.0 - time.time()))
        poll_stop.set()
        await poller
        daemon.request_stop()
        await asyncio.wait_for(serve, 20)
        windows = ledger_windows(state_dir)
        vendor_log = _vendor_log(vport)
        bb_values: dict[str, dict[float, float]] = {}
        if prom is not None:
            start, end = first + window - 0.001, last_end - 0.001
            for fn in ("min", "max", "avg", "count"):
                bb_values[fn] = prom.range_values(
                    f'{fn}_over_time(probe_success{{job="bb"}}[{window}s])', start, end, window)
    return report(schedule, window, interval, timeout, windows, samples, bb_values,
                  vendor_log, quick=quick, out=out, prometheus=prom is not None)


def _vendor_log(port: int) -> list[tuple[str, float, str]]:
    import urllib.request  # noqa: PLC0415

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as resp:
        return [tuple(x) for x in json.loads(resp.read())]  # type: ignore[misc]


def report(schedule: dict[int, str], window: int, interval: float, timeout: float,
           windows: dict[str, list[tuple[int, str, str, float, int]]],
           samples: list[tuple[float, dict[str, float]]], bb: dict[str, dict[float, float]],
           vendor_log: list[tuple[str, float, str]], *, quick: bool, out: Path | None,
           prometheus: bool) -> dict[str, Any]:
    results: dict[str, Any] = {"window": window, "interval": interval, "timeout": timeout,
                               "windows": len(schedule), "prometheus": prometheus,
                               "quick": quick, "shapes": SHAPES}
    ours: dict[str, list[tuple[str, str]]] = {}
    theirs: dict[str, list[tuple[str, str]]] = {}
    per_shape: dict[str, dict[str, list[str]]] = {}
    for r_index, rule in enumerate(RULES):
        got = {w: v for w, v, *_ in windows[CONTRACTS[rule]]}
        ours[rule] = []
        theirs[rule] = []
        for ws, shape in sorted(schedule.items()):
            truth = TRUTH[shape][r_index]
            mine = got.get(ws, "missing")
            ours[rule].append((truth, mine))
            entry = per_shape.setdefault(shape, {})
            entry.setdefault(f"sla:{rule}", []).append(mine)
            entry.setdefault("truth", list(TRUTH[shape]))
            if prometheus:
                t = round(ws + window - 0.001, 3)
                verdict = bb_verdict(bb["min"].get(t), bb["max"].get(t), bb["avg"].get(t),
                                     bb["count"].get(t), rule)
                theirs[rule].append((truth, verdict))
                entry.setdefault(f"bb:{rule}", []).append(verdict)
    results["sla_probe"] = {rule: {"misclassified": misclassified(p), "matrix": matrix(p)}
                            for rule, p in ours.items()}
    if prometheus:
        results["blackbox"] = {rule: {"misclassified": misclassified(p), "matrix": matrix(p)}
                               for rule, p in theirs.items()}
    results["per_shape"] = per_shape
    # phase of each prober's requests relative to the window boundaries (straddle risk)
    phases: dict[str, float] = {}
    for prober in ("sla", "bb"):
        arrivals = [t for p, t, _ in vendor_log if p == prober]
        if arrivals:
            phases[prober] = min(min(t % window, window - t % window) for t in arrivals)
    results["min_distance_to_boundary_s"] = phases
    results["freshness"] = freshness(schedule, window, windows, samples)
    name = "accuracy-quick" if quick else "accuracy"
    path = save(name, results, out)
    print(render(results))
    print(f"\nwritten {path}")
    return results


def freshness(schedule: dict[int, str], window: int,
              windows: dict[str, list[tuple[int, str, str, float, int]]],
              samples: list[tuple[float, dict[str, float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    first_poll = samples[0][0] if samples else math.inf
    visible: dict[str, dict[int, float]] = {}
    for name, rows in windows.items():
        seen: dict[int, float] = {}
        ordered = sorted(rows)
        j = 0
        for t, totals in samples:
            count = int(totals.get(name, 0))
            while j < min(count, len(ordered)):
                if t > first_poll:
                    seen[ordered[j][0]] = t
                j += 1
        visible[name] = seen
    lags = [t - (ws + window) for name in windows for ws, t in visible[name].items()
            if ws in schedule]
    decided = [d - (ws + window) for rows in windows.values() for ws, _, _, d, _ in rows
               if ws in schedule]
    out["end_to_metrics_s"] = {"p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99),
                               "max": max(lags, default=math.nan), "n": len(lags)}
    out["end_to_ledger_s"] = {"p50": percentile(decided, 0.5),
                              "max": max(decided, default=math.nan), "n": len(decided)}
    detect: dict[str, list[float]] = {}
    for rule, name in CONTRACTS.items():
        for ws, shape in schedule.items():
            if shape in ("whole", "slow_over", "reset", "bad_signature") and \
                    ws in visible[name]:
                detect.setdefault(rule, []).append(visible[name][ws] - ws)
    out["outage_start_to_down_in_metrics_s"] = {
        rule: {"p50": percentile(v, 0.5), "max": max(v)} for rule, v in detect.items()}
    return out


def render(results: dict[str, Any]) -> str:
    lines = [f"## Accuracy: {results['windows']} windows of {results['window']}s, "
             f"attempts every {results['interval']}s, timeout {results['timeout']}s\n"]
    rows = []
    for rule in RULES:
        row: list[Any] = [rule, results["windows"], results["sla_probe"][rule]["misclassified"]]
        if results["prometheus"]:
            row.append(results["blackbox"][rule]["misclassified"])
        rows.append(row)
    headers = ["down rule", "windows", "sla-probe misclassified"]
    if results["prometheus"]:
        headers.append("Prometheus+blackbox misclassified")
    lines.append(table(headers, rows))
    for rule in RULES:
        lines.append(f"\n### rule `{rule}`: rows = truth, columns = verdict "
                     "(sla-probe | Prometheus+blackbox)\n")
        mrows = []
        for t in CLASSES:
            row = [t, *(results["sla_probe"][rule]["matrix"][t][p] for p in CLASSES)]
            if results["prometheus"]:
                row += ["‖", *(results["blackbox"][rule]["matrix"][t][p] for p in CLASSES)]
            mrows.append(row)
        header = ["truth \\ verdict", *CLASSES]
        if results["prometheus"]:
            header += ["‖", *(f"bb {c}" for c in CLASSES)]
        lines.append(table(header, mrows))
    lines.append("\n### per outage shape (first cycle): truth / sla-probe / blackbox, "
                 "rules all, any, ratio>=0.5\n")
    srows = []
    for shape, entry in results["per_shape"].items():
        truth = "/".join(entry["truth"])
        sla = "/".join(entry[f"sla:{r}"][0] for r in RULES)
        row = [shape, truth, sla]
        if results["prometheus"]:
            row.append("/".join(entry[f"bb:{r}"][0] for r in RULES))
        srows.append(row)
    lines.append(table(["shape", "truth", "sla-probe",
                        *(["Prometheus+blackbox"] if results["prometheus"] else [])], srows))
    fresh = results["freshness"]
    e2m = fresh["end_to_metrics_s"]
    lines.append(f"\n## Freshness: window end → verdict in /metrics: p50 {e2m['p50']:.3f}s, "
                 f"p99 {e2m['p99']:.3f}s, max {e2m['max']:.3f}s (n={e2m['n']}); "
                 f"goal ≤ timeout + 1s = {results['timeout'] + 1:.2f}s")
    for rule, v in fresh["outage_start_to_down_in_metrics_s"].items():
        lines.append(f"- outage start → `down` in /metrics, rule {rule}: p50 {v['p50']:.3f}s, "
                     f"max {v['max']:.3f}s (window {results['window']}s)")
    lines.append(f"- nearest request to a window boundary (s): "
                 f"{results['min_distance_to_boundary_s']}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    asyncio.run(run(quick))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = ["run", "subprocess"]
