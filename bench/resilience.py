"""Resilience: kill -9 at random moments, hostile targets beside healthy checks, secrets.

(a) `kill -9` during a run against an always-failing target: no decided window may be lost
    or changed, none may be `up`, and windows the daemon was dead for are `no_data`.
(b) hostile targets (never answers, slowloris, 1 GB body, garbage instead of TLS, invalid
    JSON) beside 500 healthy checks: the healthy checks' schedule lag and the memory.
(d) a run whose config holds secrets, against a server that echoes them back everywhere:
    the logs, metrics, API, every report format and the ledger files must not contain them.
(c), config fuzzing, is a regular test: tests/test_config_fuzz.py.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    cores,
    free_port,
    keep_or_temp,
    percentile,
    rss_bytes,
    save,
    spawn,
    stop,
    table,
    wait_port,
)
from bench.servers import HOSTILE_KINDS, echo_forms

# -- (a) kill -9 ---------------------------------------------------------------------------


def kill_config(state: Path, vendor: str, port: int) -> str:
    return f"""\
probe: {{vantage: bench, state_dir: "{state}", listen: "127.0.0.1:{port}", grace: 300ms,
         shutdown_grace: 2s, log_level: warning}}
services:
  - name: api
    checks:
      - {{name: health, type: http, url: "{vendor}/sla/health", interval: 200ms,
         timeout: 150ms}}
controls:
  - {{name: reach, type: http, url: "{vendor}/sla/control", interval: 200ms, timeout: 150ms}}
contracts:
  - {{name: all, window: 1s, down_rule: all, objectives: [{{service: api, target: 99.9}}]}}
  - {{name: any, window: 1s, down_rule: any, objectives: [{{service: api, target: 99.9}}]}}
