"""Vendor feed tables (migration 6): announcements as versions, and the silences made.

A version is only ever appended: a changed announcement (rescheduled, cancelled, resolved)
is a new row with the next number and the time we first saw it; nothing is updated or
deleted, so a feed that later breaks, lies or disappears cannot take back what we
witnessed. Functions take the store's transaction (`Ledger.write` / `LedgerReader.read`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from probe.contracts.vendor import Announcement, Version

_COLUMNS = ("feed, vendor_id, version, first_seen, kind, title, status, created_at, "
            "updated_at, start, end, components, impact, cancelled, url")


def _version(row: Any) -> Version:
    (feed, vendor_id, number, first_seen, kind, title, status, created_at, updated_at,
     start, end, components, impact, cancelled, url) = row
    return Version(feed, number, first_seen, Announcement(
        vendor_id=vendor_id, kind=kind, title=title, status=status, created_at=created_at,
        updated_at=updated_at, start=start, end=end, components=tuple(json.loads(components)),
        impact=impact, cancelled=bool(cancelled), url=url))


def record(conn: sqlite3.Connection, feed: str, announcements: Iterable[Announcement],
           seen_at: float) -> list[Version]:
    """Append a version for each announcement that is new or differs from its latest
    version; return the versions written (empty when nothing changed)."""
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
    return written


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
