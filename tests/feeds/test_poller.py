"""The poller against a loopback server: versions witnessed, the plan judged, the
reconciliation in the report, and a broken feed (500, garbage, 1 GB, slow) changing nothing."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from probe.config import Config
from probe.contracts.month import Month
from probe.feeds.plan import stored_versions, with_vendor_maintenance
from probe.feeds.poller import FeedPoller
from probe.model import Verdict
from probe.report import render
from probe.store import Ledger, LedgerWorker
from tests.contracts.builders import at, config_with, windows
from tests.feeds.server import FILES, FeedServer

NOW = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
CONTRACT = """
- name: c
  objectives:
    - {service: api, target: 99.9}
    - {service: sign, target: 99.9}
  maintenance_rules:
    min_notice: {min: 8w}
    max_length: {max: 8h}
"""


class WallClock:
    def __init__(self, wall: float) -> None:
        self.now = wall

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("the poller under test never sleeps on this clock")


def feed_config(url: str, tmp: Path, fmt: str = "statuspage", **extra: object) -> Config:
    feed = {"name": "vendor", "contract": "c", "format": fmt, "url": url, "interval": "5m",
            "timeout": "2s", "max_body": 1 << 20,
            "components": {"cmpsign00001": ["sign"], "REST API": ["api"],
                           "Retired component": ["sign"]}} | extra
    return config_with(CONTRACT, "vendor_feeds:\n  - " + json.dumps(feed) + "\n", tmp)


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as s:
        yield s


@pytest.fixture
async def pollers() -> AsyncIterator[list[FeedPoller]]:
    made: list[FeedPoller] = []
    yield made
    for p in made:
        await p.aclose()


@pytest.fixture
def worker(tmp_path: Path) -> LedgerWorker:
    w = LedgerWorker(Ledger(tmp_path))
    yield w  # type: ignore[misc]
    w.close()


async def test_statuspage_witnessed_judged_and_reconciled(
        server: FeedServer, worker: LedgerWorker, tmp_path: Path, pollers: list[FeedPoller]) -> None:
    config = feed_config(server.url("sp"), tmp_path)
    clock = WallClock(NOW)
    poller = FeedPoller(lambda: config, worker, clock)
    pollers.append(poller)
    feed = config.vendor_feeds[0]
    with capture_logs() as logs:
        first = await poller.poll(feed)
    assert len(first) == 6
    unknown = [e for e in logs if e["event"] == "vendor_feed_unknown_components"]
    assert unknown[0]["components"] == ["Retired component"]
    assert await poller.poll(feed) == []  # nothing changed, nothing written

    # the vendor moves one window and cancels another: new versions, the old ones stay
    doc = json.loads((FILES / "sp/api/v2/scheduled-maintenances.json").read_text())
    for m in doc["scheduled_maintenances"]:
        if m["id"] == "mnt2days0001":
            m["scheduled_for"], m["scheduled_until"] = ("2026-03-05T01:00:00.000Z",
                                                        "2026-03-05T03:00:00.000Z")
        if m["id"] == "mntcancel001":
            m["status"] = "cancelled"
    server.overrides["sp/api/v2/scheduled-maintenances.json"] = json.dumps(doc).encode()
    clock.now = NOW + 3600
    assert {v.announcement.vendor_id for v in await poller.poll(feed)} == {
        "mnt2days0001", "mntcancel001"}
    versions = stored_versions(config, worker.ledger)
    assert len(versions[("vendor", "mntcancel001")]) == 2

    plan = {a.entry.reference: a for a in
            with_vendor_maintenance(config, worker.ledger).maintenance_plan["c"]}
    assert set(plan) == {"vendor.mnt8weeks001", "vendor.mnt2days0001", "vendor.mntbackdate1"}
    assert plan["vendor.mnt8weeks001"].status == "valid"
    assert "vendor's created_at" in plan["vendor.mnt8weeks001"].entry.note
    assert plan["vendor.mnt2days0001"].status == "invalid"
    assert "rescheduled" in plan["vendor.mnt2days0001"].entry.note
    backdated = plan["vendor.mntbackdate1"]
    assert [v.rule for v in backdated.violations] == ["min_notice"]
    assert "first sighting" in backdated.entry.note

    # we measured 47 minutes where the vendor declared 12, and 20 it never declared
    t0 = at("2026-02-20 10:00")
    worker.ledger.write_verdicts(windows("c", "api", t0, 47, Verdict.DOWN))
    worker.ledger.write_verdicts(windows("c", "api", at("2026-02-25 14:00"), 20, Verdict.DOWN))
    report = json.loads(render(config, worker.ledger, Month(2026, 2), "json", NOW))
    [api, sign] = report["contracts"][0]["vendor_reconciliation"]
    assert api["declared_minutes"] == {"major": 12}
    assert api["measured_down_minutes"] == 67
    assert api["declared"][0]["measured_minutes"] == 47
    assert [u["minutes"] for u in api["undeclared"]] == [20]
    assert sign["declared"][0]["seen"] is False
    assert sign["declared"][0]["our_coverage_percent"] == 0
    text = render(config, worker.ledger, Month(2026, 2), "text", NOW)
    assert "the vendor says 12 min, we measured 47 min" in text


@pytest.mark.parametrize(("mode", "why"), [
    ("500", "HTTP 500"), ("garbage", "format"), ("huge", "exceeds 1048576 bytes"),
    ("slow", "no complete answer within"),
])
async def test_a_broken_feed_is_logged_and_changes_nothing(
        server: FeedServer, worker: LedgerWorker, tmp_path: Path, pollers: list[FeedPoller], mode: str, why: str) -> None:
    config = feed_config(server.url("sp"), tmp_path, timeout="1s")
    poller = FeedPoller(lambda: config, worker, WallClock(NOW))
    pollers.append(poller)
    feed = config.vendor_feeds[0]
    assert len(await poller.poll(feed)) == 6
    before = stored_versions(config, worker.ledger)
    plan_before = with_vendor_maintenance(config, worker.ledger).maintenance_plan
    server.modes["sp/api/v2/incidents.json"] = mode
    with capture_logs() as logs:
        assert await poller.poll(feed) == []
    [line] = [e for e in logs if e["event"] == "vendor_feed_failed"]
    assert why in line["error"]
    assert line["feed"] == "vendor"
    [up, _last] = poller.metric_families(config, worker.ledger, NOW)
    assert [s.value for s in up.samples] == [0.0]
    assert stored_versions(config, worker.ledger) == before
    assert with_vendor_maintenance(config, worker.ledger).maintenance_plan == plan_before
    if mode == "huge":
        assert server.sent < 1 << 30  # the read stopped early: bounded


@pytest.mark.parametrize(("fmt", "path", "count"), [
    ("instatus", "instatus-summary.json", 2), ("betterstack", "betterstack-index.json", 2),
    ("ical", "maintenance.ics", 5), ("rss", "history.rss", 2),
])
async def test_every_format_imports_through_the_poller(
        server: FeedServer, worker: LedgerWorker, tmp_path: Path, pollers: list[FeedPoller], fmt: str, path: str,
        count: int) -> None:
    config = feed_config(server.url(path), tmp_path, fmt=fmt,
                         components={"*": ["api"], "Signing API": ["sign"]})
    poller = FeedPoller(lambda: config, worker, WallClock(NOW))
    pollers.append(poller)
    assert len(await poller.poll(config.vendor_feeds[0])) == count
    [up, _] = poller.metric_families(config, worker.ledger, NOW)
    assert [s.value for s in up.samples] == [1.0]


async def test_ical_occurrence_removed_later_becomes_cancelled(
        server: FeedServer, worker: LedgerWorker, tmp_path: Path, pollers: list[FeedPoller]) -> None:
    config = feed_config(server.url("maintenance.ics"), tmp_path, fmt="ical",
                         components={"Signing API": ["sign"]})
    poller = FeedPoller(lambda: config, worker, WallClock(NOW))
    pollers.append(poller)
    feed = config.vendor_feeds[0]
    await poller.poll(feed)
    text = (FILES / "maintenance.ics").read_text().replace(
        "EXDATE:20260314T010000Z", "EXDATE:20260314T010000Z,20260321T010000Z")
    server.overrides["maintenance.ics"] = text.encode()
    [gone] = await poller.poll(feed)
    assert gone.announcement.vendor_id == "weekly-patch@example.invalid@20260321T010000Z"
    assert gone.announcement.cancelled
    refs = {a.entry.reference for a in
            with_vendor_maintenance(config, worker.ledger).maintenance_plan["c"]}
    assert "vendor.weekly-patch-example.invalid-20260321T010000Z" not in refs
    assert "vendor.weekly-patch-example.invalid-20260307T010000Z" in refs
