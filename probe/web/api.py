"""The JSON API under `/api/v1/`: the handlers, their query checks and their error bodies.

In one module so that the whole machine-readable surface (what a dashboard or a script may
rely on) is visible at once, apart from the HTML status page that shares its data:

- `/api/v1/verdicts/latest`: the newest decided window of every objective;
- `/api/v1/windows?contract=NAME[&service=S][&from=T][&to=T][&scope=S][&limit=N][&cursor=C]`:
  decided windows, one page at a time (docs/api.md): `limit` rows at most (default
  `PAGE_SIZE`, at most `MAX_PAGE_SIZE`), the next page's cursor in `X-Next-Cursor` and in
  a `Link: <...>; rel="next"` header;
- `/api/v1/status[?scope=S]`: the status page's data (`probe.web.status.data`);
- `/api/v1/incidents[?contract=NAME][&month=YYYY-MM][&scope=S]`: incidents of a month.

The ledger is read, and big answers serialised, on a worker thread, never on the event
loop: the loop also starts the attempts, and a stall there loses windows (`no_data`) or
invents vantage failures. Heavy requests (windows, incidents, status) are bounded: at most
`HEAVY_IN_FLIGHT` at once, the next gets 429 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from probe.config import Config
from probe.contracts.month import utc_iso
from probe.store import LedgerReader
from probe.web.status.data import SCOPES, StatusSource, incidents_payload

NO_STORE = {"Cache-Control": "no-store"}
PAGE_SIZE = 1000  # windows per page of /api/v1/windows unless `limit=` says otherwise
MAX_PAGE_SIZE = 10000
HEAVY_IN_FLIGHT = 2  # heavy API requests served at once; more get 429
CHUNK_ROWS = 500  # windows serialised per write of a streamed page

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HeavyGate:
    """At most `limit` heavy requests in flight; the next one is refused with 429 at once
    (never queued: a queue of big reads is memory the probe needs)."""

    def __init__(self, limit: int = HEAVY_IN_FLIGHT) -> None:
        self.limit = limit
        self.in_flight = 0
        self.refused = 0

    def wrap(self, handler: Handler) -> Handler:
        async def gated(request: web.Request) -> web.StreamResponse:
            if self.in_flight >= self.limit:
                self.refused += 1
                return web.json_response(
                    {"error": f"busy: {self.limit} heavy requests in flight, retry later"},
                    status=429, headers={**NO_STORE, "Retry-After": "1"})
            self.in_flight += 1
            try:
                return await handler(request)
            finally:
                self.in_flight -= 1

        return gated


GATE = web.AppKey("heavy_gate", HeavyGate)


def app_gate(app: web.Application) -> HeavyGate:
    """The one gate of `app`, shared by every heavy route."""
    if GATE not in app:
        app[GATE] = HeavyGate()
    return app[GATE]


def encode_cursor(service: str, window_start: int) -> str:
    raw = json.dumps([service, window_start], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[str, int]:
    """The (service, window_start) a page ended on; ValueError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        service, start = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError("cursor is not one this API gave") from exc
    if not isinstance(service, str) or not isinstance(start, int):
        raise ValueError("cursor is not one this API gave")
    return service, start


def _page_chunks(rows: list[Any]) -> list[bytes]:
    """A page as JSON array text in chunks (on a worker thread)."""
    if not rows:
        return [b"[]"]
    out = []
    for i in range(0, len(rows), CHUNK_ROWS):
        part = ",".join(json.dumps(window_json(v)) for v in rows[i:i + CHUNK_ROWS])
        out.append((("[" if i == 0 else ",") + part).encode())
    out.append(b"]")
    return out


# SQLite integers are 64-bit; a larger `from`/`to` is a client's mistake (a 400), and no
# window starts after the year 9999 anyway.
MAX_EPOCH = 253_402_300_799


