"""Real aiohttp servers on loopback for integration tests, whose health follows a schedule."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiohttp import web

from probe.web.app import start_site


class ScheduledTarget:
    """An HTTP endpoint that answers 503 while `failing(time.time())` holds."""

    def __init__(self, failing: Callable[[float], bool] = lambda _t: False) -> None:
        self.failing = failing
        self.hits = 0
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, _request: web.Request) -> web.Response:
        self.hits += 1
        if self.failing(time.time()):
            return web.json_response({"status": "down"}, status=503)
        return web.json_response({"status": "ok"})

    async def __aenter__(self) -> ScheduledTarget:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner, self.port = await start_site(app, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"


async def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(step)
