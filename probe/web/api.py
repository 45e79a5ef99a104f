"""The JSON API under `/api/v1/`: the handlers, their query checks and their error bodies.

In one module so that the whole machine-readable surface (what a dashboard or a script may
rely on) is visible at once, apart from the HTML status page that shares its data:

- `/api/v1/verdicts/latest`: the newest decided window of every objective;
- `/api/v1/windows?contract=NAME[&service=S][&from=T][&to=T][&scope=S]`: decided windows;
- `/api/v1/status[?scope=S]`: the status page's data (`probe.web.status.data`);
- `/api/v1/incidents[?contract=NAME][&month=YYYY-MM][&scope=S]`: incidents of a month.

The ledger is read on a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from probe.config import Config
from probe.contracts.month import utc_iso
from probe.store import LedgerReader
from probe.web.status.data import SCOPES, StatusSource, incidents_payload

NO_STORE = {"Cache-Control": "no-store"}


def add_verdict_routes(app: web.Application, *, config: Callable[[], Config],
                       reader: LedgerReader, now: Callable[[], float]) -> None:
    """Serve `/api/v1/verdicts/latest` and `/api/v1/windows` on `app`."""

    async def latest(_request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(None, latest_verdicts, config(), reader, now())
        return web.json_response(data, dumps=lambda o: json.dumps(o, indent=2))

    async def windows(request: web.Request) -> web.Response:
        try:
            contract = request.query["contract"]
            start = int(request.query.get("from", now() - 3600))
            end = int(request.query.get("to", now()))
        except (KeyError, ValueError):
            return web.json_response(
                {"error": "query needs contract=NAME and optional from/to epoch seconds"},
                status=400,
            )
        scope = request.query.get("scope", "local")
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(
            None, lambda: reader.windows(contract, start, end, scope, request.query.get("service"))
        )
        return web.json_response([window_json(v) for v in rows])

    app.router.add_get("/api/v1/verdicts/latest", latest)
    app.router.add_get("/api/v1/windows", windows)


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
    return web.json_response({"error": f"scope must be one of {', '.join(SCOPES)}"},
                             status=400, headers=NO_STORE)


def add_status_api_routes(app: web.Application, source: StatusSource) -> None:
    """Serve `/api/v1/status` and `/api/v1/incidents` on `app`, from `source`."""

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

    app.router.add_get("/api/v1/status", status_json)
    app.router.add_get("/api/v1/incidents", incidents)
