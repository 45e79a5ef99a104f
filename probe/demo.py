"""`sla-probe demo`: a simulated vendor with scripted outages, and the daemon watching it.

The vendor's behaviour is a function of the window it is in, so every decided window can be
printed beside what the script did there: the demo is its own ground truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from probe.clock import Clock, SystemClock
from probe.config import Config, config_from_data
from probe.contracts.accounts import month_accounts
from probe.contracts.month import Month, utc_iso
from probe.daemon import Daemon
from probe.demo_signer import make_signing_handler, public_key_pem, signing_check_config
from probe.model import WindowVerdict
from probe.store import Ledger, LedgerReader
from probe.web.app import start_site
from probe.yamlsource import SourceMap

CYCLE = 12
SCRIPT = {
    3: "full outage (HTTP 503)",
    6: "partial outage (first half fails)",
    8: "slow answers (2 of 3 over the timeout)",
    9: "bad signatures (signing service)",
    10: "a single failed attempt",
}


def scripted(window_index: int) -> str:
    return SCRIPT.get(window_index % CYCLE, "healthy")


class SimulatedVendor:
    """An HTTP vendor whose health follows the script, by wall-clock window."""

    def __init__(self, clock: Clock, window: float, timeout: float) -> None:
        self.clock = clock
        self.window = window
        self.timeout = timeout
        self.key = Ed25519PrivateKey.generate()
        self._good_signer = make_signing_handler(self.key, bad_every=0)
        self._bad_signer = make_signing_handler(self.key, bad_every=1)
        self._failed_once: set[int] = set()
        self._slow_count: dict[int, int] = {}

    def _position(self) -> tuple[int, float]:
        now = self.clock.wall()
        index = int(now // self.window)
        return index, (now - index * self.window) / self.window

    async def health(self, _request: web.Request) -> web.Response:
        index, fraction = self._position()
        case = index % CYCLE
        if case == 3:
            return web.json_response({"status": "unavailable"}, status=503)
        if case == 6 and fraction < 0.5:
            return web.json_response({"status": "error"}, status=500)
        if case == 8:
            n = self._slow_count.get(index, 0)
            self._slow_count[index] = n + 1
            if n % 3 != 2:
                await asyncio.sleep(self.timeout * 1.5)
        if case == 10 and index not in self._failed_once:
            self._failed_once.add(index)
            return web.json_response({"status": "error"}, status=500)
        return web.json_response({"status": "ok"})

    async def sign(self, request: web.Request) -> web.Response:
        index, _ = self._position()
        signer = self._bad_signer if index % CYCLE == 9 else self._good_signer
        return await signer(request)

    async def control(self, _request: web.Request) -> web.Response:
        return web.Response(text="reachable\n")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_get("/control", self.control)
        app.router.add_post("/v1/sign", self.sign)
        return app


def demo_config(vendor_url: str, window: float, listen: str, state_dir: Path,
                public_key: str) -> Config:
    interval = window / 6
    timeout = min(2.0, interval * 0.4)
    signing = {**signing_check_config("sign", f"{vendor_url}/v1/sign", public_key),
               "interval": interval, "timeout": timeout}
    check = {"name": "health", "type": "http", "url": f"{vendor_url}/health",
             "interval": interval, "timeout": timeout,
             "expect": {"status": [200], "json": [{"path": "$.status", "equals": "ok"}]}}
    data: dict[str, Any] = {
        # No spread or jitter: every attempt starts mid-slot (see `_align`), far from the
        # window edges where the script changes, so the script is the exact ground truth.
        "probe": {"vantage": "demo", "state_dir": str(state_dir), "listen": listen,
                  "grace": 0.5, "shutdown_grace": 2.0, "spread": False, "jitter": 0},
        "services": [{"name": "api", "checks": [check]},
                     {"name": "signing", "checks": [signing]}],
        "controls": [{"name": "reach", "type": "http", "url": f"{vendor_url}/control",
                      "interval": interval, "timeout": timeout}],
        "contracts": [
            {"name": "vendor-all", "window": int(window), "down_rule": "all",
             "objectives": [{"service": "api", "target": 99.9},
                            {"service": "signing", "target": 99.9}]},
            {"name": "vendor-any", "window": int(window), "down_rule": "any",
             "objectives": [{"service": "api", "target": 99.9},
                            {"service": "signing", "target": 99.9}]},
        ],
    }
    return config_from_data(data, SourceMap("<demo>", {}))


class Table:
    """Prints each decided window beside the script and the month-to-date uptime."""

    def __init__(self, config: Config, reader: LedgerReader, clock: Clock, out: TextIO) -> None:
        self.config = config
        self.reader = reader
        self.clock = clock
        self.out = out

    def header(self) -> None:
        self.out.write(f"{'window (UTC)':<21} {'contract':<11} {'service':<8} {'verdict':<9} "
                       f"{'att':>3} {'fail':>4}  {'classes':<22} {'MTD uptime':>10}  script\n")
        self.out.flush()

    def __call__(self, verdicts: Sequence[WindowVerdict]) -> None:
        now = self.clock.wall()
        uptime: dict[tuple[str, str], float] = {}
        for contract in self.config.contracts:
            month = Month.containing(now, contract.zone)
            single = self.config.model_copy(update={"contracts": [contract]})
            for acc in month_accounts(single, self.reader, month, now):
                uptime[(acc.contract, acc.service)] = acc.uptime_percent
        for v in verdicts:
            verdict = v.verdict.value + (f":{v.reason.value}" if v.reason.value else "")
            mtd = uptime.get((v.contract, v.service), 100.0)
            script = scripted(v.window_start // v.window_seconds)
            self.out.write(
                f"{utc_iso(v.window_start):<21} {v.contract:<11} {v.service:<8} {verdict:<9} "
                f"{v.attempts:>3} {v.failures:>4}  {','.join(v.failure_classes):<22} "
                f"{mtd:>9.4f}%  {script}\n"
            )
        self.out.flush()




async def _align(clock: Clock, window: float) -> None:
    """Start the daemon half a check interval after a window boundary.

    The vendor changes behaviour exactly at window edges; an attempt started just before an
    edge and answered just after it would see the next window's behaviour. Starting the
    grid mid-slot keeps every attempt at least `interval / 2` away from an edge.
    """
    interval = window / 6
    now = clock.wall()
    target = (now // window) * window + interval / 2
    while target <= now:
        target += interval
    await asyncio.sleep(target - now)


async def run_demo(
    *, window: float, duration: float | None, listen: str, state_dir: Path | None,
    out: TextIO, clock: Clock | None = None,
) -> int:
    if window < 1 or window != int(window):
        out.write("sla-probe demo: --window must be a whole number of seconds, at least 1s\n")
        return 2
    clock = clock or SystemClock()
    tmp = None
    if state_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="sla-probe-demo-")
        state_dir = Path(tmp.name)
    vendor = SimulatedVendor(clock, window, timeout=min(2.0, window / 6 * 0.4))
    runner, port = await start_site(vendor.app(), "127.0.0.1", 0)
    try:
        config = demo_config(f"http://127.0.0.1:{port}", window, listen, state_dir,
                             public_key_pem(vendor.key))
        Ledger(state_dir).close()
        reader = Ledger.reader(state_dir)
        table = Table(config, reader, clock, out)
        daemon = Daemon(config, clock=clock, verdict_listeners=[table])
        out.write(f"sla-probe demo: simulated vendor on http://127.0.0.1:{port}, "
                  f"windows of {window:g}s, scripted outages every {CYCLE} windows\n")
        await _align(clock, window)
        serve = asyncio.create_task(daemon.serve(), name="daemon")
        started = asyncio.create_task(daemon.started.wait(), name="demo-started")
        await asyncio.wait({serve, started}, return_when=asyncio.FIRST_COMPLETED)
        if not daemon.started.is_set():  # it stopped before listening (the port is taken)
            started.cancel()
            await serve  # raises its error (ListenError) instead of waiting forever
            return 1
        out.write(f"metrics on http://{config.probe.host}:{daemon.bound_port}/metrics "
                  "- Ctrl-C to stop\n")
        table.header()
        if duration is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(serve), duration)
            daemon.request_stop()
        await serve
        reader.close()
    finally:
        await runner.cleanup()
        if tmp is not None:
            tmp.cleanup()
    return 0
