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


def store(conn: sqlite3.Connection, record: Declared) -> Declared:
    """Insert `record`, or with `reverted_at` set, mark the active one with its reference as
    reverted. Refuses (ValueError) a second active record with the same reference and a
    revert of nothing; the refusal leaves the caller's transaction to roll back."""
    if record.reverted_at is not None:
        cur = conn.execute(
            "UPDATE declared_exclusions SET reverted_at=?, reverted_by=? "
            "WHERE contract=? AND reference=? AND reverted_at IS NULL",
            (record.reverted_at, record.reverted_by, record.contract, record.reference),
        )
        if cur.rowcount == 0:
            raise ValueError(
                f"no active exclusion {record.reference!r} for {record.contract!r}")
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM declared_exclusions WHERE contract=? AND reference=? "
            "ORDER BY id DESC LIMIT 1", (record.contract, record.reference)).fetchone()
        return _record(row)
    try:
        conn.execute(
            f"INSERT INTO declared_exclusions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.contract, json.dumps(list(record.services)), record.start, record.end,
             record.reason, record.reference, record.by, record.at, None, None),
        )
    except sqlite3.IntegrityError:
        raise ValueError(f"exclusion {record.reference!r} is already recorded "
                         "(--revert first)") from None
    return record
