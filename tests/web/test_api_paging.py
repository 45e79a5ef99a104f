"""`/api/v1/windows` in pages, heavy requests bounded, and heavy readers never stall the
probe: the real daemon keeps every window `up` while three clients pull a big month."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from probe.config import parse_config
from probe.store import LEDGER_FILE, Ledger
from probe.web.api import HeavyGate, decode_cursor, encode_cursor
from tests.conftest import free_port
from tests.servers import ScheduledTarget, wait_until
from tests.test_daemon import config_text, verdicts

BULK_SERVICES = 10


def _bulk(state_dir: Path, per_service: int, start: int = 1_700_000_000) -> None:
    """`per_service` decided 60-s windows of contract `c1` for ten services, inserted
    directly (a month of them would take minutes through the writer)."""
    Ledger(state_dir).close()
    conn = sqlite3.connect(state_dir / LEDGER_FILE)
    rows = ((("c1", f"s{s}", "local", start + 60 * i, 60, "up", "", 6, 0, "[]", 0,
              float(start), "")) for s in range(BULK_SERVICES) for i in range(per_service))
    with conn:
        conn.executemany("INSERT INTO windows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.close()


def _with_bulk_contract(text: str, target: str) -> str:
    """A `config_text` config plus contract `c1` over services s0..s9 (the API answers only
    for configured contracts), each probed once a second."""
    services = "".join(
        f"  - {{name: s{i}, checks: [{{name: get, type: http, url: \"{target}\", "
        f"interval: 1s, timeout: 800ms}}]}}\n" for i in range(BULK_SERVICES))
    objectives = ", ".join(f"{{service: s{i}, target: 99.9}}" for i in range(BULK_SERVICES))
    text = text.replace("services:\n", "services:\n" + services, 1)
    return text + f"  - {{name: c1, window: 60s, down_rule: all, objectives: [{objectives}]}}\n"


async def _pull_all(session: aiohttp.ClientSession, base: str, limit: int | None = None,
                    ) -> list[dict[str, object]]:
    """Every page of c1's windows, following the cursor (a pre-paging server: one page)."""
    out: list[dict[str, object]] = []
    query = f"contract=c1&from=0&to=1750000000{'' if limit is None else f'&limit={limit}'}"
    url: str | None = f"{base}/api/v1/windows?{query}"
    for _ in range(10_000):  # bounded: 432k windows are 432 pages of the default size
        if url is None:
            break
        async with session.get(url) as response:
            if response.status == 429:
                await asyncio.sleep(0.2)
                continue
            assert response.status == 200, await response.text()
            out += await response.json()
            cursor = response.headers.get("X-Next-Cursor")
        url = None if cursor is None else f"{base}/api/v1/windows?{query}&cursor={cursor}"
    return out


def _pull_all_blocking(base: str) -> list[object]:
    """`_pull_all` with urllib, for a client thread."""
    out: list[object] = []
    query = "contract=c1&from=0&to=1750000000"
    cursor: str | None = ""
    for _ in range(10_000):
        if cursor is None:
            break
        url = f"{base}/api/v1/windows?{query}" + (f"&cursor={cursor}" if cursor else "")
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                out += json.loads(response.read())
                cursor = response.headers.get("X-Next-Cursor")
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                raise
            time.sleep(0.2)
    return out


def _pull_count(base: str) -> int:
    """How many windows one client pulls, in a client process of its own."""
    return len(_pull_all_blocking(base))


class TestPaging:
    def test_cursors_round_trip_and_strangers_are_refused(self) -> None:
        assert decode_cursor(encode_cursor("sign", 1_700_000_060)) == ("sign", 1_700_000_060)
        for bad in ("", "nope", encode_cursor("x", 1)[:-2] + "!!"):
            with pytest.raises(ValueError, match="cursor"):
                decode_cursor(bad)

    async def test_pages_cover_every_window_once(self, state_dir: Path) -> None:
        _bulk(state_dir, 250)
        from probe.web.api import add_verdict_routes  # noqa: PLC0415

        reader = Ledger.reader(state_dir)
        config = parse_config(_with_bulk_contract(
            config_text(state_dir, "http://127.0.0.1:9/", "http://127.0.0.1:9/"),
            "http://127.0.0.1:9/"))
        app = web.Application()
        add_verdict_routes(app, config=lambda: config, reader=reader, now=time.time)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            async with aiohttp.ClientSession() as session:
                rows = await _pull_all(session, f"http://127.0.0.1:{port}", limit=300)
                async with session.get(f"http://127.0.0.1:{port}/api/v1/windows"
                                       "?contract=c1&limit=0") as response:
                    assert response.status == 400
        finally:
            await runner.cleanup()
            reader.close()
        keys = [(r["service"], r["window_start"]) for r in rows]
        assert len(keys) == len(set(keys)) == BULK_SERVICES * 250

    async def test_more_heavy_requests_than_the_gate_allows_get_429(self) -> None:
        gate = HeavyGate(limit=1)
        release = asyncio.Event()

        async def slow(_request: web.Request) -> web.StreamResponse:
            await release.wait()
            return web.Response(text="done")

        app = web.Application()
        app.router.add_get("/heavy", gate.wrap(slow))
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with aiohttp.ClientSession() as session:
                first = asyncio.create_task(session.get(f"http://127.0.0.1:{port}/heavy"))
                await wait_until(lambda: gate.in_flight == 1, 10)
                async with session.get(f"http://127.0.0.1:{port}/heavy") as refused:
                    assert refused.status == 429
                    assert refused.headers["Retry-After"] == "1"
                release.set()
                async with await first as done:
                    assert done.status == 200
        finally:
            await runner.cleanup()


class TestHeavyReaders:
    async def test_three_clients_pulling_a_big_month_cost_no_window(
        self, state_dir: Path, tmp_path: Path
    ) -> None:
        _bulk(state_dir, 20_000)  # 200,000 windows
        async with ScheduledTarget() as target, ScheduledTarget() as control:
            port = free_port()
            path = tmp_path / "config.yaml"
            path.write_text(_with_bulk_contract(
                config_text(state_dir, target.url, control.url, port, 1), target.url))
            log = path.with_suffix(".log").open("wb")
            proc = subprocess.Popen([sys.executable, "-m", "probe", "run", "-c", str(path)],
                                    stdout=subprocess.DEVNULL, stderr=log)
            log.close()
            try:
                await wait_until(lambda: len(verdicts(state_dir, "all")) >= 2, 30)
                loaded_from = time.time()
                # clients in processes of their own: this loop serves the vendor and the
                # control, and clients parsing JSON on its threads would hold the GIL and
                # time out the control (a stall of the test, not of the daemon)
                loop = asyncio.get_running_loop()
                with ProcessPoolExecutor(3, mp_context=mp.get_context("spawn")) as pool:
                    pulls = await asyncio.gather(*(
                        loop.run_in_executor(pool, _pull_count, f"http://127.0.0.1:{port}")
                        for _ in range(3)))
                loaded_to = time.time()
                assert pulls == [BULK_SERVICES * 20_000] * 3
                await wait_until(lambda: max(verdicts(state_dir, "all")) > loaded_to + 1, 30)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(20)
        for contract in ("all", "any"):
            during = {w: v for w, v in verdicts(state_dir, contract).items()
                      if loaded_from <= w and w + 1 <= loaded_to + 1}
            assert during, "windows were decided while the clients pulled"
            # the stalls of before made `no_data` (attempts not started) and `excluded:
            # vantage` (the control timed out); a slow test host may still time out one
            # vendor attempt, which is not the reader's doing
            assert not {"no_data", "excluded"} & set(during.values()), during
