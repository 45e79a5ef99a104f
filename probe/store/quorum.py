"""The quorum's ledger tables (migration 3). Functions take a connection, so the caller picks
the transaction: the outbox hook runs inside the verdicts' own transaction; the link and
the quorum decider go through `Ledger.write` / `LedgerReader.read` on the ledger thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from probe.model import Reason, Verdict
from probe.quorum.codec import Vote

_VOTE_COLUMNS = (
    "contract, service, vantage, window_start, window_seconds, verdict, reason, attempts, "
    "failures, failure_classes, revision, decided_at, fingerprint"
)


def _vote(row: Any) -> Vote:
    return Vote(
        contract=row[0], service=row[1], vantage=row[2], window_start=row[3],
        window_seconds=row[4], verdict=Verdict(row[5]), reason=Reason(row[6]),
        attempts=row[7], failures=row[8], failure_classes=tuple(json.loads(row[9])),
        revision=row[10], decided_at=row[11], fingerprint=row[12],
    )


# -- outbox ---------------------------------------------------------------------------------

def enqueue(conn: sqlite3.Connection, rows: Iterable[tuple[str, bytes, str, int]],
            now: float) -> int:
    """Append (topic, payload, contract, window_start) rows to the outbox, in order."""
    cur = conn.executemany(
        "INSERT INTO quorum_outbox (topic, payload, contract, window_start, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [(*row, now) for row in rows],
    )
    return cur.rowcount


def pending(conn: sqlite3.Connection, limit: int) -> list[tuple[int, str, bytes]]:
    """The oldest unsent rows (id, topic, payload), in the order they were written."""
    return [(int(r[0]), str(r[1]), bytes(r[2])) for r in conn.execute(
        "SELECT id, topic, payload FROM quorum_outbox WHERE sent_at IS NULL "
        "ORDER BY id LIMIT ?", (limit,))]


def mark_sent(conn: sqlite3.Connection, ids: Sequence[int], now: float) -> None:
    conn.executemany("UPDATE quorum_outbox SET sent_at=? WHERE id=?", [(now, i) for i in ids])


def mark_sent_fn(ids: Sequence[int], now: float) -> Callable[[sqlite3.Connection], None]:
    return lambda conn: mark_sent(conn, ids, now)


def requeue_since(conn: sqlite3.Connection, since: int) -> int:
    """Mark sent rows for windows from `since` on as unsent again (a peer asked to resync)."""
    return conn.execute(
        "UPDATE quorum_outbox SET sent_at=NULL WHERE window_start >= ? AND sent_at IS NOT NULL",
        (since,),
    ).rowcount


def prune_outbox(conn: sqlite3.Connection, before: float) -> int:
    """Forget sent rows created before `before`; unsent rows are never dropped."""
    return conn.execute(
        "DELETE FROM quorum_outbox WHERE sent_at IS NOT NULL AND created_at < ?", (before,)
    ).rowcount


def outbox_state(conn: sqlite3.Connection) -> tuple[int, float | None, int]:
    """(unsent rows, creation time of the oldest unsent row, rows sent and still kept)."""
    row = conn.execute(
        "SELECT COUNT(*), MIN(created_at) FROM quorum_outbox WHERE sent_at IS NULL"
    ).fetchone()
    sent = conn.execute(
        "SELECT COUNT(*) FROM quorum_outbox WHERE sent_at IS NOT NULL").fetchone()[0]
    return int(row[0]), (None if row[1] is None else float(row[1])), int(sent)


# -- votes ----------------------------------------------------------------------------------

def store_votes(conn: sqlite3.Connection, votes: Iterable[Vote], now: float) -> list[Vote]:
    """Keep each vantage's newest revision per window; returns the votes that changed it.

    A repeated or older revision (a resend, a duplicate delivery) changes nothing.
    """
    changed: list[Vote] = []
    for v in votes:
        row = conn.execute(
            f"SELECT {_VOTE_COLUMNS} FROM quorum_votes WHERE contract=? AND window_start=? "
            "AND service=? AND vantage=?",
            (v.contract, v.window_start, v.service, v.vantage),
        ).fetchone()
        if row is not None:
            current = _vote(row)
            if v.revision <= current.revision:
                continue
        conn.execute(
            f"INSERT INTO quorum_votes ({_VOTE_COLUMNS}, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET window_seconds=excluded.window_seconds, "
            "verdict=excluded.verdict, reason=excluded.reason, attempts=excluded.attempts, "
            "failures=excluded.failures, failure_classes=excluded.failure_classes, "
            "revision=excluded.revision, decided_at=excluded.decided_at, "
            "fingerprint=excluded.fingerprint, received_at=excluded.received_at, "
            "updates=updates+1",
            (v.contract, v.service, v.vantage, v.window_start, v.window_seconds,
             v.verdict.value, v.reason.value, v.attempts, v.failures,
             json.dumps(list(v.failure_classes)), v.revision, v.decided_at, v.fingerprint,
             now),
        )
        if row is None or not v.same_vote(current):
            changed.append(v)
    return changed


def votes_between(conn: sqlite3.Connection, contract: str, start: int,
                  end: int) -> dict[tuple[int, str], dict[str, Vote]]:
    """{(window_start, service): {vantage: vote}} for `start <= window_start < end`."""
    out: dict[tuple[int, str], dict[str, Vote]] = {}
    for row in conn.execute(
        f"SELECT {_VOTE_COLUMNS} FROM quorum_votes WHERE contract=? AND window_start >= ? "
        "AND window_start < ?", (contract, start, end),
    ):
        v = _vote(row)
        out.setdefault((v.window_start, v.service), {})[v.vantage] = v
    return out


def oldest_missing(conn: sqlite3.Connection, contract: str, *, services: Sequence[str],
                   voters: Sequence[str], start: int, end: int, window: int) -> int | None:
    """The oldest window in [start, end) lacking a vote of a voter for a service, counted from
    the first window this ledger holds any vote for (nothing earlier can be missing)."""
    first = conn.execute(
        "SELECT MIN(window_start) FROM quorum_votes WHERE contract=? AND window_start >= ?",
        (contract, start)).fetchone()[0]
    if first is None:
        return None
    marks = ",".join("?" * len(voters))
    counts = {(int(r[0]), str(r[1])): int(r[2]) for r in conn.execute(
        "SELECT window_start, service, COUNT(*) FROM quorum_votes WHERE contract=? "
        f"AND window_start >= ? AND window_start < ? AND vantage IN ({marks}) "
        "GROUP BY window_start, service", (contract, first, end, *voters))}
    ws = int(first) - int(first) % window
    while ws + window <= end:
        if any(counts.get((ws, s), 0) < len(voters) for s in services):
            return ws
        ws += window
    return None


def vantage_stats(conn: sqlite3.Connection) -> list[tuple[str, int, float]]:
    """(vantage, windows voted, latest receipt) per vantage."""
    return [(str(r[0]), int(r[1]), float(r[2])) for r in conn.execute(
        "SELECT vantage, COUNT(*), MAX(received_at) FROM quorum_votes GROUP BY vantage "
        "ORDER BY vantage")]


# -- rejections -----------------------------------------------------------------------------

def count_rejections(conn: sqlite3.Connection, reasons: Iterable[str]) -> None:
    conn.executemany(
        "INSERT INTO quorum_rejections VALUES (?, 1) ON CONFLICT DO UPDATE SET count=count+1",
        [(r,) for r in reasons],
    )


def rejections(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    return [(str(r[0]), int(r[1])) for r in conn.execute(
        "SELECT reason, count FROM quorum_rejections ORDER BY reason")]
