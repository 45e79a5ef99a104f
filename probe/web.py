"""The one HTTP listener: /metrics, /-/healthy, /-/ready, / and /api/v1/."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from probe.config import Config
from probe.contracts.month import utc_iso
from probe.store import LedgerReader

ReadyCheck = Callable[[], tuple[bool, str]]


def build_app(
    *,
    registry: CollectorRegistry,
    config: Callable[[], Config],
    reader: LedgerReader,
    ready: ReadyCheck,
    now: Callable[[], float],
    middlewares: list[Any] | None = None,
) -> web.Application:
    app = web.Application(middlewares=middlewares or [])

    async def metrics(_request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(None, generate_latest, registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthy(_request: web.Request) -> web.Response:
        return web.Response(text="sla-probe is healthy\n")

    async def ready_handler(_request: web.Request) -> web.Response:
        ok, why = ready()
        return web.Response(text=f"{why}\n", status=200 if ok else 503)

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
        return web.json_response([_window_json(v) for v in rows])

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready_handler)
    app.router.add_get("/api/v1/verdicts/latest", latest)
    app.router.add_get("/api/v1/windows", windows)
    return app


def _window_json(v: Any) -> dict[str, Any]:
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
        out.extend(_window_json(newest[s]) for s in contract.services() if s in newest)
    return out


async def start_site(
    app: web.Application, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    """Start listening; returns the runner and the bound port (for port 0)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context, reuse_address=True)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)
