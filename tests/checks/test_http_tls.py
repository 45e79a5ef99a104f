"""The `http` check against a real aiohttp HTTPS server on loopback that requires mTLS."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from checks.base import Resources
from checks.http import HttpCheck, HttpConfig
from tests.checks.conftest import MakeCtx, Pki, StartServer, server_ssl_context


async def _hello(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _fingerprint(cert_path: Path) -> str:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _config(url: str, **tls: object) -> HttpConfig:
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
            _config(mtls_url, ca_file=str(pki.ca), cert_file=str(pki.client_cert),
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
            _config(url, ca_file=str(pki.ca), cert_file=str(pki.client_cert),
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
        check = HttpCheck(_config(mtls_url, ca_file=str(pki.ca)), resources)
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
        check = HttpCheck(_config(mtls_url), resources)
        try:
            result = await check.run(make_ctx())
        finally:
            await check.aclose()
        assert result.failure_class == "tls"


class TestTlsOptionsValidation:
    def test_client_certificate_without_key_is_refused(self, pki: Pki) -> None:
        with pytest.raises(ValueError, match="go together"):
            _config("https://127.0.0.1:1", cert_file=str(pki.client_cert))

    def test_unreadable_ca_file_is_refused_at_load(self) -> None:
        with pytest.raises(ValueError, match="cannot load TLS files"):
            _config("https://127.0.0.1:1", ca_file="/nonexistent/ca.pem")

