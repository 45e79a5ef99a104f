"""The `http` check against real servers on loopback: every failure class it promises."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from checks import build, validate_config
from checks.base import Resources, Result
from probe.clock import SystemClock
from probe.scheduler import run_attempt
from probe.web.app import start_site
from tests.conftest import free_port


async def attempt(raw: dict[str, object], timeout: float = 2.0) -> Result:
    raw = {"name": "t", "type": "http", "interval": "10s", "timeout": f"{timeout}s", **raw}
    cfg = validate_config(raw)
    clock = SystemClock()
    check = build(cfg, Resources(clock=clock))
    try:
        return await run_attempt(check, cfg.timeout, clock)
    finally:
        await check.aclose()  # type: ignore[attr-defined]


@pytest.fixture
async def server() -> object:
    app = web.Application()

    async def ok(_r: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": "1.2.3"})

    async def broken(_r: web.Request) -> web.Response:
        return web.Response(status=503, text="maintenance")

    async def slow(_r: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.Response(text="late")

    async def big(_r: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(_r)
        for _ in range(64):
            await resp.write(b"x" * 65536)
        return resp

    async def echo(r: web.Request) -> web.Response:
        return web.json_response({"method": r.method, "auth": r.headers.get("Authorization"),
                                  "body": await r.text()})

    app.router.add_get("/ok", ok)
    app.router.add_get("/broken", broken)
    app.router.add_get("/slow", slow)
    app.router.add_get("/big", big)
    app.router.add_route("*", "/echo", echo)
    runner, port = await start_site(app, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


class TestHttpCheck:
    async def test_expected_status_and_json_assertion_pass(self, server: str) -> None:
        result = await attempt({"url": f"{server}/ok", "expect": {
            "status": [200], "json": [{"path": "$.status", "equals": "ok"},
                                      {"path": "$.version", "matches": r"^1\."}]}})
        assert result.ok, result
        assert len(result.evidence["body_sha256"]) == 64
        assert result.latency is not None
        assert result.latency > 0

    @pytest.mark.parametrize(
        ("path", "expect", "failure_class"),
        [
            ("/broken", {"status": [200]}, "http_status"),
            ("/ok", {"json": [{"path": "$.status", "equals": "green"}]}, "assertion"),
            ("/ok", {"json": [{"path": "$.missing"}]}, "assertion"),
            ("/ok", {"regex": "healthy"}, "assertion"),
            ("/broken", {"status": [503], "json": [{"path": "$.a"}]}, "assertion"),
            ("/slow", {"max_latency": "100ms"}, "slow"),
        ],
    )
    async def test_failures_are_classified(
        self, server: str, path: str, expect: dict[str, object], failure_class: str
    ) -> None:
        result = await attempt({"url": f"{server}{path}", "expect": expect})
        assert (result.ok, result.failure_class) == (False, failure_class), result

    async def test_body_over_the_cap_is_too_large(self, server: str) -> None:
        result = await attempt({"url": f"{server}/big", "max_body": 100_000})
        assert result.failure_class == "too_large"

    async def test_no_answer_within_the_timeout_is_timeout(self, server: str) -> None:
        result = await attempt({"url": f"{server}/slow"}, timeout=0.3)
        assert result.failure_class == "timeout"

    async def test_refused_connection_is_connect(self) -> None:
        result = await attempt({"url": f"http://127.0.0.1:{free_port()}/"})
        assert result.failure_class == "connect"

    async def test_unresolvable_name_is_dns(self) -> None:
        result = await attempt({"url": "http://no-such-host.invalid/"}, timeout=5)
        assert result.failure_class == "dns", result

    async def test_tls_against_a_plain_server_is_tls(self, server: str) -> None:
        result = await attempt({"url": server.replace("http://", "https://") + "/ok"})
        assert result.failure_class in {"tls", "protocol"}, result

    async def test_method_body_and_secret_header_are_sent_but_never_reported(
        self, server: str
    ) -> None:
        result = await attempt({
            "url": f"{server}/echo", "method": "POST", "json": {"challenge": 1},
            "secret_headers": {"Authorization": "Bearer top-secret-value"},
            "expect": {"json": [{"path": "$.auth", "equals": "Bearer nope"}]},
        })
        assert result.failure_class == "assertion"
        assert "top-secret-value" not in result.detail
        assert "top-secret-value" not in json.dumps(dict(result.evidence))


class TestHttpConfig:
    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            ({"url": "ftp://x/"}, "String should match pattern"),
            ({"url": "http://x/", "body": "a", "json": {}}, "either body or json"),
            ({"url": "http://x/", "expect": {"status": [99]}}, "HTTP status codes"),
            ({"url": "http://x/", "expect": {"json": [{"path": "status"}]}}, "must start with \\$"),
            ({"url": "http://x/", "tls": {"cert_file": "/c.pem"}}, "go together"),
        ],
    )
    def test_bad_options_are_refused_at_load(self, extra: dict[str, object],
                                              message: str) -> None:
        with pytest.raises(ValueError, match=message):
            validate_config({"name": "t", "type": "http", **extra})
