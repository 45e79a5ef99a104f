"""Silences reach a real Alertmanager (started on 127.0.0.1 by the fixture): a valid window
gets one over its exact interval, a cancelled one loses it, an invalid one never gets one."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from probe.config import Config
from probe.feeds.plan import with_vendor_maintenance
from probe.feeds.poller import FeedPoller
from probe.store import Ledger, LedgerWorker
from tests.contracts.builders import config_with
from tests.feeds.server import FILES, FeedServer
from tests.feeds.test_poller import CONTRACT, WallClock
from tests.promstack import Server, start_alertmanager
from tests.realtools import require_tool

pytestmark = pytest.mark.real
NOW = time.time()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Server]:
    binary = require_tool("prometheus-alertmanager")
    server = start_alertmanager(binary, tmp_path / "am", {
        "route": {"receiver": "null"}, "receivers": [{"name": "null"}]})
    try:
        yield server
    finally:
        server.stop()


async def silences(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(url + "/api/v2/silences") as r:
        return [s for s in await r.json() if s["status"]["state"] != "expired"]


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def test_silences_follow_valid_windows(alertmanager: Server, tmp_path: Path) -> None:
    await alertmanager.wait_ready("/-/ready")
    # a maintenance calendar relative to now: one announced 9 weeks ahead (valid), one
    # 2 days ahead (invalid under an 8-week notice rule)
    doc = json.loads((FILES / "sp/api/v2/scheduled-maintenances.json").read_text())
    good, bad = doc["scheduled_maintenances"][:2]
    good.update(created_at=iso(NOW - 30), scheduled_for=iso(NOW + 63 * 86400),
                scheduled_until=iso(NOW + 63 * 86400 + 7200))
    bad.update(created_at=iso(NOW - 30), scheduled_for=iso(NOW + 2 * 86400),
               scheduled_until=iso(NOW + 2 * 86400 + 3600))
    doc["scheduled_maintenances"] = [good, bad]
    feed = {"name": "vendor", "contract": "c", "format": "statuspage", "interval": "5m",
            "components": {"cmpsign00001": ["sign"], "cmpapi000001": ["api"]}}
    async with FeedServer() as server:
        server.overrides["sp/api/v2/scheduled-maintenances.json"] = json.dumps(doc).encode()
        feed["url"] = server.url("sp")
        config = config_with(
            CONTRACT, "vendor_feeds:\n  - " + json.dumps(feed) + "\nalertmanager: "
            + json.dumps({"url": alertmanager.url}) + "\n", tmp_path)
        worker = LedgerWorker(Ledger(tmp_path))
        current: list[Config] = [config]

        async def changed() -> None:
            current[0] = with_vendor_maintenance(current[0], worker.ledger)

        poller = FeedPoller(lambda: current[0], worker, WallClock(NOW), on_change=changed)
        try:
            assert await poller.poll(config.vendor_feeds[0])
            await changed()
            await poller.sync_silences()
            [silence] = await silences(alertmanager.url)
            matchers = {m["name"]: m["value"] for m in silence["matchers"]}
            assert matchers == {"contract": "c", "service": "sign"}
            assert silence["startsAt"].startswith(good["scheduled_for"][:19])
            assert silence["endsAt"].startswith(good["scheduled_until"][:19])

            await poller.sync_silences()  # idempotent: still exactly one
            assert len(await silences(alertmanager.url)) == 1

            good["status"] = "cancelled"
            server.overrides["sp/api/v2/scheduled-maintenances.json"] = json.dumps(doc).encode()
            assert await poller.poll(config.vendor_feeds[0])
            await changed()
            await poller.sync_silences()
            assert await silences(alertmanager.url) == []
        finally:
            await poller.aclose()
            worker.close()
