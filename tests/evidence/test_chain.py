"""The chained ledger: every covered row is named when edited, deleted or reordered."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from probe.contracts.model import Declared
from probe.model import Attempt, Role, Verdict, WindowVerdict
from probe.store import LEDGER_FILE, Ledger, chain

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
