"""The status page's routes: `/` (HTML) and, through `probe.web.api`, `/api/v1/status` and
`/api/v1/incidents` (JSON), all from one `StatusSource`.

The one function the daemon calls to put the status page on its listener; the handlers
stay thin (query check, worker thread, render) so the data and the HTML can be tested
without a server.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from probe.clock import Clock
from probe.config import Config
from probe.store import LedgerReader
from probe.web.api import NO_STORE, add_status_api_routes, bad_scope, ledger_unavailable
from probe.web.status.data import StatusSource
from probe.web.status.html import render_status_page


def add_status_routes(
    app: web.Application,
    config_getter: Callable[[], Config],
    reader_getter: Callable[[], LedgerReader | None],
    clock: Clock,
) -> None:
    """Serve `/` (HTML), `/api/v1/status` and `/api/v1/incidents` (JSON) on `app`.

    All take `scope=local|quorum` (default local: this vantage's verdicts);
    `/api/v1/incidents` also `month=YYYY-MM` (default: each contract's current month, in its
    own time zone) and `contract=NAME`. The ledger is read on a worker thread.
    """
    source = StatusSource(config_getter, reader_getter, clock)

    async def page(request: web.Request) -> web.StreamResponse:
        refused = bad_scope(request)
        if refused is not None:
            return refused
        status = await source.status(request.query.get("scope", "local"))
        if status is None:
            return ledger_unavailable()
        return web.Response(text=render_status_page(status), content_type="text/html",
                            charset="utf-8", headers=NO_STORE)

    app.router.add_get("/", page)
    add_status_api_routes(app, source)
