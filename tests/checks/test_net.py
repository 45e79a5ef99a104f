"""`tcp`, `tls` and `dns` against real loopback listeners and the system resolver."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from checks.base import Resources
from checks.net import DnsCheck, DnsConfig, TcpCheck, TcpConfig, TlsCheck, TlsConfig
from checks.registry import validate_config
from tests.checks.conftest import MakeCtx, Pki, server_ssl_context
from tests.realtools import free_port


async def _echo_close(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


StartListener = Callable[..., Any]


@pytest.fixture
async def listen() -> AsyncIterator[StartListener]:
    """Start TCP (optionally TLS) listeners on 127.0.0.1 free ports; close them after."""
    servers: list[asyncio.Server] = []

    async def start(ssl_context: ssl.SSLContext | None = None) -> int:
        server = await asyncio.start_server(_echo_close, "127.0.0.1", 0, ssl=ssl_context)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 5)


def _der_sha256(path: Path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class TestTcpCheck:
    async def test_open_port_is_ok_with_peer(
        self, listen: StartListener, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        port = await listen()
        result = await TcpCheck(TcpConfig(name="t", host="127.0.0.1", port=port),
                                resources).run(make_ctx())
        assert result.ok
        assert result.evidence["peer"] == f"127.0.0.1:{port}"
        assert result.latency is not None

    async def test_closed_port_is_connect(
        self, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        result = await TcpCheck(TcpConfig(name="t", host="127.0.0.1", port=free_port()),
                                resources).run(make_ctx())
        assert result.failure_class == "connect"

    async def test_unresolvable_name_is_dns(
        self, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        result = await TcpCheck(TcpConfig(name="t", host="no-such-host.invalid", port=443),
                                resources).run(make_ctx())
        assert result.failure_class == "dns"


class TestTlsCheck:
    async def test_handshake_records_fingerprint_and_expiry(
        self, pki: Pki, listen: StartListener, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        port = await listen(server_ssl_context(pki.server_cert, pki.server_key, None))
        config = TlsConfig.model_validate(
            {"name": "t", "type": "tls", "host": "127.0.0.1", "port": port,
             "tls": {"ca_file": str(pki.ca)}, "min_valid": "7d"}
        )
        result = await TlsCheck(config, resources).run(make_ctx())
        assert result.ok, result.detail
        assert result.evidence["tls_not_after"] == str(int(pki.server_not_after.timestamp()))
        assert result.evidence["tls_peer_sha256"] == _der_sha256(pki.server_cert)
        assert result.evidence["tls_subject"] == "CN=127.0.0.1"
        assert result.evidence["tls_version"].startswith("TLS")

    async def test_certificate_expiring_within_min_valid_fails(
        self, pki: Pki, listen: StartListener, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        port = await listen(server_ssl_context(pki.server_cert, pki.server_key, None))
        config = TlsConfig.model_validate(
            {"name": "t", "type": "tls", "host": "127.0.0.1", "port": port,
             "tls": {"ca_file": str(pki.ca)}, "min_valid": "60d"}
        )
        result = await TlsCheck(config, resources).run(make_ctx())
        assert result.failure_class == "cert_expiry"
        assert "expires in" in result.detail
        assert "tls_not_after" in result.evidence

    async def test_expired_certificate_without_verification_is_cert_expiry(
        self, pki: Pki, listen: StartListener, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        expired = server_ssl_context(pki.expired_server_cert, pki.expired_server_key, None)
        port = await listen(expired)
        config = TlsConfig.model_validate(
            {"name": "t", "type": "tls", "host": "127.0.0.1", "port": port,
             "tls": {"verify": False}, "min_valid": 0}
        )
        result = await TlsCheck(config, resources).run(make_ctx())
        assert result.failure_class == "cert_expiry"
        assert "expired" in result.detail

    async def test_expired_certificate_with_verification_is_tls(
        self, pki: Pki, listen: StartListener, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        expired = server_ssl_context(pki.expired_server_cert, pki.expired_server_key, None)
        port = await listen(expired)
        config = TlsConfig.model_validate(
            {"name": "t", "type": "tls", "host": "127.0.0.1", "port": port,
             "tls": {"ca_file": str(pki.ca)}}
        )
        result = await TlsCheck(config, resources).run(make_ctx())
        assert result.failure_class == "tls"
        assert "expired" in result.detail

    async def test_untrusted_ca_is_tls(
        self, pki: Pki, listen: StartListener, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        port = await listen(server_ssl_context(pki.rogue_server_cert, pki.rogue_server_key, None))
        config = TlsConfig.model_validate(
            {"name": "t", "type": "tls", "host": "127.0.0.1", "port": port,
             "tls": {"ca_file": str(pki.ca)}}
        )
        result = await TlsCheck(config, resources).run(make_ctx())
        assert result.failure_class == "tls"

    async def test_plain_tcp_listener_is_tls_failure(
        self, listen: StartListener, pki: Pki, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        port = await listen()
        config = TlsConfig.model_validate(
            {"name": "t", "type": "tls", "host": "127.0.0.1", "port": port,
             "tls": {"ca_file": str(pki.ca)}}
        )
        result = await TlsCheck(config, resources).run(make_ctx())
        assert not result.ok
        assert result.failure_class in {"tls", "connect"}

    async def test_closed_port_is_connect(
        self, pki: Pki, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        config = TlsConfig.model_validate(
            {"name": "t", "type": "tls", "host": "127.0.0.1", "port": free_port()}
        )
        result = await TlsCheck(config, resources).run(make_ctx())
        assert result.failure_class == "connect"


class TestDnsCheck:
    async def test_localhost_resolves_to_loopback(
        self, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        config = DnsConfig(name="d", host="localhost", record="A", expect_all=["127.0.0.1"])
        result = await DnsCheck(config, resources).run(make_ctx())
        assert result.ok, result.detail
        assert "127.0.0.1" in result.evidence["answers"].split(",")

    @pytest.mark.parametrize(
        ("expectation", "message"),
        [
            ({"expect_all": ["127.0.0.1", "192.0.2.1"]}, "missing 192.0.2.1"),
            ({"expect_any": ["192.0.2.1", "192.0.2.2"]}, "none of"),
            ({"min_answers": 50}, "expected at least 50"),
        ],
    )
    async def test_unexpected_answers_are_assertion(
        self, expectation: dict[str, Any], message: str, resources: Resources,
        make_ctx: MakeCtx,
    ) -> None:
        config = DnsConfig.model_validate(
            {"name": "d", "type": "dns", "host": "localhost", **expectation}
        )
        result = await DnsCheck(config, resources).run(make_ctx())
        assert result.failure_class == "assertion"
        assert message in result.detail

    async def test_nonexistent_name_is_dns(
        self, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        config = DnsConfig(name="d", host="no-such-host.invalid")
        result = await DnsCheck(config, resources).run(make_ctx())
        assert result.failure_class == "dns"

    def test_expected_addresses_are_normalised_and_validated(self) -> None:
        config = DnsConfig(name="d", host="x", record="AAAA", expect_all=["0:0::1"])
        assert config.expect_all == ["::1"]
        with pytest.raises(ValidationError):
            DnsConfig(name="d", host="x", expect_all=["not-an-ip"])


class TestNetRegistration:
    @pytest.mark.parametrize(
        ("raw", "model"),
        [
            ({"name": "a", "type": "tcp", "host": "h", "port": 1}, TcpConfig),
            ({"name": "a", "type": "tls", "host": "h"}, TlsConfig),
            ({"name": "a", "type": "dns", "host": "h"}, DnsConfig),
        ],
    )
    def test_types_are_registered(self, raw: dict[str, Any], model: type) -> None:
        assert isinstance(validate_config(raw), model)
