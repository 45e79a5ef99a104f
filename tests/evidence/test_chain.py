"""The chained ledger: every covered row is named when edited, deleted or reordered."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from probe.contracts.model import Declared
from probe.contracts.vendor import Announcement
from probe.model import Attempt, Role, Verdict, WindowVerdict
from probe.store import LEDGER_FILE, Ledger, chain, feeds

T0 = 1_760_000_000.0


def _attempt(t: float, service: str = "api", ok: bool = True) -> Attempt:
    return Attempt(t, service, "health", Role.SERVICE, ok, None if ok else "http", 0.01,
                   detail="" if ok else "HTTP 503", evidence={"tls_peer_sha256": "ab" * 32})


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path)
    ledger.record_attempts([_attempt(T0), _attempt(T0 + 1, "db"), _attempt(T0 + 2, ok=False)])
    ledger.record_attempts([_attempt(T0 + 60), _attempt(T0 + 61, "db")])
    ledger.write_verdicts([WindowVerdict("c", "api", int(T0 // 60 * 60), 60, Verdict.DOWN,
                                         attempts=2, failures=1, decided_at=T0 + 70)])
    ledger.record_exclusion(Declared("c", ("api",), T0, T0 + 60, "emergency", "T-1", "ann",
                                     "ledger", at=T0 + 80), lambda _r: [])
    return ledger


def _sql(tmp_path: Path, statement: str) -> None:
    conn = sqlite3.connect(tmp_path / LEDGER_FILE)
    with conn:
        conn.executescript(statement)
    conn.close()


def test_an_untouched_ledger_audits_clean(ledger: Ledger) -> None:
    assert ledger.read(chain.audit) is None
    kinds = [r[1] for r in ledger.read(lambda c: chain.records(c, 1, 99))]
    assert kinds == ["attempts", "attempts", "revisions", "exclusion"]


@pytest.mark.parametrize(("statement", "named"), [
    ("UPDATE attempts SET ok=1 WHERE id=3", "attempts rows of record 1 (attempts, api; ids 1, 3)"),
    ("DELETE FROM attempts WHERE id=2", "record 1 (attempts, db; ids none): 1 row(s) deleted"),
    ("UPDATE attempts SET id=-1 WHERE id=1; UPDATE attempts SET id=1 WHERE id=3; "
     "UPDATE attempts SET id=3 WHERE id=-1", "record 1 (attempts, api; ids 1, 3): edited or reordered"),
    ("UPDATE attempts SET id=99 WHERE id=1", "record 1 (attempts, api; ids 3): 1 row(s) deleted"),
    ("UPDATE window_revisions SET verdict='up'", "window_revisions rows of record 3"),
    ("UPDATE chain_entries SET line=replace(line, 'ann', 'bob')", "chain_entries rows of record 4"),
    ("DELETE FROM chain WHERE seq=2", "chain: record 2 is missing"),
    ("UPDATE chain SET at=at+1 WHERE seq=3", "chain: record 3 was edited"),
])
def test_a_row_changed_in_sqlite_is_named(ledger: Ledger, tmp_path: Path, statement: str,
                                          named: str) -> None:
    _sql(tmp_path, statement)
    problem = ledger.read(chain.audit)
    assert problem is not None
    assert named in problem


def test_pruned_batches_are_not_missing(ledger: Ledger) -> None:
    assert ledger.prune_attempts(T0 + 30) == 3
    assert ledger.read(chain.audit) is None


# -- vendor announcements (issue 18, item 2) -----------------------------------------------

def _announcement(vendor_id: str, **changes: object) -> Announcement:
    a = Announcement(vendor_id, "maintenance", "DB upgrade", "scheduled", created_at=T0 - 86400,
                     start=T0 + 3600, end=T0 + 7200, components=("REST API",))
    return dataclasses.replace(a, **changes)  # type: ignore[arg-type]


@pytest.fixture
def announced(ledger: Ledger) -> Ledger:
    def poll(announcements: list[Announcement], at: float) -> None:
        ledger.write(lambda c: feeds.record(c, "vendor", announcements, at, contract="c"))

    poll([_announcement("mnt-1"), _announcement("mnt-2")], T0 + 100)
    poll([_announcement("mnt-1"), _announcement("mnt-2")], T0 + 200)  # unchanged: no record
    poll([_announcement("mnt-1", start=T0 + 7200, end=T0 + 9000)], T0 + 300)  # rescheduled
    return ledger


def test_each_announcement_version_is_chained_once(announced: Ledger) -> None:
    assert announced.read(chain.audit) is None
    recs = announced.read(lambda c: chain.records(c, 1, 99))
    assert [r[1] for r in recs[4:]] == ["announcement"] * 3
    lines = announced.read(lambda c: c.execute(
        "SELECT subject, line FROM chain_entries WHERE kind='announcement' ORDER BY seq"
    ).fetchall())
    assert {s for s, _ in lines} == {"c"}
    last = json.loads(lines[-1][1])["announcement"]
    assert (last["vendor_id"], last["version"], last["first_seen"], last["created_at"]) == (
        "mnt-1", 2, T0 + 300, T0 - 86400)


@pytest.mark.parametrize(("statement", "named"), [
    ("UPDATE vendor_announcements SET first_seen=first_seen-86400 WHERE id=1",
     "vendor_announcements row id 1 (vendor mnt-1 version 1) of record 5: edited"),
    ("UPDATE vendor_announcements SET created_at=NULL WHERE id=3",
     "vendor_announcements row id 3 (vendor mnt-1 version 2) of record 7: edited"),
    ("DELETE FROM vendor_announcements WHERE id=3",
     "vendor_announcements: vendor mnt-1 version 2 of record 7 was deleted"),
    ("INSERT INTO vendor_announcements (feed, vendor_id, version, first_seen, digest, kind, "
     "title, status, components, impact, cancelled, url) VALUES ('vendor', 'mnt-9', 1, 1.0, "
     "'x', 'maintenance', '', '', '[]', '', 0, '')",
     "vendor_announcements row id 4 (vendor mnt-9 version 1): added"),
    ("UPDATE chain_entries SET line=replace(line, 'DB upgrade', 'DB patch') WHERE seq=6",
     "chain_entries rows of record 6 (announcement, c"),
])
def test_an_announcement_changed_in_sqlite_is_named(announced: Ledger, tmp_path: Path,
                                                     statement: str, named: str) -> None:
    _sql(tmp_path, statement)
    problem = announced.read(chain.audit)
    assert problem is not None
    assert named in problem


def test_versions_stored_before_chaining_are_chained_at_the_next_poll(
        ledger: Ledger, tmp_path: Path) -> None:
    _sql(tmp_path, "INSERT INTO vendor_announcements (feed, vendor_id, version, first_seen, "
                   "digest, kind, title, status, components, impact, cancelled, url) VALUES "
                   "('vendor', 'old', 1, 5.0, 'x', 'notice', '', '', '[]', '', 0, '');"
                   "UPDATE meta SET value='1' WHERE key='announcements_unchained_through'")
    assert ledger.read(chain.audit) is None  # a legacy row is not "added"
    ledger.write(lambda c: feeds.record(c, "vendor", [_announcement("mnt-1")], T0,
                                        contract="c"))
    keys = ledger.read(lambda c: [k for (k,) in c.execute(
        "SELECT key FROM chain_entries WHERE kind='announcement' ORDER BY seq")])
    assert keys == [chain.announcement_key("vendor", "old", 1),  # in the order stored
                    chain.announcement_key("vendor", "mnt-1", 1)]
    _sql(tmp_path, "UPDATE vendor_announcements SET title='changed' WHERE vendor_id='old'")
    assert "vendor old version 1" in (ledger.read(chain.audit) or "")
