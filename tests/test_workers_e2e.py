"""`probe.workers: 2` as a real `sla-probe run`: two worker processes probe, the main
process writes the one ledger and serves the metrics; a worker killed with SIGKILL is
restarted, and the attempts it had under way are recorded as lost (never up)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from probe.web.app import start_site
from tests.conftest import free_port
from tests.promstack import Server

pytestmark = pytest.mark.real

SERVICES = ("api", "db", "queue", "slow")


def worker_pids(server: Server) -> list[int]:
    """The pids the daemon logged as started workers, in order."""
    pids = []
    for line in server.log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event.get("event") == "worker_started":
                pids.append(int(event["pid"]))
    return pids


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
                   server: Server) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}\n{server.logs()}")
        await asyncio.sleep(0.1)


async def target() -> AsyncIterator[int]:
    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)  # always some attempt under way to lose
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/slow", slow)
    runner, port = await start_site(app, "127.0.0.1", 0)
    try:
        yield port
    finally:
        await runner.cleanup()


def config(tmp: Path, port: int, target_port: int) -> Path:
    def checks(service: str) -> str:
        path, every = ("slow", "interval: 1500ms, timeout: 1400ms") if service == "slow" \
            else ("ok", "interval: 500ms, timeout: 400ms")
        return ", ".join(
            f'{{name: c{i}, type: http, url: "http://127.0.0.1:{target_port}/{path}?{i}", '
            f'{every}}}' for i in range(4))

    services = "\n".join(f"  - {{name: {s}, checks: [{checks(s)}]}}" for s in SERVICES)
    path = tmp / "sla-probe.yml"
    path.write_text(textwrap.dedent(f"""\
        probe: {{vantage: w, state_dir: "{tmp / 'state'}", listen: "127.0.0.1:{port}",
                 workers: 2, grace: 300ms, shutdown_grace: 2s}}
        services:
        """) + services + textwrap.dedent(f"""
        controls:
          - {{name: reach, type: http, url: "http://127.0.0.1:{target_port}/ok",
              interval: 500ms, timeout: 400ms}}
        contracts:
          - {{name: all, window: 2s, objectives: [{", ".join(
              f"{{service: {s}, target: 99}}" for s in SERVICES)}]}}
        """))
    return path


def argv(path: Path) -> list[str]:
    script = Path(sys.executable).with_name("sla-probe")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "probe"]
    return [*base, "run", "-c", str(path)]


async def test_workers_probe_restart_and_record_lost_attempts(tmp_path: Path) -> None:
    port = free_port()
    gen = target()
    target_port = await gen.__anext__()
    daemon = Server("sla-probe", argv(config(tmp_path, port, target_port)),
                    tmp_path / "daemon.log", port)
    try:
        await daemon.wait_ready("/-/ready")
        await wait_for(lambda: len(worker_pids(daemon)) >= 2, 20, "two workers", daemon)
        first = worker_pids(daemon)
        await asyncio.sleep(3)
        os.kill(first[0], signal.SIGKILL)
        await wait_for(lambda: len(worker_pids(daemon)) >= 3, 20, "a restarted worker",
                       daemon)
        await asyncio.sleep(4.5)  # the windows around the kill are decided
        daemon.proc.send_signal(signal.SIGHUP)  # a reload restarts both on the new config
        await wait_for(lambda: len(worker_pids(daemon)) >= 5, 30, "workers after reload",
                       daemon)
        async with aiohttp.ClientSession() as session, \
                session.get(f"{daemon.url}/metrics") as response:
            metrics = await response.text()
    finally:
        daemon.stop()
        with contextlib.suppress(StopAsyncIteration):
            await gen.__anext__()
    assert daemon.proc.returncode == 0, daemon.logs()
    for service in SERVICES:
        assert f'service="{service}"' in metrics
    assert 'service="_controls"' in metrics  # controls run in the main process
    log = daemon.log.read_text()
    assert "worker_died" in log
    assert log.count('"worker_exited"') >= 2  # drained by the reload, not lost
    conn = sqlite3.connect(tmp_path / "state" / "ledger.sqlite3")
    try:
        services = {row[0] for row in conn.execute("SELECT DISTINCT service FROM attempts")}
        lost = conn.execute(
            "SELECT service, ok, detail FROM attempts WHERE failure_class='lost'").fetchall()
        windows = conn.execute(
            "SELECT service, verdict, attempts, failures, failure_classes FROM windows "
            "WHERE scope='local'").fetchall()
    finally:
        conn.close()
    assert services == {*SERVICES, "_controls"}
    assert lost, f"no lost attempt recorded\n{daemon.logs()}"
    assert all(ok == 0 and "exited" in detail for _, ok, detail in lost)
    showing = [w for w in windows if "lost" in json.loads(w[4])]
    assert showing, windows
    # only the lost attempts of a window were failures: the rule judged the rest (up)
    assert all(verdict in ("up", "no_data") for _, verdict, _, _, _ in showing), showing
