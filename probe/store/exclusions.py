"""Declared exclusions as ledger rows (`sla-probe exclude`): one row per record, reverts in
place. Functions take a connection so the caller picks the transaction: recording an
exclusion and writing the verdict revisions it causes commit together.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from probe.contracts.model import Declared

_COLUMNS = "contract, services, start, end, reason, reference, by, at, reverted_at, reverted_by"


def _record(row: Any) -> Declared:
    return Declared(
        contract=row[0], services=tuple(json.loads(row[1])), start=row[2], end=row[3],
        reason=row[4], reference=row[5], by=row[6], source="ledger", at=row[7],
        reverted_at=row[8], reverted_by=row[9],
    )


def all_records(conn: sqlite3.Connection) -> list[Declared]:
    """Every recorded exclusion, reverted ones included, oldest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM declared_exclusions ORDER BY id").fetchall()
    return [_record(r) for r in rows]


def _same_terms(a: Declared, b: Declared) -> bool:
    return (a.contract, sorted(a.services), a.start, a.end, a.reason) == (
        b.contract, sorted(b.services), b.start, b.end, b.reason)


def _latest(conn: sqlite3.Connection, contract: str, reference: str) -> Declared | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM declared_exclusions WHERE contract=? AND reference=? "
        "ORDER BY id DESC LIMIT 1", (contract, reference)).fetchone()
    return None if row is None else _record(row)


def store(conn: sqlite3.Connection, record: Declared) -> tuple[Declared, bool]:
    """Insert `record`, or with `reverted_at` set, mark the active one with its reference as
    reverted; returns the stored record and whether anything changed.

    A retry is idempotent: the same terms (contract, services, range, reason) under a
    reference already active, or a revert of a reference already reverted, store nothing
    and return the record as it stands. Refused (ValueError): different terms under an
    active reference, and a revert of a reference never recorded; the refusal leaves the
    caller's transaction to roll back."""
    latest = _latest(conn, record.contract, record.reference)
    if record.reverted_at is not None:
        if latest is None:
            raise ValueError(
                f"no active exclusion {record.reference!r} for {record.contract!r}")
        if not latest.active:
            return latest, False
        conn.execute(
            "UPDATE declared_exclusions SET reverted_at=?, reverted_by=? "
            "WHERE contract=? AND reference=? AND reverted_at IS NULL",
            (record.reverted_at, record.reverted_by, record.contract, record.reference),
        )
        stored = _latest(conn, record.contract, record.reference)
        assert stored is not None
        return stored, True
    if latest is not None and latest.active:
        if _same_terms(latest, record):
            return latest, False
        raise ValueError(f"exclusion {record.reference!r} is already recorded with other "
                         "terms (--revert it first)")
    conn.execute(
        f"INSERT INTO declared_exclusions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (record.contract, json.dumps(list(record.services)), record.start, record.end,
         record.reason, record.reference, record.by, record.at, None, None),
    )
    return record, True
