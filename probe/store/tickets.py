"""Support tickets as ledger rows (issue 16, item 7): one row per event, never updated.

Functions take a connection so the caller picks the transaction: the event and its chain
record commit together (`Ledger.record_ticket`), so a ticket's history is as tamper-evident
as an exclusion's.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from probe.support.tickets import TicketEvent

_COLUMNS = "contract, reference, action, at, data, by, recorded_at"


def _event(row: Any) -> TicketEvent:
    return TicketEvent(row[0], row[1], row[2], float(row[3]), json.loads(row[4]), row[5],
                       float(row[6]))


def events(conn: sqlite3.Connection, contract: str | None = None) -> list[TicketEvent]:
    """Every recorded event (of one contract), in the order recorded."""
    sql = f"SELECT {_COLUMNS} FROM ticket_events"
    args: tuple[str, ...] = ()
    if contract is not None:
        sql += " WHERE contract=?"
        args = (contract,)
    return [_event(r) for r in conn.execute(sql + " ORDER BY id", args)]


def store(conn: sqlite3.Connection, event: TicketEvent) -> TicketEvent:
    """Insert `event`. Refuses (ValueError) a second open of a reference, and an update or
    resolve of a ticket never opened or already resolved."""
    state = conn.execute(
        "SELECT SUM(action='open'), SUM(action='resolve') FROM ticket_events "
        "WHERE contract=? AND reference=?", (event.contract, event.reference)).fetchone()
    opened, resolved = int(state[0] or 0), int(state[1] or 0)
    if event.action == "open" and opened:
        raise ValueError(f"ticket {event.reference!r} of {event.contract!r} is already open")
    if event.action != "open" and not opened:
        raise ValueError(f"no ticket {event.reference!r} of {event.contract!r} (open it first)")
    if event.action == "resolve" and resolved:
        raise ValueError(f"ticket {event.reference!r} is already resolved")
    conn.execute(
        f"INSERT INTO ticket_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (event.contract, event.reference, event.action, event.at,
         json.dumps(event.data, sort_keys=True), event.by, event.recorded_at))
    return event
