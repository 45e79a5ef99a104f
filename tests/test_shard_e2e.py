"""Three shards as real `sla-probe run --shard i/3` processes, one unsharded run beside them,
and one real Prometheus scraping all four: the shards' windows add up to the whole run's,
and each contract is counted by exactly one shard.

Window counts depend on when a daemon first placed its cursor (the window it started in),
so every daemon is started just after a 15 s window boundary and must be ready well within
that window; the comparison is an instant query in the middle of a later window, when each
daemon has decided and been scraped for the same windows. Nothing here asserts a timing.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from probe.config import parse_config
from probe.shard import shard_of
from tests.conftest import free_port
from tests.promstack import Server
from tests.realtools import require_tool
from tests.servers import ScheduledTarget

pytestmark = pytest.mark.real

WINDOW = 15
SHARDS = 3
CONTRACTS = ("alpha", "bravo", "charlie", "delta", "foxtrot")


def daemon_argv(config: Path, *extra: str) -> list[str]:
    script = Path(sys.executable).with_name("sla-probe")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "probe"]
    return [*base, "run", "-c", str(config), *extra]


def config_text(tmp: Path, name: str, port: int, target: str, control: str) -> str:
    check = f'{{name: h, type: http, url: "{target}", interval: 500ms, timeout: 300ms}}'
    return textwrap.dedent(f"""\
        probe: {{vantage: {name}, state_dir: "{tmp / name}", listen: "127.0.0.1:{port}",
                 grace: 300ms, jitter: 0.05}}
        services:
          - {{name: api, checks: [{check}]}}
          - {{name: db, checks: [{check}]}}
          - {{name: queue, checks: [{check}]}}
          - {{name: orphan, checks: [{check}]}}
        controls:
          - {{name: reach, type: http, url: "{control}", interval: 500ms, timeout: 300ms}}
        contracts:
          - {{name: alpha, window: {WINDOW}s, objectives: [{{service: api, target: 99}}]}}
          - {{name: bravo, window: {WINDOW}s, objectives: [{{service: api, target: 99}},
                                                   {{service: db, target: 99}}]}}
          - {{name: charlie, window: {WINDOW}s, objectives: [{{service: queue, target: 99}}]}}
          - {{name: delta, window: {WINDOW}s, objectives: [{{service: queue, target: 99}}],
             watch: [db]}}
          - {{name: foxtrot, window: {WINDOW}s,
             objectives: [{{service: whole, of: [api, db], target: 99}}]}}
        """)


def prometheus(binary: str, directory: Path, shards: list[int], whole: int) -> Server:
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {"job_name": "shards",
             "static_configs": [{"targets": [f"127.0.0.1:{p}" for p in shards]}]},
            {"job_name": "whole", "static_configs": [{"targets": [f"127.0.0.1:{whole}"]}]},
        ],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    return Server("prometheus", [
        binary, f"--config.file={directory / 'prometheus.yml'}",
        f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
    ], directory / "prometheus.log", port)


async def query(prom: Server, promql: str, at: float) -> list[tuple[dict[str, str], float]]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session, \
            session.get(f"{prom.url}/api/v1/query",
                        params={"query": promql, "time": f"{at:.3f}"}) as response:
        body: dict[str, Any] = await response.json()
    assert body["status"] == "success", body
    return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]


def test_the_fixture_spreads_contracts_over_every_shard(tmp_path: Path) -> None:
    config = parse_config(config_text(tmp_path, "x", 1, "http://a/", "http://b/"))
    assert {shard_of(c.name, SHARDS) for c in config.contracts} == set(range(SHARDS))


async def test_three_shards_add_up_to_the_whole(tmp_path: Path) -> None:
    binary = require_tool("prometheus")
    async with ScheduledTarget() as target, ScheduledTarget() as control:
        ports = [free_port() for _ in range(SHARDS + 1)]
        prom = prometheus(binary, tmp_path / "prom", ports[:SHARDS], ports[SHARDS])
        servers = [prom]
        try:
            await prom.wait_ready("/-/ready")
            # Start every daemon just after a window boundary, so all place their cursor
            # in the same window.
            now = time.time()
            start = (now // WINDOW + 1) * WINDOW
            await asyncio.sleep(start + 0.2 - now)
            for i, port in enumerate(ports):
                name = f"shard{i}" if i < SHARDS else "whole"
                path = tmp_path / f"{name}.yml"
                path.write_text(config_text(tmp_path, name, port, target.url, control.url))
                extra = ("--shard", f"{i}/{SHARDS}") if i < SHARDS else ()
                servers.append(Server(name, daemon_argv(path, *extra),
                                      tmp_path / f"{name}.log", port))
            for server in servers[1:]:
                await server.wait_ready("/-/ready", timeout=WINDOW - 3)
            logs = "\n".join(s.logs() for s in servers)
            assert time.time() < start + WINDOW - 1, "daemons not ready in their first window"
            at = start + 2 * WINDOW + WINDOW / 2  # two windows decided, scraped many times
            await asyncio.sleep(at + 1 - time.time())
            per_shard = await query(
                prom, 'sum by (contract, instance) (sla_probe_windows_total{job="shards"})', at)
            whole = await query(
                prom, 'sum by (contract) (sla_probe_windows_total{job="whole"})', at)
            total_shards = await query(
                prom, 'sum(sla_probe_windows_total{job="shards"})', at)
            total_whole = await query(prom, 'sum(sla_probe_windows_total{job="whole"})', at)
            controls = await query(
                prom, 'count by (instance) (sla_probe_check_success{job="shards", service="_controls"})', at)
        finally:
            for server in servers:
                server.stop()
    instances: dict[str, list[str]] = {}
    for labels, _ in per_shard:
        instances.setdefault(labels["contract"], []).append(labels["instance"])
    assert sorted(instances) == sorted(CONTRACTS), logs
    assert all(len(where) == 1 for where in instances.values()), instances
    assert {where[0] for where in instances.values()} == {f"127.0.0.1:{p}" for p in ports[:3]}
    by_contract = {labels["contract"]: v for labels, v in per_shard}
    assert by_contract == {labels["contract"]: v for labels, v in whole}, logs
    assert total_shards == total_whole
    assert total_whole[0][1] > 0
    assert len(controls) == SHARDS  # every shard probes its own controls
