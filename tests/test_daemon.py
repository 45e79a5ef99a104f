"""The real daemon against real HTTP servers on loopback, window by window, in real time."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import aiohttp
import pytest

from probe.config import parse_config
from probe.daemon import Daemon
from probe.store import LEDGER_FILE, Ledger
from tests.conftest import free_port
from tests.servers import ScheduledTarget, wait_until

W = 2  # seconds per window: real time, so keep the windows short


def config_text(state_dir: Path, target: str, control: str, port: int = 0,
                window: int = W) -> str:
    return textwrap.dedent(f"""\
        probe: {{vantage: test, state_dir: "{state_dir}", listen: "127.0.0.1:{port}",
                 grace: 300ms, shutdown_grace: 2s, jitter: 0.05}}
        services:
          - name: api
            checks:
              - {{name: health, type: http, url: "{target}", interval: 400ms, timeout: 300ms}}
        controls:
          - {{name: reach, type: http, url: "{control}", interval: 400ms, timeout: 300ms}}
        contracts:
          - {{name: all, window: {window}s, down_rule: all, objectives: [{{service: api, target: 99.9}}]}}
          - {{name: any, window: {window}s, down_rule: any, objectives: [{{service: api, target: 99.9}}]}}
        """)


def verdicts(state_dir: Path, contract: str) -> dict[int, str]:
    if not (state_dir / LEDGER_FILE).exists():
        return {}
    reader = Ledger.reader(state_dir)
    try:
        return {v.window_start: v.verdict.value for v in reader.windows(contract, 0, 2**40)}
    except sqlite3.OperationalError:  # the daemon created the file but has not migrated it yet
        return {}
    finally:
        reader.close()


class TestDaemonWindows:
    async def test_scheduled_outage_yields_exactly_the_down_windows(
        self, state_dir: Path
    ) -> None:
        first = math.ceil(time.time() / W) * W + W  # the first whole window we observe
        down = {first + 2 * W, first + 3 * W}
        partial = first + 5 * W

        def failing(t: float) -> bool:
            # two whole windows (a little past the end, so no late attempt sees "ok"),
            # and the first half of a later window
            return (first + 2 * W <= t < first + 4 * W + 0.1) or (
                partial <= t < partial + W / 2)

        async with ScheduledTarget(failing) as target, ScheduledTarget() as control:
            cfg = parse_config(config_text(state_dir, target.url, control.url))
            daemon = Daemon(cfg, install_signals=False)
            task = asyncio.create_task(daemon.serve())
            await wait_until(lambda: first + 6 * W in verdicts(state_dir, "all"), 30)
            daemon.request_stop()
            await asyncio.wait_for(task, 10)
        got_all = verdicts(state_dir, "all")
        got_any = verdicts(state_dir, "any")
        observed = range(first, first + 7 * W, W)
        assert {w for w in observed if got_all[w] == "down"} == down
        assert all(got_all[w] == "up" for w in observed if w not in down)
        assert got_any[partial] == "down"
        assert got_all[partial] == "up"

    async def test_endpoints_answer_and_metrics_reflect_the_ledger(
        self, state_dir: Path
    ) -> None:
        async with ScheduledTarget() as target, ScheduledTarget() as control:
            cfg = parse_config(config_text(state_dir, target.url, control.url))
            daemon = Daemon(cfg, install_signals=False)
            task = asyncio.create_task(daemon.serve())
            await asyncio.wait_for(daemon.started.wait(), 10)
            base = f"http://127.0.0.1:{daemon.bound_port}"
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/-/healthy") as resp:
                    assert resp.status == 200
                await wait_until(lambda: daemon.ready()[0], 5)
                async with http.get(f"{base}/-/ready") as resp:
                    assert resp.status == 200
                await wait_until(lambda: len(verdicts(state_dir, "all")) >= 2, 15)
                async with http.get(f"{base}/metrics") as resp:
                    text = await resp.text()
                async with http.get(f"{base}/api/v1/verdicts/latest") as resp:
                    latest = await resp.json()
                async with http.get(f"{base}/") as resp:
                    assert resp.status == 200
                    assert "text/html" in resp.headers["Content-Type"]
                async with http.get(f"{base}/api/v1/status") as resp:
                    status = await resp.json()
            daemon.request_stop()
            await asyncio.wait_for(task, 10)
        assert 'sla_probe_attempts_total{check="health",result="ok",service="api"}' in text
        assert 'sla_probe_windows_total{contract="all",reason="",scope="local",' \
               'service="api",verdict="up"}' in text
        assert 'sla_probe_month_uptime_ratio{contract="all",scope="local",service="api"} 1.0' \
            in text
        assert {row["contract"] for row in latest} == {"all", "any"}
        assert {c["name"] for c in status["contracts"]} == {"all", "any"}

    async def test_reload_keeps_the_old_config_when_the_new_one_is_invalid(
        self, state_dir: Path, tmp_path: Path
    ) -> None:
        async with ScheduledTarget() as target, ScheduledTarget() as control:
            path = tmp_path / "config.yaml"
            path.write_text(config_text(state_dir, target.url, control.url))
            cfg = parse_config(path.read_text())
            daemon = Daemon(cfg, config_path=path, install_signals=False)
            task = asyncio.create_task(daemon.serve())
            await asyncio.wait_for(daemon.started.wait(), 10)
            path.write_text("services: [")
            assert await daemon.reload() is False
            assert daemon.config is cfg
            path.write_text(config_text(state_dir, target.url, control.url).replace(
                "name: health", "name: health2"))
            assert await daemon.reload() is True
            assert daemon.config.services[0].checks[0].name == "health2"
            daemon.request_stop()
            await asyncio.wait_for(task, 10)


def _spawn(config: Path) -> subprocess.Popen[bytes]:
    log = config.with_suffix(".log").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "probe", "run", "-c", str(config)],
            stdout=subprocess.DEVNULL, stderr=log,
        )
    finally:
        log.close()


def _log(config: Path) -> str:
    return config.with_suffix(".log").read_text(errors="replace")


class TestKillAndRestart:
    async def test_kill_9_loses_no_decided_window_and_the_gap_is_no_data(
        self, state_dir: Path, tmp_path: Path
    ) -> None:
        async with ScheduledTarget() as target, ScheduledTarget() as control:
            path = tmp_path / "config.yaml"
            path.write_text(config_text(state_dir, target.url, control.url, free_port(), 1))
            proc = _spawn(path)
            try:
                await wait_until(lambda: len(verdicts(state_dir, "all")) >= 3, 30)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            killed_at = time.time()
            before = verdicts(state_dir, "all")
            await asyncio.sleep(3.5)
            restarted_at = time.time()
            proc = _spawn(path)
            try:
                await wait_until(
                    lambda: max(verdicts(state_dir, "all")) > restarted_at + 2, 30)
            finally:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(15) == 0, _log(path)
        after = verdicts(state_dir, "all")
        assert {w: after[w] for w in before} == before
        dead = [w for w in after if w >= math.ceil(killed_at) and w + 1 <= restarted_at]
        assert len(dead) >= 2
        assert all(after[w] == "no_data" for w in dead), {w: after[w] for w in dead}
        windows = sorted(after)
        assert windows == list(range(windows[0], windows[-1] + 1)), "no window is missing"

    def test_sigterm_drains_and_exits_zero(self, state_dir: Path, tmp_path: Path) -> None:
        path = tmp_path / "config.yaml"
        path.write_text(config_text(state_dir, "http://127.0.0.1:9/", "http://127.0.0.1:9/",
                                    free_port(), 1))
        proc = _spawn(path)
        try:
            deadline = time.monotonic() + 20
            while not verdicts(state_dir, "all") and time.monotonic() < deadline:
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        assert "Traceback" not in _log(path)
        assert os.path.exists(state_dir / LEDGER_FILE)


class TestSignals:
    async def test_second_sigint_forces_exit_while_an_attempt_hangs(
        self, state_dir: Path, tmp_path: Path
    ) -> None:
        hung: list[asyncio.StreamWriter] = []

        async def never_answer(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            hung.append(w)

        server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        path = tmp_path / "config.yaml"
        path.write_text(textwrap.dedent(f"""\
            probe: {{state_dir: "{state_dir}", listen: "127.0.0.1:{free_port()}",
                     shutdown_grace: 60s, spread: false, jitter: 0}}
            services:
              - name: api
                checks: [{{name: hang, type: http, url: "http://127.0.0.1:{port}/",
                           interval: 50s, timeout: 40s}}]
            contracts:
              - {{name: c, objectives: [{{service: api, target: 99.9}}]}}
            """))
        proc = _spawn(path)
        try:
            await wait_until(lambda: len(hung) >= 1, 20)
            proc.send_signal(signal.SIGINT)
            await asyncio.sleep(0.5)
            assert proc.poll() is None, "the first SIGINT drains, it does not exit at once"
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 10
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert proc.poll() == 0, _log(path)
            assert time.monotonic() - started < 10
            assert "forcing" in _log(path)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            for w in hung:
                w.close()
            server.close()
            await server.wait_closed()


class TestSystemdNotify:
    async def test_ready_after_the_first_tick_then_watchdog_then_stopping(
        self, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """READY=1 only once the scheduler ticked; WATCHDOG=1 from the loop; STOPPING=1."""
        sock_path = tmp_path / "notify.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(sock_path))
        sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", str(sock_path))
        monkeypatch.setenv("WATCHDOG_USEC", "400000")
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        received: list[str] = []

        def drain() -> None:
            while True:
                try:
                    received.append(sock.recv(4096).decode())
                except BlockingIOError:
                    return

        try:
            async with ScheduledTarget() as target, ScheduledTarget() as control:
                cfg = parse_config(config_text(state_dir, target.url, control.url))
                daemon = Daemon(cfg, install_signals=False)
                task = asyncio.create_task(daemon.serve())

                def seen(word: str) -> bool:
                    drain()
                    return any(word in m for m in received)

                await wait_until(lambda: seen("WATCHDOG=1"), 15)
                assert daemon.scheduler is not None
                assert daemon.scheduler.ticks > 0
                daemon.request_stop()
                await asyncio.wait_for(task, 10)
                drain()
        finally:
            sock.close()
        ready = next(i for i, m in enumerate(received) if "READY=1" in m)
        watchdog = next(i for i, m in enumerate(received) if "WATCHDOG=1" in m)
        stopping = next(i for i, m in enumerate(received) if "STOPPING=1" in m)
        assert ready < watchdog < stopping
