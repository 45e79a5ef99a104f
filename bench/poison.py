"""Poison and flood messages on the quorum's broker (issue 14): schedule lag, memory, votes lost.

`python -m bench poison [--quick]` starts a real Mosquitto on loopback (anonymous, no
persistence, `max_queued_messages` as `deploy/mosquitto/mosquitto.conf` ships it), the
scripted vendor of `bench/servers.py` (2 windows down in every 5, 1 s windows) and three
quorum daemons (vantages a, b, c, `rule: majority`), each its own process run as
`sla-probe run` runs it (uvloop when installed), with a tap on its scheduler that records
every attempt's schedule lag.

- phase `baseline`: nothing but the daemons' own traffic;
- phase `attack`: an attacker on the broker publishes poison on vantage b's verdict topic at
  `POISON_RATE`/s, cycling through six kinds (the five of tests/quorum/test_adversary.py,
  `[` x 3000, a lone surrogate, 40 kB, nesting inside the payload, bytes that are not UTF-8,
  and a well-formed `up` vote for b signed with a key that is not b's), and floods sync
  requests at `SYNC_RATE`/s: half a genuine request of a's captured off the broker and
  replayed, half fresh requests signed with a's own key (a peer gone wrong: only the rate
  limit stands between it and a resend of the whole outbox each time).

Per phase: p50/p99/max schedule lag of all three daemons' attempts, peak RSS of the daemon
processes (and of the broker), the daemons' CPU, genuine votes expected (every vote a
vantage cast in a window of the phase, at each of the three deciders) against those stored
with the same verdict (lost must be 0), and the rejections each daemon counted, by reason.
`python -m bench.poison vantage CONFIG LAGS` is the daemon process itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import getpass
import json
import math
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    cpu_seconds,
    free_port,
    keep_or_temp,
    percentile,
    processes,
    rss_bytes,
    save,
    self_cpu,
    spawn,
    stop,
    table,
    wait_port,
)

NAMES = ("a", "b", "c")
WINDOW = 1  # seconds
PERIOD, DOWN = 5, (2, 3)  # the vendor is down in windows w with w % 5 in DOWN
POISON_RATE = 500  # messages a second
SYNC_RATE = 100
TICK = 0.01  # the attacker publishes in bursts every TICK seconds
MAX_PENDING = 2000
POISON_TOPIC = "sla-probe/v1/verdicts/vendor/api/b"
KINDS = ("deep_brackets", "lone_surrogate", "oversized", "payload_nesting", "not_utf8",
         "bad_signature")


# -- the daemon process ---------------------------------------------------------------------


def vantage(config_path: Path, lags_path: Path) -> int:
    """Run one daemon as `sla-probe run` does; write [[started_at, lag], ...] when it stops."""
    from probe import logs  # noqa: PLC0415
    from probe.cli.run import loop_factory  # noqa: PLC0415
    from probe.config import load_config  # noqa: PLC0415
    from probe.daemon import Daemon  # noqa: PLC0415
    from probe.model import Attempt  # noqa: PLC0415

    config = load_config(config_path)
    logs.configure(config.probe.log_level, json=True)
    daemon = Daemon(config, config_path=config_path)
    lags: list[tuple[float, float]] = []

    async def serve() -> int:
        task = asyncio.create_task(daemon.serve())
        started = asyncio.create_task(daemon.started.wait())
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        scheduler = daemon.scheduler
        if daemon.started.is_set() and scheduler is not None:
            sink = scheduler._sink

            def tap(attempt: Attempt) -> None:
                lags.append((attempt.started_at, attempt.lag))
                sink(attempt)

            scheduler._sink = tap
        return await task

    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(serve())
    finally:
        lags_path.write_text(json.dumps(lags))


# -- what the attacker sends ----------------------------------------------------------------


def poison(n: int, forged: Callable[[], bytes]) -> bytes:
    """Kind n % 6 of KINDS; the first five as in tests/quorum/test_adversary.py."""
    kind = n % len(KINDS)
    if kind == 0:
        return b"[" * 3000
    if kind == 1:
        text = json.dumps({"v": 1, "kind": "verdict", "vantage": "b", "x": "\ud800"})
        return json.dumps({"payload": text, "signature": base64.b64encode(b"s" * 64).decode()}
                          ).encode()
    if kind == 2:
        return b'{"payload": "' + b"x" * 40_000 + b'", "signature": ""}'
    if kind == 3:
        text = '{"vantage": "b", "kind": "verdict", "d": ' + "[" * 50 + "]" * 50 + "}"
        return json.dumps({"payload": text, "signature": ""}).encode()
    if kind == 4:
        return b"\xff\xfe not even utf-8"
    return forged()


def _raw_private(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    return base64.b64encode(key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())).decode()


def daemon_config(name: str, state: Path, port: int, broker: int, vendor: str,
                  keys: dict[str, Any]) -> str:
    from probe.quorum.codec import public_text  # noqa: PLC0415

    peers = "\n".join(f"    {n}: {public_text(k)}" for n, k in keys.items() if n != name)
    return f"""\
