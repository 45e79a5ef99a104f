"""Cost and scale: attempts per second on one core, CPU per 1,000 attempts beside a bare
aiohttp client and blackbox_exporter (same rate, same target, same run), schedule lag, RSS
at 100 / 1,000 / 10,000 checks, ledger bytes per service-month, month report and scrape
time for 100 services.

The process under test is pinned to the first core; the loopback target and the load
drivers (and this script) to the second, so that the measured process has a core to itself.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import promstack
from bench.common import (
    PYTHON,
    cores,
    cpu_seconds,
    fraction_at_most,
    free_port,
    histogram_quantile,
    keep_or_temp,
    parse_histogram,
    rss_bytes,
    save,
    spawn,
    stop,
    table,
    wait_port,
)

LAG = "sla_probe_schedule_lag_seconds"
SWEEP_INTERVAL = 0.25  # few checks at a high rate: startup stays short (see BENCHMARKS.md)
MONTH_SECONDS = 30 * 86400


def has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def cost_config(state_dir: Path, target: str, port: int, checks: int, interval: float,
                window: int, per_service: int = 10) -> str:
    lines = [f'probe: {{vantage: bench, state_dir: "{state_dir}", listen: "127.0.0.1:{port}",'
             f' log_level: error, max_concurrency: 1024, shutdown_grace: 2s}}',
             "services:"]
    services = []
    for s in range(max(1, checks // per_service)):
        name = f"svc{s:05d}"
        services.append(name)
        lines.append(f"  - name: {name}")
        lines.append("    checks:")
        lines.extend(f'      - {{name: c{c}, type: http, url: "{target}", '
                     f"interval: {interval}s, timeout: {min(1.0, interval * 0.8)}s}}"
                     for c in range(min(per_service, checks - s * per_service)))
    lines.append("contracts:")
    lines.append(f"  - name: bench\n    window: {window}s\n    objectives:")
    lines.extend(f"      - {{service: {name}, target: 99.9}}" for name in services)
    return "\n".join(lines) + "\n"


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
        return resp.read().decode()


def attempts_total(text: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("sla_probe_attempts_total{"))


def run_daemon(workdir: Path, target: str, checks: int, interval: float, *, warm: float,
               measure: float, core: int | None, window: int = 5, loop: str = "asyncio",
               label: str = "") -> dict[str, Any]:
    """One measured daemon run; returns rate, CPU per 1,000, lag quantiles, RSS, ledger."""
    state = workdir / f"state-{label or checks}"
    port = free_port()
    config = workdir / f"cost-{label or checks}.yaml"
    config.write_text(cost_config(state, target, port, checks, interval, window))
    env = {"SLA_PROBE_LOOP": loop}
    proc = spawn([PYTHON, "-m", "probe", "run", "-c", str(config)], core=core,
                 log=workdir / f"daemon-{label or checks}.log", env=env)
    try:
        t_spawn = time.monotonic()
        wait_port(port, 600, proc=proc)
        startup = time.monotonic() - t_spawn
        rss_started = rss_bytes(proc.pid)
        time.sleep(warm)
        text0 = scrape(port)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(measure)
        text1 = scrape(port)
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        rss = rss_bytes(proc.pid)
        hwm = rss_bytes(proc.pid, "VmHWM")
    finally:
        code = stop(proc, timeout=30)
    n = attempts_total(text1) - attempts_total(text0)
    bounds, c0, _, _ = parse_histogram(text0, LAG)
    _, c1, _, _ = parse_histogram(text1, LAG)
    lag = [b - a for a, b in zip(c0, c1, strict=True)]
    planned = checks / interval
    cpu = cpu1 - cpu0
    return {
        "checks": checks, "interval_s": interval, "planned_per_s": planned,
        "achieved_per_s": n / (t1 - t0), "cpu_s": cpu, "cpu_share": cpu / (t1 - t0),
        "cpu_s_per_1000": 1000 * cpu / n if n else float("nan"),
        "lag_p50_s": histogram_quantile(bounds, lag, 0.5),
        "lag_p99_s": histogram_quantile(bounds, lag, 0.99),
        "lag_share_le_20ms": fraction_at_most(bounds, lag, 0.02),
        "rss_bytes": rss, "peak_rss_bytes": hwm, "exit": code, "loop": loop,
        "startup_s": startup, "rss_started_bytes": rss_started,
        "ledger": ledger_bytes(state),
    }


def ledger_bytes(state: Path) -> dict[str, Any]:
    path = state / "ledger.sqlite3"
    if not path.exists():
        return {}
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables: dict[str, int] = {}
        try:
            for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                tables[name] = int(size)
        except sqlite3.OperationalError:
            pass
        attempts = conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        windows = conn.execute("SELECT COUNT(*) FROM windows").fetchone()[0]
    finally:
        conn.close()
    attempt_bytes = tables.get("attempts", 0) + tables.get("attempts_started", 0)
    window_bytes = sum(tables.get(k, 0) for k in ("windows", "windows_month",
                                                  "window_revisions",
                                                  "sqlite_autoindex_window_revisions_1"))
    return {
        "file_bytes": path.stat().st_size, "attempts": attempts, "windows": windows,
        "tables": tables,
        "bytes_per_attempt": attempt_bytes / attempts if attempts else float("nan"),
        "bytes_per_window": window_bytes / windows if windows else float("nan"),
    }


def run_client(mode: str, args: list[str], *, pid_of: int | None, warm: float,
               measure: float, core: int | None, workdir: Path) -> dict[str, Any]:
    """Run a load driver; measure the CPU of `pid_of` (or of the driver itself)."""
    out = workdir / f"{mode}.out"
    with out.open("wb") as fh:
        proc = __import__("subprocess").Popen(
            [*(["taskset", "-c", str(core)] if core is not None else []), PYTHON, "-m",
             "bench.clients", mode, *args, "--duration", str(warm + measure + 1)],
            stdout=fh, cwd=Path(__file__).resolve().parent.parent)
    pid = pid_of if pid_of is not None else proc.pid
    try:
        time.sleep(warm)
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(measure)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    stats = json.loads(out.read_text().strip().splitlines()[-1])
    rate = stats["started"] / (warm + measure + 1)
    cpu = cpu1 - cpu0
    n = rate * (t1 - t0)
    return {"achieved_per_s": rate, "cpu_s": cpu, "cpu_share": cpu / (t1 - t0),
            "cpu_s_per_1000": 1000 * cpu / n if n else float("nan"), **stats}


def run(quick: bool = False, out: Path | None = None) -> dict[str, Any]:
    available = cores()
    under, other = (available[0], available[1]) if len(available) > 1 else (None, None)
    if other is not None:
        os.sched_setaffinity(0, {other})
    warm, measure = (1.0, 2.0) if quick else (4.0, 15.0)
    results: dict[str, Any] = {"quick": quick, "core_under_test": under,
                               "core_for_load": other, "warm_s": warm, "measure_s": measure}
    uv = has_uvloop()
    try:
        with ExitStack() as stack:
            workdir = Path(stack.enter_context(keep_or_temp("bench-cost-")))
            tport = free_port()
            target_proc = spawn([PYTHON, "-m", "bench.servers", "fast", "--port", str(tport),
                                 *(["--uvloop"] if uv else [])], core=other)
            stack.callback(stop, target_proc)
            wait_port(tport, proc=target_proc)
            target = f"http://127.0.0.1:{tport}/health"
            compare_rate = 100 if quick else 1000
            # -- side by side at one rate ---------------------------------------------------
            side: dict[str, Any] = {"rate": compare_rate}
            side["bare_aiohttp"] = run_client(
                "bare", ["--url", target, "--rate", str(compare_rate)], pid_of=None,
                warm=warm, measure=measure, core=under, workdir=workdir)
            if uv and not quick:
                side["bare_aiohttp_uvloop"] = run_client(
                    "bare", ["--url", target, "--rate", str(compare_rate), "--uvloop"],
                    pid_of=None, warm=warm, measure=measure, core=under, workdir=workdir)
            interval = 1.0
            side["sla_probe"] = run_daemon(
                workdir, target, int(compare_rate * interval), interval, warm=warm,
                measure=measure, core=under, label="side")
            if uv and not quick:
                side["sla_probe_uvloop"] = run_daemon(
                    workdir, target, int(compare_rate * interval), interval, warm=warm,
                    measure=measure, core=under, loop="uvloop", label="side-uv")
            if promstack.available():
                with promstack.Blackbox(workdir / "bb", 2.0, core=under) as bb:
                    side["blackbox_exporter"] = run_client(
                        "blackbox", ["--url", f"http://127.0.0.1:{bb.port}", "--target",
                                     target, "--module", "http_sla", "--rate",
                                     str(compare_rate), *(["--uvloop"] if uv else [])],
                        pid_of=bb.pid, warm=warm, measure=measure, core=other,
                        workdir=workdir)
            results["side_by_side"] = side
            # -- how fast on one core ----------------------------------------------------------
            sweep = []
            rates = [200] if quick else [1500, 2000, 2500]
            for rate in rates:
                for loop in (["asyncio", "uvloop"] if uv and not quick else ["asyncio"]):
                    checks = int(rate * SWEEP_INTERVAL)
                    r = run_daemon(workdir, target, checks, SWEEP_INTERVAL, warm=warm,
                                   measure=measure, core=under, loop=loop,
                                   label=f"rate{rate}-{loop}")
                    sweep.append(r)
            results["rate_sweep"] = sweep
            # -- memory at scale -----------------------------------------------------------------
            scale = []
            for checks in ([100] if quick else [100, 1000, 10000]):
                interval = max(1.0, checks / 1000)
                r = run_daemon(workdir, target, checks, interval,
                               warm=1.0 if quick else interval + 2,
                               measure=2.0 if quick else max(3.0, interval), core=under,
                               label=f"scale{checks}")
                scale.append(r)
            results["scale"] = scale
    finally:
        if other is not None:
            os.sched_setaffinity(0, set(available))
    results["ledger_month"] = ledger_month(results)
    from bench import monthreport  # noqa: PLC0415

    results["month_report"] = monthreport.run(quick=quick)
    name = "cost-quick" if quick else "cost"
    path = save(name, results, out)
    print(render(results))
    print(f"\nwritten {path}")
    return results


def ledger_month(results: dict[str, Any]) -> dict[str, Any]:
    """Extrapolate bytes per service-month from the biggest measured run."""
    runs = [r for r in results.get("rate_sweep", []) if r.get("ledger")]
    if not runs:
        return {}
    ledger = max(runs, key=lambda r: r["ledger"].get("attempts", 0))["ledger"]
    per_attempt = ledger["bytes_per_attempt"]
    per_window = ledger["bytes_per_window"]
    month = 31 * 86400
    # one service, one check every 10 s, one contract with 60 s windows, 35 days kept
    attempts_kept = 35 * 86400 / 10
    windows = month / 60
    return {
        "bytes_per_attempt": per_attempt, "bytes_per_window": per_window,
        "assumption": "1 check every 10 s, 60 s windows, attempts kept 35 days",
        "attempts_kept_bytes": attempts_kept * per_attempt,
        "windows_per_month_bytes": windows * per_window,
        "service_month_mib": (attempts_kept * per_attempt + windows * per_window) / 2**20,
    }


def render(results: dict[str, Any]) -> str:
    side = results["side_by_side"]
    lines = [f"## Cost: CPU per 1,000 fresh-connection HTTP attempts at {side['rate']}/s "
             f"(process under test on core {results['core_under_test']})\n"]
    rows = []
    bare = side["bare_aiohttp"]["cpu_s_per_1000"]
    bb = side.get("blackbox_exporter", {}).get("cpu_s_per_1000", float("nan"))
    for key, label in (("bare_aiohttp", "bare aiohttp client"),
                       ("bare_aiohttp_uvloop", "bare aiohttp client, uvloop"),
                       ("sla_probe", "sla-probe daemon"),
                       ("sla_probe_uvloop", "sla-probe daemon, uvloop"),
                       ("blackbox_exporter", "blackbox_exporter")):
        if key in side:
            r = side[key]
            rows.append([label, r["achieved_per_s"], r["cpu_share"], r["cpu_s_per_1000"],
                         r["cpu_s_per_1000"] / bare, r["cpu_s_per_1000"] / bb])
    lines.append(table(["prober", "attempts/s", "CPU share", "CPU-s per 1,000",
                        "× bare aiohttp", "× blackbox_exporter"], rows))
    lines.append(f"\n## Rate sweep on one core (daemon, {SWEEP_INTERVAL} s interval)\n")
    lines.append(table(
        ["loop", "checks", "planned/s", "achieved/s", "CPU share", "CPU-s/1,000",
         "lag p50 ms", "lag p99 ms", "≤20 ms share"],
        [[r["loop"], r["checks"], r["planned_per_s"], r["achieved_per_s"], r["cpu_share"],
          r["cpu_s_per_1000"], 1000 * r["lag_p50_s"], 1000 * r["lag_p99_s"],
          r["lag_share_le_20ms"]] for r in results["rate_sweep"]]))
    lines.append("\n## Memory at scale\n")
    lines.append(table(
        ["checks", "interval s", "attempts/s", "RSS at start MiB", "RSS MiB", "peak RSS MiB",
         "lag p50 ms", "lag p99 ms", "startup s"],
        [[r["checks"], r["interval_s"], r["achieved_per_s"], r["rss_started_bytes"] / 2**20,
          r["rss_bytes"] / 2**20, r["peak_rss_bytes"] / 2**20, 1000 * r["lag_p50_s"],
          1000 * r["lag_p99_s"], r["startup_s"]]
         for r in results["scale"]]))
    lm = results.get("ledger_month") or {}
    if lm:
        lines.append(f"\n## Ledger: {lm['bytes_per_attempt']:.0f} B per attempt, "
                     f"{lm['bytes_per_window']:.0f} B per window verdict → "
                     f"{lm['service_month_mib']:.1f} MiB per service-month "
                     f"({lm['assumption']})")
    mr = results.get("month_report") or {}
    if mr:
        lines.append(f"\n## Month report, {mr['services']} services × {mr['windows']:,} "
                     f"windows: render json {mr['render_json_s']:.3f}s, "
                     f"/metrics scrape {mr['scrape_s']:.3f}s (build {mr['build_s']:.1f}s)")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    run("--quick" in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
