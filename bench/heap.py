"""Per-check heap: what one more http check costs once it has run (tracemalloc).

`python -m bench heap` builds N http checks from a config (as the daemon does), runs one
attempt of each against a loopback target (so lazily built sessions, connectors and cookie
jars exist), and divides the traced heap by N. Measured twice (N and 2N) so the fixed cost
of imports and the first check cancels: per check = (heap(2N) - heap(N)) / N.
"""

from __future__ import annotations

import asyncio
import gc
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.common import save


async def _heap_of(checks: int, url: str) -> int:
    from checks.base import AttemptContext, Resources  # noqa: PLC0415
    from probe.clock import SystemClock  # noqa: PLC0415
    from probe.config import parse_config  # noqa: PLC0415
    from probe.jobs import build_jobs, close_jobs  # noqa: PLC0415

    lines = "\n".join(
        f'      - {{name: c{i}, type: http, url: "{url}?c={i}", interval: 10s, timeout: 2s}}'
        for i in range(checks))
    config = parse_config(textwrap.dedent("""\
        probe: {vantage: heap}
        services:
          - name: s
            checks:
        """) + lines + "\n")
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    jobs = build_jobs(config, Resources(clock=SystemClock()))
    clock = SystemClock()
    for job in jobs:
        await job.check.run(AttemptContext(2.0, clock, clock.monotonic()))
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    await close_jobs(jobs)
    del jobs, config
    gc.collect()
    return after - before


async def _measure(n: int) -> dict[str, Any]:
    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/"
    try:
        tracemalloc.start()
        await _heap_of(10, url)  # warm: imports, first-use caches
        small = await _heap_of(n, url)
        large = await _heap_of(2 * n, url)
        tracemalloc.stop()
    finally:
        await runner.cleanup()
    return {"checks": n, "heap_n": small, "heap_2n": large,
            "per_check_bytes": (large - small) / n}


def run(quick: bool = False, out: Path | None = None) -> dict[str, Any]:
    result = asyncio.run(_measure(50 if quick else 1000))
    print(f"per-check heap (tracemalloc, one attempt run each): "
          f"{result['per_check_bytes']:,.0f} bytes "
          f"(heap {result['heap_n']:,} B at {result['checks']} checks, "
          f"{result['heap_2n']:,} B at {2 * result['checks']})", flush=True)
    save("heap-quick" if quick else "heap", result, out)
    return result