probe: {{vantage: {name}, state_dir: "{state}", listen: "127.0.0.1:{port}", grace: 200ms,
         shutdown_grace: 2s, jitter: 0.05, log_level: warning}}
services:
  - name: api
    checks:
      - {{name: health, type: http, url: "{vendor}/{name}/health", interval: 100ms,
         timeout: 80ms}}
controls:
  - {{name: reach, type: http, url: "{vendor}/{name}/control", interval: 200ms,
     timeout: 150ms}}
contracts:
  - {{name: vendor, window: {WINDOW}s, down_rule: all,
     objectives: [{{service: api, target: 99.9}}]}}
quorum:
  broker: {{host: 127.0.0.1, port: {broker}, reconnect_min: 200ms, reconnect_max: 1s,
            timeout: 3s}}
  signing_key: {_raw_private(keys[name])}
  rule: majority
  grace: 1500ms
  peers:
{peers}
"""


def broker_config(port: int) -> str:
    return (f"user {getpass.getuser()}\npersistence false\nlog_dest stderr\nlog_type error\n"
            f"log_type warning\nmax_queued_messages 100000\nlistener {port} 127.0.0.1\n"
            "allow_anonymous true\n")


# -- readings -------------------------------------------------------------------------------


def rejections(port: int) -> dict[str, float]:
    """sla_probe_quorum_rejected_total by reason, from the daemon's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith('sla_probe_quorum_rejected_total{reason="'):
            reason = line.split('"', 2)[1]
            out[reason] = float(line.rsplit(" ", 1)[1])
    return out


def ledger_state(state: Path) -> dict[str, Any]:
    """Local verdicts, stored votes and quorum verdicts of one daemon's ledger."""
    from probe.store import LEDGER_FILE, Ledger  # noqa: PLC0415
    from probe.store import quorum as store  # noqa: PLC0415

    if not (state / LEDGER_FILE).exists():
        return {"local": {}, "votes": {}, "quorum": {}}
    reader = Ledger.reader(state)
    try:
        local = {v.window_start: v.verdict.value
                 for v in reader.windows("vendor", 0, 2**40, "local", service="api")}
        quorum = {v.window_start: v.verdict.value
                  for v in reader.windows("vendor", 0, 2**40, "quorum", service="api")}
        raw = reader.read(lambda c: store.votes_between(c, "vendor", 0, 2**40))
    except Exception:  # not migrated yet
        return {"local": {}, "votes": {}, "quorum": {}}
    finally:
        reader.close()
    votes = {w: {n: v.verdict.value for n, v in by.items()}
             for (w, service), by in raw.items() if service == "api"}
    return {"local": local, "votes": votes, "quorum": quorum}


def count_votes(states: dict[str, dict[str, Any]], windows: range) -> dict[str, int]:
    """Every vote a vantage cast (its local verdict) for these windows, at every decider."""
    expected = stored = differing = 0
    for voter in NAMES:
        cast = states[voter]["local"]
        for w in windows:
            if w not in cast:
                continue
            for decider in NAMES:
                expected += 1
                got = states[decider]["votes"].get(w, {}).get(voter)
                if got is not None:
                    stored += 1
                    differing += got != cast[w]
    return {"votes_expected": expected, "votes_stored": stored,
            "votes_lost": expected - stored, "votes_differing": differing}


def _diff(after: dict[str, float], before: dict[str, float]) -> dict[str, int]:
    return {r: int(after[r] - before.get(r, 0)) for r in sorted(after)
            if after[r] - before.get(r, 0)}


# -- the run --------------------------------------------------------------------------------


class Observer:
    """Captures a's sync request (sent when it connects) and notices each vantage's votes."""

    def __init__(self) -> None:
        self.voted: set[str] = set()
        self.sync_a: bytes | None = None
        self.complete = asyncio.Event()  # every vantage voted, a's sync request captured

    async def run(self, port: int, ready: asyncio.Event) -> None:
        import aiomqtt  # noqa: PLC0415

        async with aiomqtt.Client("127.0.0.1", port, identifier="bench-observer") as client:
            await client.subscribe("sla-probe/v1/#", qos=1)
            ready.set()
            async for message in client.messages:
                topic = str(message.topic)
                if topic == "sla-probe/v1/sync/a" and self.sync_a is None:
                    payload = message.payload
                    self.sync_a = payload if isinstance(payload, bytes) else b""
                elif topic.startswith("sla-probe/v1/verdicts/vendor/api/"):
                    self.voted.add(topic.rsplit("/", 1)[1])
                if self.voted >= set(NAMES) and self.sync_a is not None:
                    self.complete.set()


async def attack(port: int, until: float, keys: dict[str, Any], captured: bytes | None
                 ) -> dict[str, Any]:
    import aiomqtt  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )

    from probe.model import Reason, Verdict  # noqa: PLC0415
    from probe.quorum.codec import SyncRequest, Vote, decode, encode  # noqa: PLC0415

    intruder = Ed25519PrivateKey.generate()
    instance, since = "", int(time.time()) - 60
    if captured:
        with contextlib.suppress(Exception):
            genuine = decode("sla-probe/v1/sync/a", captured, {"a": keys["a"].public_key()})
            assert isinstance(genuine, SyncRequest)
            instance, since = genuine.instance, genuine.since

    def forged() -> bytes:  # an `up` vote for b in the current window, not signed by b
        w = int(time.time()) // WINDOW * WINDOW
        vote = Vote("vendor", "api", "b", w, WINDOW, Verdict.UP, Reason.NONE, 10, 0, (), 0,
                    time.time(), "0" * 64)
        return encode(vote.payload(), intruder)

    per_tick = POISON_RATE * TICK
    sync_per_tick = SYNC_RATE * TICK
    cap_poison = int(POISON_RATE * (until - time.time()) * 1.2) + 10
    sent = dict.fromkeys(KINDS, 0)
    syncs = {"replayed": 0, "signed_by_a": 0}
    poison_due = sync_due = 0.0
    n = s = 0
    pending: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-attacker") as client:
        # QoS 1 as the daemons publish; not awaited one by one (each acknowledgement takes
        # a delayed-ACK round trip on loopback), at most MAX_PENDING unacknowledged
        client.pending_calls_threshold = MAX_PENDING + 10

        def publish(topic: str, payload: bytes) -> None:
            task = asyncio.create_task(client.publish(topic, payload, qos=1))
            pending.add(task)
            task.add_done_callback(pending.discard)

        next_tick = time.monotonic()
        while time.time() < until and n < cap_poison:
            poison_due += per_tick
            sync_due += sync_per_tick
            while poison_due >= 1:
                publish(POISON_TOPIC, poison(n, forged))
                sent[KINDS[n % len(KINDS)]] += 1
                n += 1
                poison_due -= 1
            while sync_due >= 1:
                if s % 2 == 0 and captured:
                    publish("sla-probe/v1/sync/a", captured)
                    syncs["replayed"] += 1
                else:
                    request = SyncRequest("a", since, time.time(), instance)
                    publish(request.topic, encode(request.payload(), keys["a"]))
                    syncs["signed_by_a"] += 1
                s += 1
                sync_due -= 1
            if len(pending) > MAX_PENDING:
                await asyncio.wait(set(pending), timeout=1.0,
                                   return_when=asyncio.FIRST_COMPLETED)
            next_tick += TICK
            now = time.monotonic()
            if next_tick < now - 0.1:  # behind: do not burst to catch up
                next_tick = now
            await asyncio.sleep(max(0.0, next_tick - now))
        if pending:
            await asyncio.wait(set(pending), timeout=10.0)
    took = time.monotonic() - started
    return {"poison_sent": n, "poison_by_kind": sent, "sync_sent": syncs,
            "seconds": round(took, 2), "poison_per_s": round(n / took, 1),
            "sync_per_s": round(s / took, 1)}


