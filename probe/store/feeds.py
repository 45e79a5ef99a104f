"""Vendor feed tables (migration 6): announcements as versions, and the silences made.

A version is only ever appended: a changed announcement (rescheduled, cancelled, resolved)
is a new row with the next number and the time we first saw it; nothing is updated or
deleted, so a feed that later breaks, lies or disappears cannot take back what we
witnessed. Each version is chained (`probe.store.chain`, an entry of kind `announcement` for
the feed's contract) in the transaction that inserts it, so the ledger audit names a version
edited or deleted afterwards and the evidence pack carries it. Functions take the store's
transaction (`Ledger.write` / `LedgerReader.read`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from probe.contracts.vendor import Announcement, Version
from probe.store import chain

_COLUMNS = chain.ANNOUNCEMENT_COLUMNS


def _version(row: Any) -> Version:
    (feed, vendor_id, number, first_seen, kind, title, status, created_at, updated_at,
     start, end, components, impact, cancelled, url) = row
    return Version(feed, number, first_seen, Announcement(
        vendor_id=vendor_id, kind=kind, title=title, status=status, created_at=created_at,
        updated_at=updated_at, start=start, end=end, components=tuple(json.loads(components)),
        impact=impact, cancelled=bool(cancelled), url=url))


def record(conn: sqlite3.Connection, feed: str, announcements: Iterable[Announcement],
           seen_at: float, *, contract: str) -> list[Version]:
    """Append a version for each announcement that is new or differs from its latest
    version, and chain it for `contract` (the feed's); return the versions written (empty
    when nothing changed). Versions of the feed stored before chaining began are chained
    now, once."""
    latest = {
        vid: (number, digest) for vid, number, digest in conn.execute(
            "SELECT vendor_id, MAX(version), digest FROM vendor_announcements "
            "WHERE feed = ? GROUP BY vendor_id", (feed,))
    }
    written: list[Version] = []
    for a in announcements:
        digest = a.digest()
        number, previous = latest.get(a.vendor_id, (0, None))
        if previous == digest:
            continue
        version = Version(feed, number + 1, seen_at, a)
        conn.execute(
            f"INSERT INTO vendor_announcements ({_COLUMNS}, digest) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (feed, a.vendor_id, version.number, seen_at, a.kind, a.title, a.status,
             a.created_at, a.updated_at, a.start, a.end, json.dumps(list(a.components)),
             a.impact, int(a.cancelled), a.url, digest))
        latest[a.vendor_id] = (version.number, digest)
        written.append(version)
    _chain(conn, feed, contract, seen_at)
    return written


def _chain(conn: sqlite3.Connection, feed: str, contract: str, at: float) -> None:
    """Chain every version of `feed` not chained yet: the ones just written, and (once) those
    written before migration 10."""
    prefix = chain.announcement_prefix(feed)
    done = {k for (k,) in conn.execute(
        "SELECT key FROM chain_entries WHERE kind = ? AND substr(key, 1, ?) = ?",
        (chain.ANNOUNCEMENT, len(prefix), prefix))}
    (stored,) = conn.execute("SELECT COUNT(*) FROM vendor_announcements WHERE feed = ?",
                             (feed,)).fetchone()
    if stored == len(done):
        return
    for row in conn.execute(f"SELECT {_COLUMNS} FROM vendor_announcements WHERE feed = ? "
                            "ORDER BY id", (feed,)).fetchall():
        key = chain.announcement_key(row[0], row[1], row[2])
        if key not in done:
            chain.chain_entry(conn, chain.ANNOUNCEMENT, contract,
                              {"announcement": chain.announcement(row)}, at=at, key=key)


def versions(conn: sqlite3.Connection, feeds: Sequence[str] | None = None
             ) -> dict[tuple[str, str], list[Version]]:
    """Every version per (feed, vendor id), oldest first; only `feeds` when given."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'vendor_announcements'"
                    ).fetchone() is None:
        return {}  # a ledger last written by an sla-probe before migration 6 (read-only)
    sql = f"SELECT {_COLUMNS} FROM vendor_announcements"
    args: tuple[str, ...] = ()
    if feeds is not None:
        if not feeds:
            return {}
        sql += f" WHERE feed IN ({', '.join('?' * len(feeds))})"
        args = tuple(feeds)
    out: dict[tuple[str, str], list[Version]] = {}
    for row in conn.execute(sql + " ORDER BY feed, vendor_id, version", args):
        v = _version(row)
        out.setdefault((v.feed, v.announcement.vendor_id), []).append(v)
    return out


def month_versions(conn: sqlite3.Connection, feeds: Sequence[str], start: float, end: float,
                   until: float) -> list[dict[str, Any]]:
    """Every version first seen by `until` of each announcement of `feeds` that concerns the
    month [start, end): a version first seen in it, or a time span (start to end, open when
    unset) that meets it. As `chain.announcement` objects, by feed, vendor id and version."""
    if not feeds or conn.execute("SELECT 1 FROM sqlite_master WHERE name = "
                                 "'vendor_announcements'").fetchone() is None:
        return []
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in conn.execute(
            f"SELECT {_COLUMNS} FROM vendor_announcements WHERE first_seen <= ? AND feed IN "
            f"({', '.join('?' * len(feeds))}) ORDER BY feed, vendor_id, version",
            (until, *feeds)):
        by.setdefault((row[0], row[1]), []).append(chain.announcement(row))
    out: list[dict[str, Any]] = []
    for versions_ in by.values():
        if any(start <= v["first_seen"] < end or (
                (v["start"] is not None or v["end"] is not None)
                and (v["start"] if v["start"] is not None else v["first_seen"]) < end
                and (v["end"] is None or v["end"] >= start)) for v in versions_):
            out += versions_
    return out


def active_silences(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[str, float, float]]:
    """(contract, reference) → (silence id, start, end) of silences not yet removed."""
    return {(c, r): (sid, s, e) for c, r, sid, s, e in conn.execute(
        "SELECT contract, reference, silence_id, start, end FROM vendor_silences "
        "WHERE removed IS NULL")}


def silence_created(conn: sqlite3.Connection, contract: str, reference: str, silence_id: str,
                    *, start: float, end: float, at: float) -> None:
    conn.execute("INSERT OR REPLACE INTO vendor_silences VALUES (?, ?, ?, ?, ?, ?, NULL)",
                 (contract, reference, silence_id, start, end, at))


def silence_removed(conn: sqlite3.Connection, contract: str, reference: str, silence_id: str,
                    at: float) -> None:
    conn.execute("UPDATE vendor_silences SET removed = ? WHERE contract = ? AND reference = ? "
                 "AND silence_id = ?", (at, contract, reference, silence_id))
