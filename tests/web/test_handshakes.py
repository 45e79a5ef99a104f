"""What the TLS keys do, seen by real TLS clients: Python's ssl and curl.

Each server is the web config's own SSL context on a free port of 127.0.0.1; each client
is a real handshake. The test PKI's keys are ECDSA, so the suites used are ECDSA ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.web.conftest import HANDSHAKE_REFUSED, client_context, curl, get, tls_yaml

AES128 = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
AES256 = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
AES128_OPENSSL = "ECDHE-ECDSA-AES128-GCM-SHA256"
AES256_OPENSSL = "ECDHE-ECDSA-AES256-GCM-SHA384"


async def handshake(url: str, context: ssl.SSLContext) -> tuple[str, str, str]:
    """(cipher, protocol, HTTP status line) of one request on a fresh connection."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, ssl=context)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        cipher, protocol, _ = ssl_object.cipher()
        writer.write(b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        status = (await reader.readline()).decode().strip()
        return cipher, protocol, status
    finally:
        writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()


def tls12(pki: dict[str, Any], ciphers: str) -> ssl.SSLContext:
    return client_context(pki, max_version=ssl.TLSVersion.TLSv1_2, ciphers=ciphers)


class TestCipherSuites:
    async def test_a_listed_suite_is_negotiated(self, serve_yaml: Any, pki: dict[str, Any]) -> None:
        url = await serve_yaml(tls_yaml(f"  cipher_suites: [{AES128}]\n"))
        cipher, protocol, status = await handshake(url, tls12(pki, AES128_OPENSSL))
        assert (cipher, protocol) == (AES128_OPENSSL, "TLSv1.2")
        assert status == "HTTP/1.1 200 OK"
        assert await curl(f"{url}/metrics", pki, "--tls-max", "1.2",
                          "--ciphers", AES128_OPENSSL) == (0, "200")

    async def test_a_suite_outside_the_list_fails_the_handshake(
        self, serve_yaml: Any, pki: dict[str, Any]
    ) -> None:
        url = await serve_yaml(tls_yaml(f"  cipher_suites: [{AES128}]\n"))
        with pytest.raises(HANDSHAKE_REFUSED):
            await handshake(url, tls12(pki, AES256_OPENSSL))
        code, status = await curl(f"{url}/metrics", pki, "--tls-max", "1.2",
                                  "--ciphers", AES256_OPENSSL)
        assert code != 0
        assert status == "000"

    async def test_tls13_is_not_limited_by_the_list(
        self, serve_yaml: Any, pki: dict[str, Any]
    ) -> None:
        url = await serve_yaml(tls_yaml(f"  cipher_suites: [{AES128}]\n"))
        _, protocol, status = await handshake(url, client_context(pki))
        assert protocol == "TLSv1.3"
        assert status == "HTTP/1.1 200 OK"

    @pytest.mark.parametrize(("prefer", "expected"), [("true", AES128_OPENSSL),
                                                      ("false", AES256_OPENSSL)])
    async def test_prefer_server_cipher_suites_decides_whose_order_wins(
        self, serve_yaml: Any, pki: dict[str, Any], prefer: str, expected: str
    ) -> None:
        url = await serve_yaml(tls_yaml(f"  cipher_suites: [{AES128}, {AES256}]\n"
                                        f"  prefer_server_cipher_suites: {prefer}\n"))
        client = tls12(pki, f"{AES256_OPENSSL}:{AES128_OPENSSL}")  # the client prefers 256
        cipher, _, _ = await handshake(url, client)
        assert cipher == expected


class TestCurvePreferences:
    async def test_only_the_configured_curve_is_agreed(
        self, serve_yaml: Any, pki: dict[str, Any]
    ) -> None:
        url = await serve_yaml(tls_yaml("  curve_preferences: [X25519]\n"))
        assert await curl(f"{url}/metrics", pki, "--curves", "X25519") == (0, "200")
        code, status = await curl(f"{url}/metrics", pki, "--curves", "prime256v1")
        assert code != 0
        assert status == "000"
        client = client_context(pki)
        client.set_ecdh_curve("prime256v1")
        with pytest.raises(HANDSHAKE_REFUSED):
            await handshake(url, client)


class TestVersions:
    async def test_a_client_below_min_version_fails_with_curl_too(
        self, serve_yaml: Any, pki: dict[str, Any]
    ) -> None:
        url = await serve_yaml(tls_yaml("  min_version: TLS13\n"))
        code, _ = await curl(f"{url}/metrics", pki, "--tls-max", "1.2")
        assert code != 0
        assert await curl(f"{url}/metrics", pki) == (0, "200")

    async def test_a_client_above_max_version_gets_the_maximum(
        self, serve_yaml: Any, pki: dict[str, Any]
    ) -> None:
        url = await serve_yaml(tls_yaml("  max_version: TLS12\n"))
        _, protocol, _ = await handshake(url, client_context(pki))
        assert protocol == "TLSv1.2"


class TestInlinePem:
    async def test_inline_certificate_key_and_client_ca_serve_and_verify(
        self, serve_yaml: Any, pki: dict[str, Any]
    ) -> None:
        def block(path: Path) -> str:
            return "".join(f"    {line}\n" for line in path.read_text().splitlines())

        url = await serve_yaml(
            f"tls_server_config:\n  cert: |\n{block(pki['server'].cert)}"
            f"  key: |\n{block(pki['server'].key)}"
            f"  client_ca: |\n{block(pki['ca'])}"
            "  client_auth_type: RequireAndVerifyClientCert\n")
        assert await curl(f"{url}/metrics", pki, client=pki["client"]) == (0, "200")
        status, _, _ = await get(f"{url}/metrics", context=client_context(pki, pki["client"]))
        assert status == 200
        with pytest.raises(HANDSHAKE_REFUSED):
            await get(f"{url}/metrics", context=client_context(pki, pki["rogue_client"]))


class TestSystemRoots:
    """Without a client CA, client certificates are verified against the system roots, as
    in exporter-toolkit; the test CA is not among them."""

    async def test_verify_if_given_admits_no_certificate_but_not_an_unknown_issuer(
        self, serve_yaml: Any, pki: dict[str, Any]
    ) -> None:
        url = await serve_yaml(tls_yaml("  client_auth_type: VerifyClientCertIfGiven\n"))
        assert await curl(f"{url}/metrics", pki) == (0, "200")
        status, _, _ = await get(f"{url}/metrics", context=client_context(pki))
        assert status == 200
        code, _ = await curl(f"{url}/metrics", pki, client=pki["client"])
        assert code != 0
        with pytest.raises(HANDSHAKE_REFUSED):
            await get(f"{url}/metrics", context=client_context(pki, pki["client"]))

    async def test_require_and_verify_refuses_a_client_without_certificate(
        self, serve_yaml: Any, pki: dict[str, Any]
    ) -> None:
        url = await serve_yaml(tls_yaml("  client_auth_type: RequireAndVerifyClientCert\n"))
        code, _ = await curl(f"{url}/metrics", pki)
        assert code != 0