def decode_cost(rounds: int) -> dict[str, float]:
    """Microseconds one `decode` of each poison kind takes in this process (no contention)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )

    from probe.model import Reason, Verdict  # noqa: PLC0415
    from probe.quorum.codec import Vote, decode, encode  # noqa: PLC0415

    keys = {"b": Ed25519PrivateKey.generate().public_key()}
    intruder = Ed25519PrivateKey.generate()
    vote = Vote("vendor", "api", "b", 1_000_000, WINDOW, Verdict.UP, Reason.NONE, 10, 0, (),
                0, 1_000_000.0, "0" * 64)
    forged = encode(vote.payload(), intruder)
    out = {}
    for i, kind in enumerate(KINDS):
        data = poison(i, lambda: forged)
        started = time.perf_counter()
        for _ in range(rounds):
            with contextlib.suppress(Exception):
                decode(POISON_TOPIC, data, keys)
        out[kind] = round((time.perf_counter() - started) / rounds * 1e6, 1)
    return out


async def _sleep_until(t: float) -> None:
    await asyncio.sleep(max(0.0, t - time.time()))


async def _run(workdir: Path, quick: bool, procs: list[Any]) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )

    phase_s = 5 if quick else 30
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    now = int(time.time())
    schedule = {w: "whole" for w in range(now, now + 3600) if w % PERIOD in DOWN}
    (workdir / "schedule.json").write_text(json.dumps(schedule))
    vport, bport = free_port(), free_port()
    vendor = spawn([PYTHON, "-m", "bench.servers", "vendor", "--port", str(vport),
                    "--schedule", str(workdir / "schedule.json"), "--window", str(WINDOW)])
    procs.append(vendor)
    (workdir / "mosquitto.conf").write_text(broker_config(bport))
    broker = spawn([mosquitto, "-c", str(workdir / "mosquitto.conf")],
                   log=workdir / "mosquitto.log")
    procs.append(broker)
    wait_port(vport, proc=vendor)
    wait_port(bport, proc=broker)

    observer = Observer()
    listening = asyncio.Event()
    watch = asyncio.create_task(observer.run(bport, listening))
    await asyncio.wait_for(listening.wait(), 10)
    keys = {n: Ed25519PrivateKey.generate() for n in NAMES}
    ports = {n: free_port() for n in NAMES}
    daemons: dict[str, Any] = {}
    for name in NAMES:
        state = workdir / f"state-{name}"
        config = workdir / f"{name}.yaml"
        config.write_text(daemon_config(name, state, ports[name], bport,
                                        f"http://127.0.0.1:{vport}", keys))
        daemons[name] = spawn([PYTHON, "-m", "bench.poison", "vantage", str(config),
                               str(workdir / f"lags-{name}.json")],
                              log=workdir / f"daemon-{name}.log")
        procs.append(daemons[name])
    for name in NAMES:
        await asyncio.to_thread(wait_port, ports[name], 60, daemons[name])
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(observer.complete.wait(), 30)
    watch.cancel()
    with contextlib.suppress(BaseException):
        await watch
    if observer.voted < set(NAMES):
        raise RuntimeError(f"only {sorted(observer.voted)} voted within 30 s; "
                           f"see {workdir}/daemon-*.log")

    pids = {**{n: p.pid for n, p in daemons.items()}, "broker": broker.pid}
    samples: list[tuple[float, dict[str, int]]] = []

    async def sample(stop_at: asyncio.Event) -> None:
        while not stop_at.is_set():
            row = {}
            for who, pid in pids.items():
                with contextlib.suppress(OSError):
                    row[who] = rss_bytes(pid)
            samples.append((time.time(), row))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_at.wait(), 0.2)

    def snapshot() -> dict[str, Any]:
        return {"t": time.time(), "bench_cpu": self_cpu(), "broker_cpu": cpu_seconds(broker.pid),
                "cpu": {n: cpu_seconds(p.pid) for n, p in daemons.items()},
                "rejected": {n: rejections(ports[n]) for n in NAMES}}

    done = asyncio.Event()
    sampler = asyncio.create_task(sample(done))
    t0 = math.ceil(time.time()) + 1
    t1, t2 = t0 + phase_s, t0 + 2 * phase_s
    await _sleep_until(t0)
    snaps = [await asyncio.to_thread(snapshot)]
    await _sleep_until(t1)
    snaps.append(await asyncio.to_thread(snapshot))
    attacked = await attack(bport, t2, keys, observer.sync_a)
    snaps.append(await asyncio.to_thread(snapshot))
    # drain: every vote of the attack phase stored, or 20 s
    drain_started = time.monotonic()
    windows = {"baseline": range(t0, t1, WINDOW), "attack": range(t1, t2, WINDOW)}
    while time.monotonic() - drain_started < 20:
        await asyncio.sleep(0.5)
        states = {n: await asyncio.to_thread(ledger_state, workdir / f"state-{n}")
                  for n in NAMES}
        cast_all = all(set(windows["attack"]) <= set(states[n]["local"]) for n in NAMES)
        if cast_all and count_votes(states, windows["attack"])["votes_lost"] == 0:
            break
    drain_s = time.monotonic() - drain_started
    snaps.append(await asyncio.to_thread(snapshot))
    done.set()
    await sampler
    for proc in daemons.values():
        await asyncio.to_thread(stop, proc, timeout=15)
    states = {n: ledger_state(workdir / f"state-{n}") for n in NAMES}
    lags = {n: json.loads((workdir / f"lags-{n}.json").read_text()) for n in NAMES}

    phases: dict[str, Any] = {}
    for label, (begin, end, before, after) in {
        "baseline": (t0, t1, snaps[0], snaps[1]),
        "attack": (t1, t2, snaps[1], snaps[3]),  # rejections counted until the drain ended
    }.items():
        in_phase = [lag for n in NAMES for started, lag in lags[n] if begin <= started < end]
        worst_p99 = max(percentile([lag for t, lag in lags[n] if begin <= t < end], 0.99)
                        for n in NAMES)
        rss = [row for t, row in samples if begin <= t < end]
        ended = snaps[2 if label == "attack" else 1]
        span = ended["t"] - before["t"]
        by_vantage = {n: _diff(after["rejected"][n], before["rejected"][n]) for n in NAMES}
        total: dict[str, int] = {}
        for counts in by_vantage.values():
            for reason, count in counts.items():
                total[reason] = total.get(reason, 0) + count
        quorum = [{w: states[n]["quorum"].get(w) for w in windows[label]} for n in NAMES]
        phases[label] = {
            "seconds": end - begin, "windows": len(windows[label]),
            "vendor_down_windows": sum(1 for w in windows[label] if w % PERIOD in DOWN),
            "attempts": len(in_phase),
            "lag_p50_s": percentile(in_phase, 0.5), "lag_p99_s": percentile(in_phase, 0.99),
            "lag_max_s": max(in_phase, default=math.nan), "lag_p99_worst_daemon_s": worst_p99,
            "lag_p99_by_vantage_s": {
                n: percentile([lag for t, lag in lags[n] if begin <= t < end], 0.99)
                for n in NAMES},
            "rss_peak_bytes": max((row.get(n, 0) for row in rss for n in NAMES), default=0),
            "rss_peak_by_vantage": {n: max((row.get(n, 0) for row in rss), default=0)
                                    for n in NAMES},
            "broker_rss_peak_bytes": max((row.get("broker", 0) for row in rss), default=0),
            "cpu_share_by_vantage": {n: round((ended["cpu"][n] - before["cpu"][n]) / span, 3)
                                     for n in NAMES},
            "broker_cpu_share": round((ended["broker_cpu"] - before["broker_cpu"]) / span, 3),
            "bench_cpu_share": round((ended["bench_cpu"] - before["bench_cpu"]) / span, 3),
            **count_votes(states, windows[label]),
            "rejected": dict(sorted(total.items())), "rejected_by_vantage": by_vantage,
            "quorum_down_windows": [sum(1 for v in q.values() if v == "down") for q in quorum],
            "quorum_missing_windows": [sum(1 for v in q.values() if v is None) for q in quorum],
            "deciders_disagreeing": sum(1 for w in windows[label]
                                        if len({q[w] for q in quorum}) > 1),
        }
    # every poison message is one counted rejection at every daemon (a, b and c all hear b's
    # topic): what is left over was neither counted nor refused
    counted = phases["attack"]["rejected_by_vantage"]
    attacked["poison_uncounted_by_vantage"] = {
        n: attacked["poison_sent"] - counted[n].get("malformed", 0)
        - counted[n].get("bad_signature", 0) for n in NAMES}
    return {
        "quick": quick, "phase_s": phase_s, "window_s": WINDOW,
        "setup": {"vantages": list(NAMES), "rule": "majority", "down_rule": "all",
                  "checks": "health every 100 ms + control every 200 ms per vantage",
                  "vendor": f"down in windows w % {PERIOD} in {list(DOWN)}",
                  "poison_rate": POISON_RATE, "sync_rate": SYNC_RATE,
                  "broker": "mosquitto " + _version(mosquitto)},
        "attack": attacked, "drain_s": round(drain_s, 1),
        "votes_lost": sum(p["votes_lost"] for p in phases.values()),
        "decode_us_by_kind": decode_cost(50 if quick else 500),
        "phases": phases,
        "daemon_log_bytes": {n: (workdir / f"daemon-{n}.log").stat().st_size for n in NAMES},
    }


def _version(binary: str) -> str:
    import subprocess  # noqa: PLC0415

    with contextlib.suppress(Exception):
        out = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=5,
                             check=False).stdout
        return out.splitlines()[0].split("version", 1)[1].strip()
    return "?"


def run(quick: bool = False, out: Path | None = None) -> dict[str, Any]:
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(keep_or_temp("bench-poison-")))
        procs = stack.enter_context(processes())
        results = asyncio.run(_run(workdir, quick, procs))
    print(render(results))
    path = save("poison-quick" if quick else "poison", results, out)
    print(f"\nwritten {path}")
    return results


def render(r: dict[str, Any]) -> str:
    a = r["attack"]
    rows = []
    for label, p in r["phases"].items():
        load = "none" if label == "baseline" else \
            f"{a['poison_per_s']:.0f} poison/s + {a['sync_per_s']:.0f} sync/s"
        rows.append([label, load, p["attempts"], 1000 * p["lag_p50_s"], 1000 * p["lag_p99_s"],
                     1000 * p["lag_max_s"], p["rss_peak_bytes"] / 2**20,
                     max(p["cpu_share_by_vantage"].values()),
                     p["votes_expected"], p["votes_stored"], p["votes_lost"],
                     ", ".join(f"{k} {v:,}" for k, v in p["rejected"].items()) or "none"])
    return (f"## poison and flood messages ({r['phase_s']} s per phase, three daemons)\n\n"
            + table(["phase", "attack", "attempts", "lag p50 ms", "lag p99 ms", "lag max ms",
                     "peak RSS MiB", "max CPU share", "votes expected", "votes stored",
                     "votes lost", "rejected (sum of 3 daemons)"], rows)
            + f"\n\npoison sent {a['poison_sent']:,} ({a['poison_by_kind']}), sync requests "
            f"{a['sync_sent']}; drain {r['drain_s']} s; votes lost in all: {r['votes_lost']}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["vantage"]:
        return vantage(Path(argv[1]), Path(argv[2]))
    run("--quick" in argv)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
