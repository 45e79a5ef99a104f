"""A loopback server for vendor feeds: serves the files in tests/feeds/files, and on demand
an error, garbage, a slow answer, or a body of 1 GB (streamed, never held in memory)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from aiohttp import web

from probe.web.app import start_site

FILES = Path(__file__).parent / "files"
CHUNK = b"x" * (1 << 20)


class FeedServer:
    def __init__(self) -> None:
        self.modes: dict[str, str] = {}  # path -> "500" | "garbage" | "slow" | "huge"
        self.overrides: dict[str, bytes] = {}
        self.sent = 0
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.lstrip("/")
        mode = self.modes.get(path, "")
        if mode == "500":
            return web.Response(status=500, text="internal error")
        if mode == "garbage":
            return web.Response(body=b"\x89PNG\r\n\x1a\n not a feed at all", content_type="text/html")
        if mode == "slow":
            await asyncio.sleep(3)
        if mode == "huge":  # 1 GB announced and streamed; the client stops reading early
            response = web.StreamResponse(headers={"Content-Length": str(1 << 30)})
            await response.prepare(request)
            with contextlib.suppress(ConnectionError, RuntimeError):
                for _ in range(1024):
                    await response.write(CHUNK)
                    self.sent += len(CHUNK)
            return response
        body = self.overrides.get(path)
        if body is None:
            file = FILES / path
            if not file.is_file():
                return web.Response(status=404)
            body = file.read_bytes()
        return web.Response(body=body, content_type="application/json")

    async def __aenter__(self) -> FeedServer:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner, self.port = await start_site(app, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"
