"""`POST /api/v1/tickets`: record a support ticket event over HTTP (issue 16, item 7).

Writing to the ledger over the network is only safe behind authentication: the route
records events only when the listener's web config authenticates clients (basic auth users,
or TLS client certificates that must verify). Without it the route answers 403 and says
why, so a script finds out at once instead of silently writing nothing. The body is the
CLI's arguments as JSON:

    {"action": "open", "contract": "dfns", "reference": "CS-1042", "severity": "Show Stopper",
     "channel": "portal", "at": "2026-10-20T05:04:00Z", "incident": null}
    {"action": "update", "contract": "dfns", "reference": "CS-1042", "at": "...", "note": "..."}
    {"action": "resolve", "contract": "dfns", "reference": "CS-1042", "at": "...",
     "resolution": "..."}

`at` defaults to now; `incident` (open) defaults to the incident under way at `at`. The
answer is 201 with the event recorded, 400 naming a bad field, 404 for an unknown contract,
409 for a duplicate open or an update of a ticket never opened.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from probe.config import Config
from probe.store import Ledger, LedgerReader
from probe.support.tickets import TicketEvent, link_incident, make_event
from probe.web.api import NO_STORE

Record = Callable[[TicketEvent], Awaitable[TicketEvent]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=NO_STORE)


def _instant(value: Any, now: float) -> float:
    if value is None:
        return now
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"at: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ValueError("at: no UTC offset (add Z or +01:00)")
    return parsed.timestamp()


def _user(request: web.Request) -> str:
    """Who records it: the basic auth user (already checked by the guard), else `api`."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            return base64.b64decode(header[6:]).decode().partition(":")[0] or "api"
        except (binascii.Error, UnicodeDecodeError):
            return "api"
    return "api"


def add_ticket_routes(app: web.Application, *, config: Callable[[], Config],
                      reader: Callable[[], LedgerReader | None], record: Record,
                      now: Callable[[], float], authenticated: bool) -> None:
    """Serve `POST /api/v1/tickets`; it records only when `authenticated`."""

    async def post(request: web.Request) -> web.StreamResponse:
        if not authenticated:
            return _error(403, "tickets are recorded only when the listener authenticates "
                               "clients (basic_auth_users or verified client certificates "
                               "in --web.config.file)")
        source = reader()
        if source is None:
            return _error(503, "ledger not open yet")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body must be a JSON object")
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        try:
            contract = config().contract(str(body.get("contract")))
        except KeyError:
            return _error(404, f"unknown contract {body.get('contract')!r}")
        t = now()
        try:
            at = _instant(body.get("at"), t)
            fields = dict(body)
            if body.get("action") == "open" and not body.get("incident"):
                fields["incident"] = await asyncio.to_thread(link_incident, contract, source,
                                                             at, t)
            event = make_event(contract, str(body.get("action")), str(body.get("reference")
                                                                       or ""),
                               at=at, fields=fields, by=_user(request), now=t)
        except ValueError as exc:
            return _error(400, str(exc))
        try:
            stored = await record(event)
        except ValueError as exc:
            return _error(409, str(exc))
        return web.json_response(stored.to_json(), status=201, headers=NO_STORE)

    app.router.add_post("/api/v1/tickets", post)


def ledger_recorder(ledger: Callable[[], Ledger | None],
                    call: Callable[..., Awaitable[Any]]) -> Record:
    """`record` for the daemon: the ledger's own writer thread (`LedgerWorker.call`)."""

    async def record(event: TicketEvent) -> TicketEvent:
        target = ledger()
        if target is None:
            raise ValueError("ledger not open yet")
        stored: TicketEvent = await call(target.record_ticket, event)
        return stored

    return record
