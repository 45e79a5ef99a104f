"""The `http` check against real servers on loopback (HTTP and mTLS HTTPS): every failure class.

The request goes through the shared `checks.transport.http.HttpClient`; these tests judge the
check as a whole (the client's own behaviour is in test_transport_http.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from checks import build, validate_config
from checks.base import CheckFailure, Resources, Result
from checks.http import HttpCheck, HttpConfig
from probe.clock import SystemClock
from probe.scheduler import run_attempt
from probe.web.app import start_site
from tests.checks.conftest import MakeCtx, Pki, StartServer, server_ssl_context
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


class TestHttpAttempt:
    """Whole attempts through the scheduler's `run_attempt`, as the daemon runs them."""

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

    async def test_a_timeout_keeps_what_was_measured_before_it(self, server: str) -> None:
        """Connected, request sent, no first byte: the record says so (issue 19)."""
        result = await attempt({"url": f"{server}/slow"}, timeout=0.3)
        assert result.failure_class == "timeout"
        assert float(result.evidence["connect_seconds"]) >= 0
        assert "first_byte_seconds" not in result.evidence
        assert "status" not in result.evidence

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


async def _hello(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _fingerprint(cert_path: Path) -> str:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _tls_config(url: str, **tls: object) -> HttpConfig:
    return HttpConfig.model_validate(
        {"name": "api", "type": "http", "url": f"{url}/health", "tls": tls}
    )


class TestHttpCheckWithMutualTls:
    @pytest.fixture
    async def mtls_url(self, pki: Pki, start_server: StartServer) -> str:
        context = server_ssl_context(pki.server_cert, pki.server_key, client_ca=pki.ca)
        return await start_server({"/health": _hello}, ssl_context=context)

    async def test_trusted_server_and_client_certificate_is_ok_with_fingerprint(
        self, pki: Pki, mtls_url: str, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        check = HttpCheck(
            _tls_config(mtls_url, ca_file=str(pki.ca), cert_file=str(pki.client_cert),
                    key_file=str(pki.client_key)),
            resources,
        )
        try:
            result = await check.run(make_ctx())
        finally:
            await check.aclose()
        assert result.ok, result.detail
        assert result.evidence["tls_peer_sha256"] == _fingerprint(pki.server_cert)
        assert result.evidence["tls_not_after"] == str(int(pki.server_not_after.timestamp()))
        assert result.evidence["body_sha256"] == hashlib.sha256(b'{"status": "ok"}').hexdigest()

    async def test_server_from_untrusted_ca_fails_with_class_tls(
        self, pki: Pki, start_server: StartServer, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        context = server_ssl_context(pki.rogue_server_cert, pki.rogue_server_key, client_ca=None)
        url = await start_server({"/health": _hello}, ssl_context=context)
        check = HttpCheck(
            _tls_config(url, ca_file=str(pki.ca), cert_file=str(pki.client_cert),
                    key_file=str(pki.client_key)),
            resources,
        )
        try:
            result = await check.run(make_ctx())
        finally:
            await check.aclose()
        assert not result.ok
        assert result.failure_class == "tls"
        assert "certificate" in result.detail

    async def test_missing_client_certificate_fails(
        self, pki: Pki, mtls_url: str, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        check = HttpCheck(_tls_config(mtls_url, ca_file=str(pki.ca)), resources)
        try:
            result = await check.run(make_ctx())
        finally:
            await check.aclose()
        assert not result.ok
        # TLS 1.3: the server's "certificate required" alert arrives after the client's
        # handshake has completed, so the client sees a closed connection, not a TLS error.
        assert result.failure_class in {"tls", "connect", "protocol"}, result
        assert result.evidence["tls_peer_sha256"] == _fingerprint(pki.server_cert)

    async def test_default_trust_store_rejects_the_test_ca(
        self, mtls_url: str, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        check = HttpCheck(_tls_config(mtls_url), resources)
        try:
            result = await check.run(make_ctx())
        finally:
            await check.aclose()
        assert result.failure_class == "tls"


class TestTlsOptionsValidation:
    def test_client_certificate_without_key_is_refused(self, pki: Pki) -> None:
        with pytest.raises(ValueError, match="go together"):
            _tls_config("https://127.0.0.1:1", cert_file=str(pki.client_cert))

    def test_unreadable_ca_file_is_refused_at_load(self) -> None:
        with pytest.raises(ValueError, match="cannot load TLS files"):
            _tls_config("https://127.0.0.1:1", ca_file="/nonexistent/ca.pem")

