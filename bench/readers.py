"""Heavy readers beside the probe: p99 schedule lag and RSS of the daemon while three
clients pull a 432k-window month through `/api/v1/windows` (all pages), beside the idle
figure (issue 12, item 1). `python -m bench readers [--quick]`.

Bounded: the pulls stop after `PULL_LIMIT` seconds; `--quick` uses a tenth of the month.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import (
    free_port,
    histogram_quantile,
    keep_or_temp,
    parse_histogram,
    processes,
    rss_bytes,
    save,
    spawn,
    table,
    wait_port,
)

SERVICES = 10
MONTH = 43_200  # 60-s windows in 30 days
PULL_LIMIT = 600.0
LAG = "sla_probe_schedule_lag_seconds"


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: Any) -> None:
        return


def _ledger(state: Path, per_service: int) -> None:
    from probe.store import Ledger  # noqa: PLC0415

    Ledger(state).close()
    conn = sqlite3.connect(state / "ledger.sqlite3")
    start = 1_700_000_000
    rows = (("c1", f"s{s}", "local", start + 60 * i, 60, "up", "", 6, 0, "[]", 0,
             float(start), "") for s in range(SERVICES) for i in range(per_service))
    with conn:
        conn.executemany("INSERT INTO windows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.close()


def _config(state: Path, port: int, target: str) -> str:
    checks = "\n".join(
        f"  - {{name: v{i}, checks: [{{name: get, type: http, url: \"{target}\", "
        f"interval: 1s, timeout: 800ms}}]}}" for i in range(20))
    bulk = "\n".join(f"  - {{name: s{i}, checks: [{{name: get, type: http, url: \"{target}\", "
                     f"interval: 10s, timeout: 2s}}]}}" for i in range(SERVICES))
    objectives = ", ".join(f"{{service: s{i}, target: 99.9}}" for i in range(SERVICES))
    return (f"probe: {{vantage: bench, state_dir: \"{state}\", listen: \"127.0.0.1:{port}\"}}\n"
            f"services:\n{checks}\n{bulk}\n"
            f"controls:\n  - {{name: reach, type: http, url: \"{target}\", interval: 1s}}\n"
            "contracts:\n  - {name: c, window: 10s, down_rule: all, objectives: "
            "[{service: v0, target: 99.9}]}\n"
            f"  - {{name: c1, window: 60s, down_rule: all, objectives: [{objectives}]}}\n")


def _lag(port: int) -> tuple[list[float], list[float]]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read()
    bounds, counts, _, _ = parse_histogram(text.decode(), LAG)
    return bounds, counts


def _p99(before: tuple[list[float], list[float]], after: tuple[list[float], list[float]]
         ) -> float:
    delta = [a - b for a, b in zip(after[1], before[1], strict=True)]
    return histogram_quantile(after[0], delta, 0.99)


def _pull(port: int, deadline: float, out: list[int]) -> None:
    url = f"http://127.0.0.1:{port}/api/v1/windows?contract=c1&from=0&to=1750000000"
    cursor: str | None = ""
    rows = 0
    while cursor is not None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + (f"&cursor={cursor}" if cursor else ""),
                                        timeout=120) as response:
                rows += len(json.loads(response.read()))
                cursor = response.headers.get("X-Next-Cursor")
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                raise
            time.sleep(0.2)
    out.append(rows)


def run(quick: bool = False, out: Path | None = None) -> dict[str, Any]:
    per_service = MONTH // 10 if quick else MONTH
    idle = 5.0 if quick else 30.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{server.server_address[1]}/"
    result: dict[str, Any] = {"windows": SERVICES * per_service, "clients": 3}
    try:
        with keep_or_temp("bench-readers-") as tmp, processes() as procs:
            state = Path(tmp) / "state"
            state.mkdir()
            _ledger(state, per_service)
            port = free_port()
            config = Path(tmp) / "config.yaml"
            config.write_text(_config(state, port, target))
            proc = spawn([sys.executable, "-m", "probe", "run", "-c", str(config)],
                         log=Path(tmp) / "daemon.log")
            procs.append(proc)
            wait_port(port, 30, proc)
            time.sleep(2.0)
            start = _lag(port)
            time.sleep(idle)
            idle_end = _lag(port)
            result["idle"] = {"p99_lag_ms": _p99(start, idle_end) * 1000,
                              "rss_mib": rss_bytes(proc.pid) / 2**20}
            pulled: list[int] = []
            deadline = time.monotonic() + PULL_LIMIT
            threads = [threading.Thread(target=_pull, args=(port, deadline, pulled))
                       for _ in range(3)]
            began = time.monotonic()
            for t in threads:
                t.start()
            peak = 0
            while any(t.is_alive() for t in threads):
                peak = max(peak, rss_bytes(proc.pid))
                time.sleep(0.2)
            loaded = _lag(port)
            result["load"] = {"p99_lag_ms": _p99(idle_end, loaded) * 1000,
                              "rss_mib": peak / 2**20, "seconds": time.monotonic() - began,
                              "rows_per_client": pulled}
    finally:
        server.shutdown()
    save("readers-quick" if quick else "readers", result, out)
    print(table(["phase", "p99 lag (ms)", "RSS (MiB)"], [
        ["idle", f"{result['idle']['p99_lag_ms']:.1f}", f"{result['idle']['rss_mib']:.0f}"],
        [f"3 clients pull {result['windows']:,} windows",
         f"{result['load']['p99_lag_ms']:.1f}", f"{result['load']['rss_mib']:.0f} (peak)"],
    ]), flush=True)
    return result
