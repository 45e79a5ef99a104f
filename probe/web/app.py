"""The one HTTP listener: the aiohttp application and its socket.

`build_app` serves what Prometheus and a kubelet need (`/metrics`, `/-/healthy`,
`/-/ready`) and the verdict API (`/api/v1/verdicts/latest`, `/api/v1/windows`, see
`probe.web.api`). The status page (`/`, `/api/v1/status`, `/api/v1/incidents`) is added
to the same application by `probe.web.status.routes.add_status_routes`, and TLS, basic
auth and headers come from `probe.web.config` (a middleware and an SSL context), so the
daemon can run the listener with or without them.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from probe.config import Config
from probe.metrics.exposition import render
from probe.store import LedgerReader
from probe.web.api import add_verdict_routes

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
        body = await loop.run_in_executor(None, render, registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthy(_request: web.Request) -> web.Response:
        return web.Response(text="sla-probe is healthy\n")

    async def ready_handler(_request: web.Request) -> web.Response:
        ok, why = ready()
        return web.Response(text=f"{why}\n", status=200 if ok else 503)

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready_handler)
    add_verdict_routes(app, config=config, reader=reader, now=now)
    return app


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
