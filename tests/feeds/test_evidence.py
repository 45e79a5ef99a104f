"""Issue 18 item 2 in the evidence pack: every witnessed version of the vendor's announcements
(our first sighting beside its created_at) is chained and carried in `announcements.jsonl`,
which `verify` checks by hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from probe.contracts.month import Month
from probe.evidence import format as fmt
from probe.evidence.keys import load_vantage_key
from probe.evidence.pack import sign_head, write_pack
from probe.evidence.verify import InconsistentError, verify_pack
from probe.feeds.poller import FeedPoller
from probe.store import LedgerWorker, chain
from tests.feeds.server import FILES, FeedServer
from tests.feeds.test_poller import NOW, WallClock, feed_config

pytest_plugins = ["tests.feeds.test_poller"]  # its server, worker and pollers fixtures


async def test_a_pack_after_a_feed_import_holds_every_version_and_verifies(
        server: FeedServer, worker: LedgerWorker, tmp_path: Path,
        pollers: list[FeedPoller]) -> None:
    config = feed_config(server.url("sp"), tmp_path)
    clock = WallClock(NOW)
    poller = FeedPoller(lambda: config, worker, clock)
    pollers.append(poller)
    feed = config.vendor_feeds[0]
    assert len(await poller.poll(feed)) == 6
    doc = json.loads((FILES / "sp/api/v2/scheduled-maintenances.json").read_text())
    for m in doc["scheduled_maintenances"]:
        if m["id"] == "mnt2days0001":  # rescheduled: a second version
            m["scheduled_for"], m["scheduled_until"] = ("2026-03-05T01:00:00.000Z",
                                                        "2026-03-05T03:00:00.000Z")
    server.overrides["sp/api/v2/scheduled-maintenances.json"] = json.dumps(doc).encode()
    clock.now = NOW + 3600
    assert len(await poller.poll(feed)) == 1
    ledger = worker.ledger
    assert ledger.read(chain.audit) is None
    stored = ledger.read(lambda c: c.execute("SELECT COUNT(*) FROM chain_entries WHERE "
                                             "kind='announcement' AND subject='c'").fetchone())
    assert stored == (7,)

    key = load_vantage_key(config)
    assert sign_head(ledger, key, config.probe.vantage, NOW + 7200)
    out = tmp_path / "pack"
    write_pack(config, ledger, key, "c", Month(2026, 3), out=out, now=NOW + 7300)
    verify_pack(out, key.public_pem)

    manifest = json.loads((out / fmt.MANIFEST).read_text())
    assert fmt.ANNOUNCEMENTS_FILE in manifest["files"]
    lines = (out / fmt.ANNOUNCEMENTS_FILE).read_text().splitlines()
    versions = [json.loads(line) for line in lines]
    moved = [v for v in versions if v["vendor_id"] == "mnt2days0001"]
    assert [(v["version"], v["first_seen"]) for v in moved] == [(1, NOW), (2, NOW + 3600)]
    assert moved[0]["created_at"] == moved[1]["created_at"] is not None
    assert moved[0]["start"] != moved[1]["start"]
    # the same versions are chained, in entries.jsonl, checked against the chain's digests
    entries = [json.loads(x) for x in (out / fmt.ENTRIES_FILE).read_text().splitlines()]
    chained = [e["announcement"] for e in entries if e["kind"] == "announcement"]
    assert all(v in chained for v in versions)
    assert all(line == fmt.canon(v) for line, v in zip(lines, versions, strict=True))

    # one byte of announcements.jsonl changed: verify refuses it, naming the file
    data = bytearray((out / fmt.ANNOUNCEMENTS_FILE).read_bytes())
    i = data.index(b'"first_seen":') + len(b'"first_seen":')
    data[i] = ord("0") if data[i] != ord("0") else ord("1")
    (out / fmt.ANNOUNCEMENTS_FILE).write_bytes(bytes(data))
    with pytest.raises(InconsistentError) as caught:
        verify_pack(out, key.public_pem)
    assert str(caught.value).startswith(f"{fmt.ANNOUNCEMENTS_FILE}: SHA-256")