"""


def read_verdicts(state: Path) -> dict[tuple[str, int], str]:
    from probe.store import LEDGER_FILE, Ledger  # noqa: PLC0415

    if not (state / LEDGER_FILE).exists():
        return {}
    reader = Ledger.reader(state)
    try:
        return {(name, v.window_start): v.verdict.value
                for name in ("all", "any") for v in reader.windows(name, 0, 2**40)}
    finally:
        reader.close()


def kill9(workdir: Path, cycles: int, seed: int = 9) -> dict[str, Any]:
    rng = random.Random(seed)
    now = int(time.time())
    horizon = now + 3600
    (workdir / "failing.json").write_text(json.dumps(dict.fromkeys(range(now, horizon), "whole")))
    vport = free_port()
    vendor_proc = spawn([PYTHON, "-m", "bench.servers", "vendor", "--port", str(vport),
                         "--schedule", str(workdir / "failing.json"), "--window", "1"])
    state = workdir / "kill-state"
    port = free_port()
    config = workdir / "kill.yaml"
    config.write_text(kill_config(state, f"http://127.0.0.1:{vport}", port))
    snapshots: list[dict[tuple[str, int], str]] = []
    dead: list[tuple[float, float]] = []
    log = workdir / "kill-daemon.log"
    try:
        wait_port(vport, proc=vendor_proc)
        for i in range(cycles):
            proc = spawn([PYTHON, "-m", "probe", "run", "-c", str(config)], log=log)
            if i % 5 == 4:  # now and then during startup (imports, ledger open, catch-up)
                time.sleep(rng.uniform(0.0, 1.5))
            else:  # otherwise at a random moment of a running daemon
                wait_port(port, 30, proc=proc)
                time.sleep(rng.uniform(0.0, 3.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            killed = time.time()
            snapshots.append(read_verdicts(state))
            time.sleep(rng.uniform(0.0, 1.5))
            dead.append((killed, time.time()))
        proc = spawn([PYTHON, "-m", "probe", "run", "-c", str(config)], log=log)
        time.sleep(4.0)
        code = stop(proc, timeout=15)
    finally:
        stop(vendor_proc)
    final = read_verdicts(state)
    lost = changed = 0
    for snap in snapshots:
        for key, verdict in snap.items():
            if key not in final:
                lost += 1
            elif final[key] != verdict:
                changed += 1
    decided = len({k for s in snapshots for k in s})
    wrongly_up = sum(1 for v in final.values() if v == "up")
    dead_windows = [(name, w) for (name, w) in final
                    if any(k <= w and w + 1 <= r for k, r in dead)]
    dead_not_no_data = sum(1 for key in dead_windows if final[key] != "no_data")
    gaps = 0
    for name in ("all", "any"):
        starts = sorted(w for (n, w) in final if n == name)
        if starts:
            gaps += (starts[-1] - starts[0] + 1) - len(starts)
    return {
        "kills": cycles, "windows_decided_before_kills": decided,
        "windows_final": len(final), "lost": lost, "changed": changed,
        "wrongly_up": wrongly_up, "dead_windows": len(dead_windows),
        "dead_windows_not_no_data": dead_not_no_data, "missing_windows": gaps,
        "last_exit_code": code,
        "verdicts": {v: sum(1 for x in final.values() if x == v)
                     for v in ("up", "down", "excluded", "no_data")},
    }


# -- (b) hostile targets -------------------------------------------------------------------


def hostile_config(state: Path, port: int, base: int, healthy: int, hostile_each: int
                   ) -> str:
    urls = {
        "silent": f"http://127.0.0.1:{base + HOSTILE_KINDS.index('silent')}/",
        "slowloris": f"http://127.0.0.1:{base + HOSTILE_KINDS.index('slowloris')}/",
        "gigabyte": f"http://127.0.0.1:{base + HOSTILE_KINDS.index('gigabyte')}/",
        "garbage_tls": f"https://127.0.0.1:{base + HOSTILE_KINDS.index('garbage_tls')}/",
        "badjson": f"http://127.0.0.1:{base + HOSTILE_KINDS.index('badjson')}/",
    }
    ok = f"http://127.0.0.1:{base + HOSTILE_KINDS.index('healthy')}/"
    lines = [f'probe: {{vantage: bench, state_dir: "{state}", listen: "127.0.0.1:{port}", '
             "log_level: error, max_concurrency: 1024}", "services:"]
    for s in range(healthy // 10):
        lines.append(f"  - name: healthy{s:03d}\n    checks:")
        lines.extend(f'      - {{name: c{c}, type: http, url: "{ok}", interval: 1s, '
                     "timeout: 800ms}" for c in range(10))
    if hostile_each:
        for kind, url in urls.items():
            lines.append(f"  - name: hostile-{kind}\n    checks:")
            lines.extend(
                f'      - {{name: c{c}, type: http, url: "{url}", interval: 1s, '
                f'timeout: 800ms, expect: {{json: [{{path: "$.signature", equals: valid}}]}}}}'
                for c in range(hostile_each))
    return "\n".join(lines) + "\n"


async def _hostile_run(config_text: str, seconds: float, warm: float) -> dict[str, Any]:
    from probe import logs  # noqa: PLC0415
    from probe.config import parse_config  # noqa: PLC0415
    from probe.daemon import Daemon  # noqa: PLC0415
    from probe.model import Attempt  # noqa: PLC0415

    logs.configure("error", json=True)
    config = parse_config(config_text)
    daemon = Daemon(config, install_signals=False)
    serve = asyncio.create_task(daemon.serve())
    await asyncio.wait_for(daemon.started.wait(), 30)
    assert daemon.scheduler is not None
    scheduler = daemon.scheduler
    lags: list[float] = []
    classes: dict[str, dict[str, int]] = {}
    recording = False
    original = scheduler._sink

    def tap(attempt: Attempt) -> None:
        if recording:
            if attempt.service.startswith("healthy"):
                lags.append(attempt.lag)
            else:
                kind = attempt.service.removeprefix("hostile-")
                result = "ok" if attempt.ok else (attempt.failure_class or "error")
                bucket = classes.setdefault(kind, {})
                bucket[result] = bucket.get(result, 0) + 1
        original(attempt)

    scheduler._sink = tap
    await asyncio.sleep(warm)
    recording = True
    rss_samples = []
    pid = os.getpid()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(0.5)
        rss_samples.append(rss_bytes(pid))
    recording = False
    daemon.request_stop()
    await asyncio.wait_for(serve, 30)
    return {
        "healthy_attempts": len(lags), "lag_p50_s": percentile(lags, 0.5),
        "lag_p99_s": percentile(lags, 0.99), "lag_max_s": max(lags, default=math.nan),
        "rss_max_bytes": max(rss_samples), "rss_last_bytes": rss_samples[-1],
        "hostile_outcomes": classes,
    }


def hostile(workdir: Path, quick: bool) -> dict[str, Any]:
    available = cores()
    under, other = (available[0], available[1]) if len(available) > 1 else (None, None)
    base = free_port()
    while any(_busy(base + i) for i in range(len(HOSTILE_KINDS))):
        base = free_port()
    server = spawn([PYTHON, "-m", "bench.servers", "hostile", "--port", str(base)],
                   core=other)
    healthy = 50 if quick else 500
    seconds, warm = (1.5, 1.0) if quick else (20.0, 3.0)
    out: dict[str, Any] = {"healthy_checks": healthy, "seconds": seconds}
    try:
        wait_port(base, proc=server)
        if under is not None:
            os.sched_setaffinity(0, {under})
        out["rss_start_bytes"] = rss_bytes(os.getpid())
        runs = []
        # baseline, hostile, baseline again: the spread of the two baselines is the noise
        for label, each in (("baseline", 0), ("hostile", 10 if not quick else 2),
                            ("baseline2", 0)):
            state = workdir / f"hostile-{label}"
            text = hostile_config(state, free_port(), base, healthy, each)
            r = asyncio.run(_hostile_run(text, seconds, warm))
            r["label"] = label
            r["hostile_checks"] = each * 5
            runs.append(r)
        out["runs"] = runs
    finally:
        if under is not None:
            os.sched_setaffinity(0, set(available))
        stop(server)
    base_p99 = max(runs[0]["lag_p99_s"], runs[2]["lag_p99_s"])
    out["p99_ratio_hostile_to_baseline"] = runs[1]["lag_p99_s"] / base_p99
    out["p99_ratio_baselines"] = runs[2]["lag_p99_s"] / runs[0]["lag_p99_s"]
    return out


def _busy(port: int) -> bool:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


# -- (d) secrets ---------------------------------------------------------------------------

SECRETS = {
    "BENCH_TOKEN": "Bearer sk-bench-" + "7f3a9c1e5b2d4f60",
    "BENCH_API_KEY": "ak-bench-0c9d8e7f6a5b4c3d",
}
FILE_SECRET = "fk-bench-file/5e4d+3c2b1a09"  # read from a file (`X-File-Key_file:`)


def needles(values: list[str]) -> list[bytes]:
    """Each secret as the echo server hands it back: raw and in every encoded form."""
    out: list[bytes] = []
    for value in values:
        out += [form.encode() for form in (value, *echo_forms(value))]
    return out


def secrets_config(state: Path, port: int, echo: str, key_file: Path) -> str:
    check = ('{{name: {name}, type: http, url: "{echo}/{path}", interval: 250ms, '
             "timeout: 200ms, secret_headers: {{Authorization: \"${{BENCH_TOKEN}}\", "
             f'X-Api-Key: \"${{{{BENCH_API_KEY}}}}\", X-File-Key_file: \"{key_file}\"}}}}'
             "{extra}}}")
    checks = [
        check.format(name="json", echo=echo, path="json",
                     extra=', expect: {json: [{path: "$.status", equals: ok}]}'),
        check.format(name="error", echo=echo, path="error", extra=""),
        check.format(name="redirect", echo=echo, path="redirect", extra=""),
        check.format(name="regex", echo=echo, path="json", extra=", expect: {regex: nomatch}"),
        check.format(name="ok", echo=echo, path="ok", extra=""),
        check.format(name="follow", echo=echo, path="redirect", extra=", follow_redirects: true"),
    ]
    # an assertion on each encoded echo puts it in the attempt's detail (redacted or not)
    checks += [check.format(name=f"encoded{i}", echo=echo, path="json",
                            extra=f', expect: {{json: [{{path: "$.encoded[{i}]", equals: ok}}]}}')
               for i in range(5)]
    body = "\n".join(f"      - {c}" for c in checks)
    return f"""\
