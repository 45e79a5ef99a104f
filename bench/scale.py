"""Issue 19's table, before and after, side by side in one run (`python -m bench scale`).

- **cost**: CPU per 1,000 fresh-connection attempts at 1,000/s, repeated `--repeats`
  times (default 3); in each repeat, one after the other: the bare aiohttp client (uvloop),
  the daemon of the code before (`--before DIR`, a `git archive` of the base commit), the
  daemon now, and blackbox_exporter driven at the same rate. Every repeat is reported and
  the ratio to blackbox_exporter is the median over the repeats.
- **scale**: 1,000 checks at 1/s and 10,000 checks at 1,000 attempts/s (10 s interval),
  before and now: RSS, p50/p99 schedule lag, start-up.
- **workers**: the daemon now at rising rates with `workers: 1` and `workers: 2`; here
  both cores are used (nothing pinned), CPU is the whole process tree's, and the lag is the
  main process's histogram, into which the workers' attempts' lag is fed.

Process under test on the first core, target and drivers on the second, as in cost.py
(except the workers runs). The machine is shared: compare ratios within one run.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

from bench import promstack
from bench.common import (
    PYTHON,
    cores,
    fraction_at_most,
    free_port,
    histogram_quantile,
    keep_or_temp,
    parse_histogram,
    pin_cmd,
    rss_bytes,
    save,
    spawn,
    stop,
    table,
    wait_port,
)
from bench.cost import LAG, attempts_total, cost_config, run_client, scrape


def _tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` and its live children (the workers)."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    tck = os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tck
    return total


def _tree_rss(pid: int) -> int:
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for p in pids:
        with suppress(OSError):
            total += rss_bytes(p)
    return total


def daemon(workdir: Path, label: str, target: str, checks: int, interval: float, *,
           warm: float, measure: float, core: int | None, code: Path | None,
           workers: int = 1, loop: str = "uvloop") -> dict[str, Any]:
    """One measured `sla-probe run`; `code` is a source tree to run instead of this one."""
    state = workdir / f"state-{label}"
    port = free_port()
    config = workdir / f"{label}.yaml"
    text = cost_config(state, target, port, checks, interval, window=max(5, math.ceil(interval)))
    if workers != 1:
        text = text.replace("shutdown_grace: 2s}", f"shutdown_grace: 2s, workers: {workers}}}")
    config.write_text(text)
    env = {**os.environ, "SLA_PROBE_LOOP": loop}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    with (workdir / f"{label}.log").open("ab") as log:
        proc = subprocess.Popen(pin_cmd(core, [PYTHON, "-m", "probe", "run", "-c", str(config)]),
                                stdout=log, stderr=log, env=env, start_new_session=True,
                                cwd=code or Path(__file__).resolve().parent.parent)
    try:
        t_spawn = time.monotonic()
        wait_port(port, 600, proc=proc)
        startup = time.monotonic() - t_spawn
        time.sleep(warm)
        text0 = scrape(port)
        cpu0, t0 = _tree_cpu(proc.pid), time.monotonic()
        time.sleep(measure)
        text1 = scrape(port)
        cpu1, t1 = _tree_cpu(proc.pid), time.monotonic()
        rss = _tree_rss(proc.pid)
    finally:
        exit_code = stop(proc, timeout=30)
    n = attempts_total(text1) - attempts_total(text0)
    bounds, c0, _, _ = parse_histogram(text0, LAG)
    _, c1, _, _ = parse_histogram(text1, LAG)
    lag = [b - a for a, b in zip(c0, c1, strict=True)]
    cpu = cpu1 - cpu0
    return {"label": label, "checks": checks, "interval_s": interval, "workers": workers,
            "planned_per_s": checks / interval, "achieved_per_s": n / (t1 - t0),
            "cpu_share": cpu / (t1 - t0), "cpu_s_per_1000": 1000 * cpu / n if n else None,
            "lag_p50_s": histogram_quantile(bounds, lag, 0.5),
            "lag_p99_s": histogram_quantile(bounds, lag, 0.99),
            "lag_share_le_20ms": fraction_at_most(bounds, lag, 0.02),
            "rss_bytes": rss, "startup_s": startup, "exit": exit_code}


def run(quick: bool = False, out: Path | None = None, *, before: Path | None = None,
        repeats: int = 3, parts: tuple[str, ...] = ("cost", "scale", "workers"),
        ) -> dict[str, Any]:
    available = cores()
    under, other = (available[0], available[1]) if len(available) > 1 else (None, None)
    warm, measure = (1.0, 2.0) if quick else (4.0, 12.0)
    codes: list[tuple[str, Path | None]] = [("now", None)]
    if before is not None:
        codes.insert(0, ("before", before))
    results: dict[str, Any] = {"quick": quick, "warm_s": warm, "measure_s": measure,
                               "before": str(before) if before else None}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(keep_or_temp("bench-scale-")))
        tport = free_port()
        target_proc = spawn([PYTHON, "-m", "bench.servers", "fast", "--port", str(tport),
                             "--uvloop"], core=other)
        stack.callback(stop, target_proc)
        wait_port(tport, proc=target_proc)
        target = f"http://127.0.0.1:{tport}/health"
        rate = 100 if quick else 1000
        if "cost" in parts:
            results["cost"] = _cost(workdir, target, rate, codes, repeats, warm, measure,
                                    under, other)
        if "scale" in parts:
            results["scale"] = [
                daemon(workdir, f"scale{checks}-{name}", target, checks, interval,
                       warm=interval + 2, measure=max(6.0, 2 * interval), core=under,
                       code=code)
                for checks, interval in ([(100, 1.0)] if quick else [(1000, 1.0),
                                                                      (10000, 10.0)])
                for name, code in codes]
        if "workers" in parts:
            results["workers"] = [
                daemon(workdir, f"workers{n}-{r}", target, int(r * 0.5), 0.5, warm=warm + 4,
                       measure=measure, core=None, code=None, workers=n)
                for r in ([200] if quick else [1500, 2500, 3500]) for n in (1, 2)]
    path = save("scale-quick" if quick else "scale", results, out)
    print(render(results))
    print(f"\nwritten {path}")
    return results


def _cost(workdir: Path, target: str, rate: int, codes: list[tuple[str, Path | None]],
          repeats: int, warm: float, measure: float, under: int | None,
          other: int | None) -> dict[str, Any]:
    rounds = []
    for i in range(repeats):
        row: dict[str, Any] = {}
        row["bare_uvloop"] = run_client(
            "bare", ["--url", target, "--rate", str(rate), "--uvloop"], pid_of=None,
            warm=warm, measure=measure, core=under, workdir=workdir)["cpu_s_per_1000"]
        for name, code in codes:
            row[f"daemon_{name}"] = daemon(
                workdir, f"cost-{name}-{i}", target, rate, 1.0, warm=warm, measure=measure,
                core=under, code=code)["cpu_s_per_1000"]
        if promstack.available():
            with promstack.Blackbox(workdir / f"bb{i}", 2.0, core=under) as bb:
                row["blackbox"] = run_client(
                    "blackbox", ["--url", f"http://127.0.0.1:{bb.port}", "--target", target,
                                 "--module", "http_sla", "--rate", str(rate), "--uvloop"],
                    pid_of=bb.pid, warm=warm, measure=measure, core=other,
                    workdir=workdir)["cpu_s_per_1000"]
        rounds.append(row)
        print(f"cost repeat {i + 1}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()),
              flush=True)
    medians = {}
    if rounds and "blackbox" in rounds[0]:
        for key in rounds[0]:
            medians[key] = statistics.median(r[key] / r["blackbox"] for r in rounds)
    return {"rate": rate, "repeats": rounds, "median_x_blackbox": medians}


def render(results: dict[str, Any]) -> str:
    lines = []
    cost = results.get("cost")
    if cost:
        keys = list(cost["repeats"][0])
        lines.append(f"## CPU-s per 1,000 attempts at {cost['rate']}/s, every repeat\n")
        lines.append(table(["repeat", *keys, *[f"{k} × bb" for k in keys if k != "blackbox"]],
                           [[i + 1, *[r[k] for k in keys],
                             *[r[k] / r["blackbox"] for k in keys if k != "blackbox"]]
                            for i, r in enumerate(cost["repeats"])] if "blackbox" in keys
                           else [[i + 1, *[r[k] for k in keys]]
                                 for i, r in enumerate(cost["repeats"])]))
        lines.append("\nmedian × blackbox_exporter: " + ", ".join(
            f"{k} {v:.2f}" for k, v in cost["median_x_blackbox"].items()))
    for key, title in (("scale", "Scale"), ("workers", "Workers (both cores, tree CPU)")):
        if results.get(key):
            lines.append(f"\n## {title}\n")
            lines.append(table(
                ["run", "checks", "workers", "planned/s", "achieved/s", "CPU share",
                 "lag p50 ms", "lag p99 ms", "≤20 ms", "RSS MiB", "startup s"],
                [[r["label"], r["checks"], r["workers"], r["planned_per_s"],
                  r["achieved_per_s"], r["cpu_share"], 1000 * r["lag_p50_s"],
                  1000 * r["lag_p99_s"], r["lag_share_le_20ms"], r["rss_bytes"] / 2**20,
                  r["startup_s"]] for r in results[key]]))
    return "\n".join(lines)