def add_verdict_routes(app: web.Application, *, config: Callable[[], Config],
                       reader: LedgerReader, now: Callable[[], float]) -> None:
    """Serve `/api/v1/verdicts/latest` and `/api/v1/windows` on `app`."""
    gate = app_gate(app)

    async def latest(_request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(None, latest_verdicts, config(), reader, now())
        return web.json_response(data, dumps=lambda o: json.dumps(o, indent=2))

    async def windows(request: web.Request) -> web.StreamResponse:
        query = request.query
        try:
            contract = query["contract"]
            start = int(query.get("from", now() - 3600))
            end = int(query.get("to", now()))
            limit = int(query.get("limit", PAGE_SIZE))
            after = decode_cursor(query["cursor"]) if "cursor" in query else None
        except (KeyError, ValueError):
            return web.json_response(
                {"error": "query needs contract=NAME and optional from/to epoch seconds, "
                          f"limit=1..{MAX_PAGE_SIZE} and a cursor= this API gave"},
                status=400, headers=NO_STORE,
            )
        if not 1 <= limit <= MAX_PAGE_SIZE:
            return web.json_response({"error": f"limit must be 1..{MAX_PAGE_SIZE}"},
                                     status=400, headers=NO_STORE)
        if not (0 <= start <= MAX_EPOCH and 0 <= end <= MAX_EPOCH):
            return web.json_response(
                {"error": f"from and to are epoch seconds between 0 and {MAX_EPOCH}"},
                status=400, headers=NO_STORE)
        refused = bad_scope(request) or unknown_names(config(), contract,
                                                      query.get("service"))
        if refused is not None:
            return refused
        scope = query.get("scope", "local")
        loop = asyncio.get_running_loop()
        # one row more than the page: whether there is a next page, without a count
        rows = await loop.run_in_executor(None, functools.partial(
            reader.windows_page, contract, start, end, scope, service=query.get("service"),
            after=after, limit=limit + 1))
        headers = dict(NO_STORE)
        if len(rows) > limit:
            rows = rows[:limit]
            cursor = encode_cursor(rows[-1].service, rows[-1].window_start)
            nxt = {k: v for k, v in query.items() if k != "cursor"} | {"cursor": cursor}
            headers["X-Next-Cursor"] = cursor
            headers["Link"] = f'<{request.path}?{urlencode(nxt)}>; rel="next"'
        chunks = await loop.run_in_executor(None, _page_chunks, rows)
        del rows
        response = web.StreamResponse(headers=headers)
        response.content_type = "application/json"
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response

    app.router.add_get("/api/v1/verdicts/latest", latest)
    app.router.add_get("/api/v1/windows", gate.wrap(windows))


def window_json(v: Any) -> dict[str, Any]:
    """One decided window, as the API shows it."""
    return {
        "contract": v.contract, "service": v.service, "scope": v.scope,
        "window_start": utc_iso(v.window_start), "window_seconds": v.window_seconds,
        "verdict": v.verdict.value, "reason": v.reason.value, "attempts": v.attempts,
        "failures": v.failures, "failure_classes": list(v.failure_classes),
        "revision": v.revision,
    }


def latest_verdicts(config: Config, reader: LedgerReader, now: float) -> list[dict[str, Any]]:
    """The newest decided window of every objective."""
    out: list[dict[str, Any]] = []
    for contract in config.contracts:
        w = contract.window_seconds
        rows = reader.windows(contract.name, int(now) - 10 * w - 3600, int(now) + w)
        newest: dict[str, Any] = {}
        for row in rows:
            newest[row.service] = row
        out.extend(window_json(newest[s]) for s in contract.services() if s in newest)
    return out


def ledger_unavailable() -> web.Response:
    """503 before the daemon has opened the ledger."""
    return web.json_response({"error": "ledger not open yet"}, status=503, headers=NO_STORE)


def bad_scope(request: web.Request) -> web.Response | None:
    """A 400 answer if `scope=` names neither scope, else None."""
    if request.query.get("scope", "local") in SCOPES:
        return None
    return web.json_response({"error": f"scope must be one of {', '.join(SCOPES)}",
                              "scopes": list(SCOPES)}, status=400, headers=NO_STORE)


def unknown_names(config: Config, contract: str | None,
                  service: str | None) -> web.Response | None:
    """A 404 naming the valid values when `contract` (or its `service`) is not configured:
    an empty list would read as "no windows" when it is a typo."""
    names = [c.name for c in config.contracts]
    if contract is None:
        return None
    if contract not in names:
        return web.json_response(
            {"error": f"unknown contract {contract!r}", "contracts": names},
            status=404, headers=NO_STORE)
    services = config.contract(contract).services()
    if service is not None and service not in services:
        return web.json_response(
            {"error": f"unknown service {service!r} in contract {contract!r}",
             "services": services}, status=404, headers=NO_STORE)
    return None


def add_status_api_routes(app: web.Application, source: StatusSource) -> None:
    """Serve `/api/v1/status` and `/api/v1/incidents` on `app`, from `source`."""
    gate = app_gate(app)

    async def status_json(request: web.Request) -> web.StreamResponse:
        refused = bad_scope(request)
        if refused is not None:
            return refused
        status = await source.status(request.query.get("scope", "local"))
        if status is None:
            return ledger_unavailable()
        return web.json_response(status, headers=NO_STORE)

    async def incidents(request: web.Request) -> web.StreamResponse:
        refused = bad_scope(request)
        if refused is not None:
            return refused
        reader = source.reader()
        if reader is None:
            return ledger_unavailable()
        month = request.query.get("month")
        contract = request.query.get("contract")
        unknown = unknown_names(source.config(), contract, None)
        if unknown is not None:
            return unknown
        try:
            payload = await asyncio.to_thread(functools.partial(
                incidents_payload, source.config(), reader, source.clock.wall(), contract,
                month, scope=request.query.get("scope", "local")))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400, headers=NO_STORE)
        except KeyError:
            return web.json_response({"error": f"unknown contract {contract!r}"},
                                     status=404, headers=NO_STORE)
        return web.json_response(payload, headers=NO_STORE)

    app.router.add_get("/api/v1/status", gate.wrap(status_json))
    app.router.add_get("/api/v1/incidents", gate.wrap(incidents))
