"""The `http` check over the shared `HttpClient` (plain HTTP on loopback)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from aiohttp import web

from checks.base import CheckFailure, Resources
from checks.http import HttpCheck, HttpConfig
from tests.checks.conftest import MakeCtx, StartServer
from tests.realtools import free_port


async def _run(config: dict[str, Any], resources: Resources, make_ctx: MakeCtx) -> Any:
    check = HttpCheck(HttpConfig.model_validate({"name": "h", "type": "http", **config}),
                      resources)
    try:
        return await check.run(make_ctx())
    finally:
        await check.aclose()


class TestHttpCheck:
    async def test_json_body_is_sent_compact_with_content_type(
        self, start_server: StartServer, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        seen: list[tuple[bytes, str]] = []

        async def handler(request: web.Request) -> web.Response:
            seen.append((await request.read(), request.headers["Content-Type"]))
            return web.json_response({"state": "ready"})

        url = await start_server({"/x": handler})
        result = await _run(
            {"url": f"{url}/x", "method": "POST", "json": {"a": [1, 2]},
             "expect": {"json": [{"path": "$.state", "equals": "ready"}]}},
            resources, make_ctx,
        )
        assert result.ok, result.detail
        assert seen == [(b'{"a":[1,2]}', "application/json")]
        assert "tls_peer_sha256" not in result.evidence

    @pytest.mark.parametrize(
        ("status", "body", "expect", "failure_class"),
        [
            (500, b"oops", {}, "http_status"),
            (200, b'{"state": "degraded"}',
             {"json": [{"path": "$.state", "equals": "ready"}]}, "assertion"),
            (200, b"maintenance", {"not_regex": "maint"}, "assertion"),
        ],
    )
    async def test_failed_expectation_keeps_body_hash(
        self, status: int, body: bytes, expect: dict[str, Any], failure_class: str,
        start_server: StartServer, resources: Resources, make_ctx: MakeCtx,
    ) -> None:
        async def handler(_request: web.Request) -> web.Response:
            return web.Response(status=status, body=body)

        url = await start_server({"/x": handler})
        result = await _run({"url": f"{url}/x", "expect": expect}, resources, make_ctx)
        assert result.failure_class == failure_class
        assert result.evidence["body_sha256"] == hashlib.sha256(body).hexdigest()
        assert result.evidence["status"] == str(status)

    async def test_body_over_the_limit_is_too_large(
        self, start_server: StartServer, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        async def handler(_request: web.Request) -> web.Response:
            return web.Response(body=b"x" * 5000)

        url = await start_server({"/x": handler})
        with pytest.raises(CheckFailure) as info:
            await _run({"url": f"{url}/x", "max_body": 1000}, resources, make_ctx)
        assert info.value.failure_class == "too_large"

    async def test_refused_connection_is_connect(
        self, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        result = await _run({"url": f"http://127.0.0.1:{free_port()}/"}, resources, make_ctx)
        assert result.failure_class == "connect"

    async def test_secret_echoed_by_the_server_is_redacted(
        self, start_server: StartServer, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response({"error": f"bad token {request.headers['X-Key']}"})

        url = await start_server({"/x": handler})
        result = await _run(
            {"url": f"{url}/x", "secret_headers": {"X-Key": "leaky-secret-99"},
             "expect": {"json": [{"path": "$.error", "equals": "none"}]}},
            resources, make_ctx,
        )
        assert result.failure_class == "assertion"
        assert "bad token [REDACTED]" in result.detail