probe: {{vantage: bench, state_dir: "{state}", listen: "127.0.0.1:{port}", grace: 300ms,
         log_level: debug}}
services:
  - name: api
    checks:
{body}
contracts:
  - {{name: c, window: 1s, down_rule: any, objectives: [{{service: api, target: 99.9}}]}}
"""


def secrets_scan(workdir: Path, seconds: float, quick: bool = False) -> dict[str, Any]:
    eport = free_port()
    echo = spawn([PYTHON, "-m", "bench.servers", "echo", "--port", str(eport)])
    state = workdir / "secret-state"
    port = free_port()
    config = workdir / "secrets.yaml"
    key_file = workdir / "file-key"
    key_file.write_text(FILE_SECRET + "\n")
    config.write_text(secrets_config(state, port, f"http://127.0.0.1:{eport}", key_file))
    log = workdir / "secrets-daemon.log"
    env = dict(SECRETS)
    places: dict[str, bytes] = {}
    try:
        wait_port(eport, proc=echo)
        proc = spawn([PYTHON, "-m", "probe", "--log-format", "json", "run", "-c", str(config)],
                     log=log, env=env)
        try:
            wait_port(port, 30, proc=proc)
            time.sleep(seconds)
            base = f"http://127.0.0.1:{port}"
            for path in ("/metrics", "/api/v1/verdicts/latest",
                         f"/api/v1/windows?contract=c&from=0&to={int(time.time()) + 10}",
                         "/", "/-/ready"):
                try:
                    with urllib.request.urlopen(base + path, timeout=10) as resp:
                        places[f"http {path.split('?')[0]}"] = resp.read()
                except OSError as exc:
                    places[f"http {path.split('?')[0]}"] = str(exc).encode()
        finally:
            places["daemon exit"] = str(stop(proc)).encode()
        with urllib.request.urlopen(f"http://127.0.0.1:{eport}/stats", timeout=10) as resp:
            seen = json.loads(resp.read())
    finally:
        stop(echo)
    places["daemon log (debug)"] = log.read_bytes()
    month = time.strftime("%Y-%m", time.gmtime())
    cli_env = {**os.environ, **env}
    for fmt in ("json",) if quick else ("text", "json", "csv", "markdown", "html"):
        res = subprocess.run(
            [PYTHON, "-m", "probe", "report", "-c", str(config), "--month", month,
             "--format", fmt], capture_output=True, env=cli_env, timeout=120, check=False)
        places[f"report {fmt}"] = res.stdout + res.stderr
    for cmd in () if quick else (["check", "-c", str(config)], ["validate", "-c", str(config)]):
        res = subprocess.run([PYTHON, "-m", "probe", *cmd], capture_output=True,
                             env=cli_env, timeout=60, check=False)
        places[f"sla-probe {cmd[0]}"] = res.stdout + res.stderr
    for path in sorted(p for p in state.rglob("*") if p.is_file()):  # ledger and evidence
        places[f"state {path.relative_to(state)}"] = path.read_bytes()
    values = [*SECRETS.values(), FILE_SECRET]
    values += [v.split(" ", 1)[1] for v in SECRETS.values() if " " in v]
    wanted = needles(values)
    found = {name: sum(blob.count(n) for n in wanted) for name, blob in places.items()}
    return {"places": found, "occurrences": sum(found.values()),
            "secret_sent_to_server": seen,
            "bytes_scanned": sum(len(b) for b in places.values())}


def run(quick: bool = False, out: Path | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"quick": quick}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(keep_or_temp("bench-resilience-")))
        results["kill9"] = kill9(workdir, 2 if quick else 50)
        print(render_kill(results["kill9"]))
        results["hostile"] = hostile(workdir, quick)
        print(render_hostile(results["hostile"]))
        results["secrets"] = secrets_scan(workdir, 2.0 if quick else 8.0, quick)
        print(render_secrets(results["secrets"]))
    path = save("resilience-quick" if quick else "resilience", results, out)
    print(f"\nwritten {path}")
    return results


def render_kill(k: dict[str, Any]) -> str:
    return ("## kill -9\n\n" + table(
        ["kills", "windows decided before kills", "lost", "changed", "wrongly up",
         "dead windows", "dead windows not no_data", "missing windows"],
        [[k["kills"], k["windows_decided_before_kills"], k["lost"], k["changed"],
          k["wrongly_up"], k["dead_windows"], k["dead_windows_not_no_data"],
          k["missing_windows"]]]))


def render_hostile(h: dict[str, Any]) -> str:
    rows = [[r["label"], r["hostile_checks"], r["healthy_attempts"], 1000 * r["lag_p50_s"],
             1000 * r["lag_p99_s"], 1000 * r["lag_max_s"], r["rss_max_bytes"] / 2**20]
            for r in h["runs"]]
    outcomes = h["runs"][1]["hostile_outcomes"]
    return ("\n## hostile targets beside healthy checks\n\n" + table(
        ["run", "hostile checks", "healthy attempts", "lag p50 ms", "lag p99 ms",
         "lag max ms", "max RSS MiB"], rows)
        + f"\n\np99 hostile / baseline: {h['p99_ratio_hostile_to_baseline']:.2f} "
        f"(baseline vs baseline: {h['p99_ratio_baselines']:.2f})\n"
        + "hostile outcomes: " + json.dumps(outcomes))


def render_secrets(s: dict[str, Any]) -> str:
    rows = [[name, count] for name, count in s["places"].items()]
    return (f"\n## secrets: {s['occurrences']} occurrences in {s['bytes_scanned']:,} bytes "
            f"(server received the secret headers {s['secret_sent_to_server']})\n\n"
            + table(["where", "occurrences"], rows))


def main(argv: list[str]) -> int:
    run("--quick" in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
