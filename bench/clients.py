"""Load generators run as their own processes (`python -m bench.clients`).

- `bare`: the floor for an asyncio prober: a bare aiohttp client making fresh-connection
  GETs at a fixed rate, reading and checking the answer, nothing else (no windows, no
  ledger). Its CPU per 1,000 attempts is what the daemon's own work is measured against.
- `blackbox`: drives blackbox_exporter at a fixed rate by calling its
  `/probe?target=...&module=...` endpoint (keep-alive to the exporter, as Prometheus does),
  so the exporter makes that many fresh-connection HTTP probes per second.

Both print one JSON line at the end: requests started, completed, failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.parse

import aiohttp


async def paced(rate: float, duration: float, one: object) -> dict[str, int]:
    loop = asyncio.get_running_loop()
    stats = {"started": 0, "ok": 0, "failed": 0}
    tasks: set[asyncio.Task[None]] = set()

    async def wrap() -> None:
        try:
            ok = await one()  # type: ignore[operator]
        except (aiohttp.ClientError, OSError, TimeoutError):
            ok = False
        stats["ok" if ok else "failed"] += 1

    start = loop.time()
    n = 0
    end = start + duration
    while True:
        planned = start + n / rate
        if planned >= end:
            break
        delay = planned - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = loop.create_task(wrap())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        stats["started"] += 1
        n += 1
    if tasks:
        await asyncio.wait(tasks, timeout=5)
    return stats


async def bare(url: str, rate: float, duration: float) -> dict[str, int]:
    connector = aiohttp.TCPConnector(force_close=True, limit=0, use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        timeout = aiohttp.ClientTimeout(total=2)

        async def one() -> bool:
            async with session.get(url, timeout=timeout) as resp:
                await resp.read()
                return resp.status == 200

        return await paced(rate, duration, one)


async def blackbox(exporter: str, target: str, module: str, rate: float,
                   duration: float) -> dict[str, int]:
    query = urllib.parse.urlencode({"target": target, "module": module})
    url = f"{exporter}/probe?{query}"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        timeout = aiohttp.ClientTimeout(total=5)

        async def one() -> bool:
            async with session.get(url, timeout=timeout) as resp:
                text = await resp.text()
                return "probe_success 1" in text

        return await paced(rate, duration, one)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.clients")
    parser.add_argument("mode", choices=["bare", "blackbox"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--target", default="")
    parser.add_argument("--module", default="http_2xx")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop  # noqa: PLC0415

        uvloop.install()
    time.sleep(args.delay)
    if args.mode == "bare":
        stats = asyncio.run(bare(args.url, args.rate, args.duration))
    else:
        stats = asyncio.run(blackbox(args.url, args.target, args.module, args.rate,
                                     args.duration))
    sys.stdout.write(json.dumps(stats) + "\n")


if __name__ == "__main__":
    main()
