"""A month of windows for 100 services: how long `report --format json` and a /metrics
scrape take. The ledger is built directly (fast bulk inserts) with the daemon's schema."""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import keep_or_temp


def build_ledger(state: Path, contracts: int, services: int, days: int, month_start: int,
                 window: int = 60) -> int:
    from probe.store import Ledger  # noqa: PLC0415

    Ledger(state).close()  # the schema
    conn = sqlite3.connect(state / "ledger.sqlite3")
    conn.execute("PRAGMA synchronous=OFF")
    rng = random.Random(6)
    n = days * 86400 // window
    per = services // contracts
    rows = 0
    conn.execute("BEGIN")
    for c in range(contracts):
        name = f"contract{c:02d}"
        counts: dict[tuple[str, str, str], int] = {}
        for s in range(per):
            service = f"svc{c:02d}-{s:02d}"
            down = {rng.randrange(n) for _ in range(20)}
            batch = []
            for i in range(n):
                verdict = "down" if i in down else "up"
                failures = 6 if verdict == "down" else 0
                classes = '["http_status"]' if failures else "[]"
                batch.append((name, service, "local", month_start + i * window, window,
                              verdict, "", 6, failures, classes, 0,
                              month_start + (i + 1) * window + 2.5, ""))
                counts[(service, verdict, "")] = counts.get((service, verdict, ""), 0) + 1
            conn.executemany("INSERT INTO windows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)
            conn.executemany(
                "INSERT INTO window_revisions (contract, service, scope, window_start, "
                "window_seconds, verdict, reason, attempts, failures, failure_classes, "
                "revision, decided_at, note, author) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,"
                "'decider')", batch)
            rows += len(batch)
        conn.executemany("INSERT INTO window_counts VALUES (?,?,?,?,?,?)",
                         [(name, s, "local", v, r, k) for (s, v, r), k in counts.items()])
        conn.execute("INSERT INTO cursors VALUES (?, 'local', ?)",
                     (name, month_start + n * window))
    conn.execute(  # what `write_verdicts` keeps up to date
        "INSERT INTO window_days SELECT contract, service, scope, "
        "window_start - window_start % 86400, verdict, reason, COUNT(*), SUM(attempts), "
        "SUM(failures) FROM windows GROUP BY 1, 2, 3, 4, 5, 6")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return rows


def config_for(state: Path, contracts: int, services: int) -> Any:
    from probe.config import config_from_data  # noqa: PLC0415
    from probe.yamlsource import SourceMap  # noqa: PLC0415

    per = services // contracts
    data = {
        "probe": {"state_dir": str(state)},
        "services": [
            {"name": f"svc{c:02d}-{s:02d}",
             "checks": [{"name": "h", "type": "http", "url": "http://127.0.0.1:9/"}]}
            for c in range(contracts) for s in range(per)],
        "contracts": [
            {"name": f"contract{c:02d}", "window": 60, "down_rule": "all",
             "credits": {"unit": "percent", "cap": 7, "claim_within": "30d",
                         "tiers": [{"min": 98.0, "max": 99.01, "amount": 3},
                                   {"min": 0, "max": 98.0, "amount": 5}]},
             "objectives": [{"service": f"svc{c:02d}-{s:02d}", "target": 99.95}
                            for s in range(per)]}
            for c in range(contracts)],
    }
    return config_from_data(data, SourceMap("<bench>", {}))


def run(quick: bool = False) -> dict[str, Any]:
    from prometheus_client import generate_latest  # noqa: PLC0415

    from probe.contracts.month import Month  # noqa: PLC0415
    from probe.metrics import LedgerCollector, build_registry  # noqa: PLC0415
    from probe.report import render  # noqa: PLC0415
    from probe.store import Ledger  # noqa: PLC0415

    contracts, services, days = (2, 4, 2) if quick else (10, 100, 30)
    month = Month.parse("2026-09")
    with keep_or_temp("bench-month-") as tmp:
        state = Path(tmp)
        start, end = month.bounds(_utc())
        t = time.perf_counter()
        rows = build_ledger(state, contracts, services, days, start)
        build_s = time.perf_counter() - t
        try:
            config = config_for(state, contracts, services)
        except Exception as exc:  # the credits block shape may differ; fall back to none
            print(f"config with credits refused ({exc}); timing without", file=sys.stderr)
            config = _plain(config_for, state, contracts, services)
        reader = Ledger.reader(state)
        now = end - 1.0
        timings: dict[str, Any] = {}
        try:
            for fmt in ("json", "text", "markdown", "html", "csv"):
                # the per-window formats (one row or cell per window) on one contract only
                cfg = config if fmt in ("json", "text", "markdown") else \
                    config.model_copy(update={"contracts": config.contracts[:1]})
                t = time.perf_counter()
                text = render(cfg, reader, month, fmt, now)
                timings[f"render_{fmt}_s"] = time.perf_counter() - t
                if fmt == "json":
                    json.loads(text)
            timings["per_window_formats_services"] = services // contracts
            collector = LedgerCollector(lambda: config, reader, lambda: now)
            registry = build_registry(collector)
            generate_latest(registry)  # warm the page cache once, as a running daemon has
            t = time.perf_counter()
            body = generate_latest(registry)
            timings["scrape_s"] = time.perf_counter() - t
            timings["scrape_bytes"] = len(body)
        finally:
            reader.close()
        size = (state / "ledger.sqlite3").stat().st_size
    out = {"contracts": contracts, "services": services, "windows": rows,
           "days": days, "build_s": build_s, "ledger_bytes": size, **timings}
    print(f"month report: {services} services, {rows:,} windows: "
          + ", ".join(f"{k} {v:.3f}" for k, v in timings.items() if k.endswith("_s"))
          + f" (html and csv: {services // contracts} services)")
    return out


def _utc() -> Any:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    return ZoneInfo("UTC")


def _plain(_fn: Any, state: Path, contracts: int, services: int) -> Any:
    from probe.config import config_from_data  # noqa: PLC0415
    from probe.yamlsource import SourceMap  # noqa: PLC0415

    per = services // contracts
    data = {
        "probe": {"state_dir": str(state)},
        "services": [
            {"name": f"svc{c:02d}-{s:02d}",
             "checks": [{"name": "h", "type": "http", "url": "http://127.0.0.1:9/"}]}
            for c in range(contracts) for s in range(per)],
        "contracts": [
            {"name": f"contract{c:02d}", "window": 60, "down_rule": "all",
             "objectives": [{"service": f"svc{c:02d}-{s:02d}", "target": 99.95}
                            for s in range(per)]}
            for c in range(contracts)],
    }
    return config_from_data(data, SourceMap("<bench>", {}))


if __name__ == "__main__":
    run("--quick" in sys.argv)
