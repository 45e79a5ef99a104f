"""`checks.transport.http`: the HTTP client every HTTP-based check shares."""

from __future__ import annotations

import hashlib

import aiohttp
import pytest
from aiohttp import web

from checks.base import CheckFailure
from checks.transport.http import (
    HttpClient,
    RequestConfig,
    classify_client_error,
    encode_json,
    with_content_type,
)
from checks.transport.tls import TlsOptions
from probe.clock import SystemClock
from tests.checks.conftest import StartServer
from tests.realtools import free_port


def _client() -> HttpClient:
    return HttpClient(clock=SystemClock(), https=False, tls=TlsOptions())


class TestExchange:
    async def test_answer_carries_status_body_and_evidence(
        self, start_server: StartServer
    ) -> None:
        seen: list[tuple[str, bytes]] = []

        async def handler(request: web.Request) -> web.Response:
            seen.append((request.method, await request.read()))
            return web.Response(status=201, body=b"made")

        url = await start_server({"/x": handler})
        client = _client()
        try:
            answer = await client.exchange("PUT", f"{url}/x", headers={}, body=b"thing")
        finally:
            await client.aclose()
        assert seen == [("PUT", b"thing")]
        assert (answer.status, answer.body) == (201, b"made")
        assert answer.evidence["status"] == "201"
        assert answer.evidence["body_sha256"] == hashlib.sha256(b"made").hexdigest()
        assert answer.latency > 0

    async def test_body_over_the_cap_raises_too_large(self, start_server: StartServer) -> None:
        async def handler(_request: web.Request) -> web.Response:
            return web.Response(body=b"x" * 5000)

        url = await start_server({"/x": handler})
        client = _client()
        try:
            with pytest.raises(CheckFailure) as info:
                await client.exchange("GET", f"{url}/x", headers={}, max_body=1000)
        finally:
            await client.aclose()
        assert info.value.failure_class == "too_large"

    async def test_refused_connection_raises_connect(self) -> None:
        client = _client()
        try:
            with pytest.raises(CheckFailure) as info:
                await client.exchange("GET", f"http://127.0.0.1:{free_port()}/", headers={})
        finally:
            await client.aclose()
        assert info.value.failure_class == "connect"


class TestHelpers:
    def test_server_disconnect_is_protocol(self) -> None:
        assert classify_client_error(aiohttp.ServerDisconnectedError())[0] == "protocol"

    def test_unknown_exception_is_error(self) -> None:
        assert classify_client_error(RuntimeError("boom")) == ("error", "RuntimeError: boom")

    def test_json_is_compact_and_keeps_unicode(self) -> None:
        assert encode_json({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()

    def test_content_type_is_added_only_when_absent(self) -> None:
        assert with_content_type({}, "application/json") == {
            "Content-Type": "application/json"
        }
        assert with_content_type({"content-type": "text/plain"}, "application/json") == {
            "content-type": "text/plain"
        }


class TestRequestConfig:
    def test_body_and_json_together_are_refused(self) -> None:
        with pytest.raises(ValueError, match="either body or json"):
            RequestConfig.model_validate(
                {"name": "r", "type": "x", "url": "http://x/", "body": "a", "json": {}}
            )
