"""`auth:`: bearer tokens and request signatures over a canonical string."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pydantic import ValidationError

from checks.auth import AuthConfig, RequestAuth
from checks.base import Resources
from checks.http import HttpCheck, HttpConfig
from probe.secrets import redact
from tests.checks.conftest import MakeCtx, StartServer

WALL = 1_767_225_600.25  # 2026-01-01T00:00:00.25Z


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _auth(**config: Any) -> RequestAuth:
    return RequestAuth(AuthConfig.model_validate(config))


class TestBearer:
    def test_bearer_header_from_value(self) -> None:
        headers = _auth(bearer="tok-abcdef").headers("GET", "https://x/y", b"", WALL)
        assert headers == {"Authorization": "Bearer tok-abcdef"}

    def test_bearer_from_file_with_custom_header_and_no_scheme(self, tmp_path: Path) -> None:
        path = tmp_path / "token"
        path.write_text("file-token-1\n")
        auth = _auth(bearer_file=str(path), bearer_header="X-Api-Key", bearer_scheme="")
        assert auth.headers("GET", "https://x/", b"", WALL) == {"X-Api-Key": "file-token-1"}

    def test_bearer_is_masked_and_registered_for_redaction(self) -> None:
        config = AuthConfig.model_validate({"bearer": "very-secret-token-42"})
        assert "very-secret-token-42" not in repr(config)
        assert "very-secret-token-42" not in config.model_dump_json()
        assert redact("echo very-secret-token-42") == "echo [REDACTED]"

    def test_empty_auth_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="bearer"):
            AuthConfig.model_validate({})


class TestRequestSignature:
    def test_hmac_over_the_default_canonical_string(self) -> None:
        auth = _auth(signature={"algorithm": "hmac-sha256", "key": "k3y-value",
                                "encoding": "hex"})
        body = b'{"a":1}'
        headers = auth.headers("post", "https://api.test/v1/sign?x=1", body, WALL, nonce="n0nce")
        canonical = "\n".join(
            ["POST", "/v1/sign?x=1", hashlib.sha256(body).hexdigest(), "1767225600", "n0nce"]
        ).encode()
        assert headers["X-Signature"] == hmac.new(b"k3y-value", canonical,
                                                  hashlib.sha256).hexdigest()
        assert headers["X-Timestamp"] == "1767225600"
        assert headers["X-Nonce"] == "n0nce"

    @pytest.mark.parametrize(
        ("key_encoding", "key", "raw"),
        [("hex", "00ff10", b"\x00\xff\x10"), ("base64", "AP8Q", b"\x00\xff\x10"),
         ("utf8", "plain", b"plain")],
    )
    def test_hmac_key_encodings(self, key_encoding: str, key: str, raw: bytes) -> None:
        auth = _auth(signature={"algorithm": "hmac-sha256", "key": key,
                                "key_encoding": key_encoding, "canonical": "{nonce}"})
        signature = auth.headers("GET", "https://x/", b"", WALL, nonce="abc")["X-Signature"]
        assert base64.b64decode(signature) == hmac.new(raw, b"abc", hashlib.sha256).digest()

    def test_ed25519_signature_verifies_with_custom_layout(self) -> None:
        key = ed25519.Ed25519PrivateKey.generate()
        auth = _auth(signature={
            "algorithm": "ed25519", "key": _pem(key), "encoding": "base64url",
            "canonical": "{timestamp}|{method}|{host}{path}|{body_sha256_b64}",
            "timestamp_format": "iso8601", "signature_header": "X-DFNS-SIGNATURE",
            "signature_prefix": "v1=", "nonce_header": None, "key_id": "key-1",
        })
        body = b"payload"
        headers = auth.headers("PUT", "https://api.test:8443/keys/1", body, WALL)
        assert headers["X-Timestamp"] == "2026-01-01T00:00:00.250Z"
        assert "X-Nonce" not in headers
        assert headers["X-Key-Id"] == "key-1"
        value = headers["X-DFNS-SIGNATURE"]
        assert value.startswith("v1=")
        signature = base64.urlsafe_b64decode(value[3:] + "==")
        digest_b64 = base64.b64encode(hashlib.sha256(body).digest()).decode()
        canonical = f"2026-01-01T00:00:00.250Z|PUT|api.test:8443/keys/1|{digest_b64}"
        key.public_key().verify(signature, canonical.encode())

    @pytest.mark.parametrize(
        ("algorithm", "curve"),
        [("ecdsa-p256-sha256", ec.SECP256R1()), ("ecdsa-secp256k1-sha256", ec.SECP256K1())],
    )
    @pytest.mark.parametrize("ecdsa_format", ["der", "rs"])
    def test_ecdsa_signature_verifies(
        self, algorithm: str, curve: ec.EllipticCurve, ecdsa_format: str
    ) -> None:
        key = ec.generate_private_key(curve)
        auth = _auth(signature={"algorithm": algorithm, "key": _pem(key), "encoding": "hex",
                                "ecdsa_format": ecdsa_format, "timestamp_format": "unix_ms"})
        headers = auth.headers("GET", "https://x/p", b"", WALL, nonce="nn")
        assert headers["X-Timestamp"] == "1767225600250"
        signature = bytes.fromhex(headers["X-Signature"])
        if ecdsa_format == "rs":
            assert len(signature) == 64
            signature = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
        canonical = f"GET\n/p\n{hashlib.sha256(b'').hexdigest()}\n1767225600250\nnn".encode()
        key.public_key().verify(signature, canonical, ec.ECDSA(hashes.SHA256()))

    def test_each_request_gets_a_fresh_nonce(self) -> None:
        auth = _auth(signature={"algorithm": "hmac-sha256", "key": "k3y-value"})
        nonces = {auth.headers("GET", "https://x/", b"", WALL)["X-Nonce"] for _ in range(20)}
        assert len(nonces) == 20

    @pytest.mark.parametrize(
        ("signature", "message"),
        [
            ({"algorithm": "hmac-sha256", "key": "k", "canonical": "{method}{oops}"},
             "unknown placeholder"),
            ({"algorithm": "hmac-sha256", "key": "k", "canonical": "{method!r}"},
             "no format spec"),
            ({"algorithm": "hmac-sha256", "key": "zz-not-hex", "key_encoding": "hex"},
             "not valid hex"),
            ({"algorithm": "ed25519", "key": "not a pem"}, "not an unencrypted PEM"),
            ({"algorithm": "ecdsa-p256-sha256", "key": "ED25519"}, "needs an EC private key"),
        ],
    )
    def test_bad_signature_config_is_refused(self, signature: dict[str, Any],
                                             message: str) -> None:
        if signature["key"] == "ED25519":
            signature = {**signature, "key": _pem(ed25519.Ed25519PrivateKey.generate())}
        with pytest.raises(ValidationError, match=message):
            AuthConfig.model_validate({"signature": signature})

    def test_private_key_never_shows_in_errors(self) -> None:
        pem = _pem(ec.generate_private_key(ec.SECP256K1()))
        with pytest.raises(ValidationError) as info:
            AuthConfig.model_validate({"signature": {"algorithm": "ecdsa-p256-sha256",
                                                     "key": pem}})
        body = pem.splitlines()[1]
        assert body not in str(info.value)


class TestHttpCheckWithAuth:
    async def test_http_check_sends_signed_request(
        self, start_server: StartServer, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        key = ed25519.Ed25519PrivateKey.generate()
        received: list[tuple[bytes, dict[str, str]]] = []

        async def handler(request: web.Request) -> web.Response:
            received.append((await request.read(), dict(request.headers)))
            return web.json_response({"ok": True})

        url = await start_server({"/api/v1/wallets": handler})
        config = HttpConfig.model_validate({
            "name": "api", "type": "http", "url": f"{url}/api/v1/wallets", "method": "POST",
            "json": {"n": 1},
            "auth": {"bearer": "tok-zzzz", "signature": {"algorithm": "ed25519",
                                                         "key": _pem(key)}},
        })
        check = HttpCheck(config, resources)
        try:
            result = await check.run(make_ctx())
        finally:
            await check.aclose()
        assert result.ok, result.detail
        body, headers = received[0]
        assert body == b'{"n":1}'
        assert headers["Content-Type"] == "application/json"
        assert headers["Authorization"] == "Bearer tok-zzzz"
        canonical = "\n".join(["POST", "/api/v1/wallets", hashlib.sha256(body).hexdigest(),
                               headers["X-Timestamp"], headers["X-Nonce"]])
        key.public_key().verify(base64.b64decode(headers["X-Signature"]), canonical.encode())
