"""The `signing` check against real aiohttp signing endpoints on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from checks.base import Resources
from checks.registry import validate_config
from checks.signatures import public_key_pem
from checks.signing import SigningCheck, SigningConfig
from probe.demo_signer import make_signing_handler, signing_check_config
from probe.demo_signer import public_key_pem as demo_public_key_pem
from tests.checks.conftest import MakeCtx, StartServer
from tests.checks.test_signatures import der_to_rs, make_key, sign
from tests.realtools import free_port


async def run_once(config: dict[str, Any], resources: Resources, make_ctx: MakeCtx) -> Any:
    check = SigningCheck(SigningConfig.model_validate(config), resources)
    try:
        return await check.run(make_ctx())
    finally:
        await check.aclose()


class TestSigningCheckAgainstDemoSigner:
    @pytest.fixture
    def key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.generate()

    async def test_valid_signature_is_ok_with_evidence(
        self, key: Ed25519PrivateKey, start_server: StartServer, resources: Resources,
        make_ctx: MakeCtx,
    ) -> None:
        url = await start_server({"/sign": make_signing_handler(key, bad_every=0)})
        config = signing_check_config("s", f"{url}/sign", demo_public_key_pem(key))
        result = await run_once(config, resources, make_ctx)
        assert result.ok, result.detail
        assert len(bytes.fromhex(result.evidence["challenge"])) == 32
        assert len(bytes.fromhex(result.evidence["signature"])) == 64
        assert len(result.evidence["body_sha256"]) == 64
        assert result.latency is not None

    async def test_bad_signature_every_second_answer(
        self, key: Ed25519PrivateKey, start_server: StartServer, resources: Resources,
        make_ctx: MakeCtx,
    ) -> None:
        url = await start_server({"/sign": make_signing_handler(key, bad_every=2)})
        check = SigningCheck(
            SigningConfig.model_validate(
                signing_check_config("s", f"{url}/sign", demo_public_key_pem(key))
            ),
            resources,
        )
        try:
            outcomes = [await check.run(make_ctx()) for _ in range(4)]
        finally:
            await check.aclose()
        assert [r.ok for r in outcomes] == [True, False, True, False]
        assert {r.failure_class for r in outcomes if not r.ok} == {"bad_signature"}

    async def test_a_different_key_is_bad_signature(
        self, key: Ed25519PrivateKey, start_server: StartServer, resources: Resources,
        make_ctx: MakeCtx,
    ) -> None:
        url = await start_server({"/sign": make_signing_handler(key, bad_every=0)})
        other = demo_public_key_pem(Ed25519PrivateKey.generate())
        result = await run_once(signing_check_config("s", f"{url}/sign", other), resources,
                                make_ctx)
        assert result.failure_class == "bad_signature"


class TestChallengeFreshness:
    async def test_every_attempt_sends_a_new_challenge(
        self, start_server: StartServer, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        key = Ed25519PrivateKey.generate()
        seen: list[str] = []
        inner = make_signing_handler(key, bad_every=0)

        async def recording(request: web.Request) -> web.Response:
            seen.append((await request.json())["challenge"])
            return await inner(request)

        url = await start_server({"/sign": recording})
        check = SigningCheck(SigningConfig.model_validate(
            signing_check_config("s", f"{url}/sign", demo_public_key_pem(key))), resources)
        try:
            results = [await check.run(make_ctx()) for _ in range(5)]
        finally:
            await check.aclose()
        assert all(r.ok for r in results)
        assert len(set(seen)) == 5

    async def test_replayed_answer_fails(
        self, start_server: StartServer, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        """A cache (or a broken signer) that repeats its first answer must not look healthy."""
        key = Ed25519PrivateKey.generate()
        cached: list[web.Response] = []
        inner = make_signing_handler(key, bad_every=0)

        async def replaying(request: web.Request) -> web.Response:
            if not cached:
                first = await inner(request)
                assert first.body is not None
                cached.append(first)
            body = cached[0].body
            assert isinstance(body, bytes)
            return web.Response(body=body, content_type="application/json")

        url = await start_server({"/sign": replaying})
        check = SigningCheck(SigningConfig.model_validate(
            signing_check_config("s", f"{url}/sign", demo_public_key_pem(key))), resources)
        try:
            first, second = [await check.run(make_ctx()) for _ in range(2)]
        finally:
            await check.aclose()
        assert first.ok
        assert second.failure_class == "bad_signature"


def _signing_server(
    key: Any, algorithm: str, *, encoding: str, sig_format: str = "der", digest: bool = False
) -> Any:
    async def handler(request: web.Request) -> web.Response:
        challenge = bytes.fromhex(request.query["c"])
        signature = sign(key, algorithm, challenge, prehashed=digest)
        if sig_format == "rs":
            signature = der_to_rs(signature)
        text = signature.hex() if encoding == "hex" else base64.b64encode(signature).decode()
        return web.json_response({"result": {"sig": text}})

    return handler


class TestSigningCheckAlgorithms:
    @pytest.mark.parametrize(
        ("algorithm", "encoding", "sig_format", "message"),
        [
            ("ed25519", "hex", "der", "challenge"),
            ("ecdsa-p256-sha256", "base64", "der", "challenge"),
            ("ecdsa-p256-sha256", "hex", "rs", "challenge"),
            ("ecdsa-p256-sha256", "hex", "rs", "digest"),
            ("ecdsa-secp256k1-sha256", "hex", "rs", "challenge"),
            ("ecdsa-secp256k1-sha256", "base64", "der", "digest"),
            ("rsa-pss-sha256", "base64", "der", "challenge"),
            ("rsa-pkcs1v15-sha256", "hex", "der", "challenge"),
        ],
    )
    async def test_endpoint_signature_verifies(
        self, algorithm: str, encoding: str, sig_format: str, message: str,
        start_server: StartServer, resources: Resources, make_ctx: MakeCtx,
    ) -> None:
        key = make_key(algorithm)
        handler = _signing_server(
            key, algorithm, encoding=encoding, sig_format=sig_format, digest=message == "digest"
        )
        url = await start_server({"/sign": handler})
        config = {
            "name": "s", "type": "signing", "method": "GET",
            "url": f"{url}/sign?c={{challenge_hex}}",
            "algorithm": algorithm, "public_key": public_key_pem(key.public_key()),
            "signature_path": "$.result.sig", "signature_encoding": encoding,
            "signature_format": sig_format, "message": message,
        }
        result = await run_once(config, resources, make_ctx)
        assert result.ok, result.detail

    async def test_wrong_signature_format_is_bad_signature(
        self, start_server: StartServer, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        key = make_key("ecdsa-p256-sha256")
        url = await start_server(
            {"/sign": _signing_server(key, "ecdsa-p256-sha256", encoding="hex", sig_format="rs")}
        )
        config = {
            "name": "s", "type": "signing", "method": "GET",
            "url": f"{url}/sign?c={{challenge_hex}}", "algorithm": "ecdsa-p256-sha256",
            "public_key": public_key_pem(key.public_key()), "signature_path": "$.result.sig",
            "signature_encoding": "hex", "signature_format": "der",
        }
        result = await run_once(config, resources, make_ctx)
        assert result.failure_class == "bad_signature"


class TestSigningCheckBrokenAnswers:
    @pytest.mark.parametrize(
        ("status", "body", "expected_class"),
        [
            (503, b'{"error": "hsm unavailable"}', "http_status"),
            (200, b"<html>maintenance</html>", "protocol"),
            (200, b'{"sig": "abc"}', "protocol"),
            (200, b'{"signature": 42}', "protocol"),
            (200, b'{"signature": "%%% not base64"}', "bad_signature"),
            (200, b'{"signature": ""}', "bad_signature"),
        ],
    )
    async def test_answer_is_classified(
        self, status: int, body: bytes, expected_class: str, start_server: StartServer,
        resources: Resources, make_ctx: MakeCtx,
    ) -> None:
        async def handler(_request: web.Request) -> web.Response:
            return web.Response(status=status, body=body, content_type="application/json")

        url = await start_server({"/sign": handler})
        key = Ed25519PrivateKey.generate()
        result = await run_once(
            signing_check_config("s", f"{url}/sign", demo_public_key_pem(key)), resources,
            make_ctx,
        )
        assert result.failure_class == expected_class
        assert result.evidence["body_sha256"] == hashlib.sha256(body).hexdigest()

    async def test_connection_refused_is_connect(
        self, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        key = Ed25519PrivateKey.generate()
        config = signing_check_config(
            "s", f"http://127.0.0.1:{free_port()}/sign", demo_public_key_pem(key)
        )
        result = await run_once(config, resources, make_ctx)
        assert result.failure_class == "connect"


class TestSigningCheckWithAuth:
    async def test_bearer_and_hmac_signature_reach_the_endpoint(
        self, start_server: StartServer, resources: Resources, make_ctx: MakeCtx,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
    ) -> None:
        key = Ed25519PrivateKey.generate()
        inner = make_signing_handler(key, bad_every=0)
        secret = b"hmac-secret-for-the-test"

        async def guarded(request: web.Request) -> web.Response:
            body = await request.read()
            canonical = "\n".join([
                request.method, request.path_qs, hashlib.sha256(body).hexdigest(),
                request.headers["X-Timestamp"], request.headers["X-Nonce"],
            ]).encode()
            expected = base64.b64encode(hmac.new(secret, canonical, hashlib.sha256).digest())
            if request.headers.get("Authorization") != "Bearer tok-123456":
                return web.json_response({"error": "unauthenticated"}, status=401)
            if not hmac.compare_digest(request.headers["X-Signature"].encode(), expected):
                return web.json_response({"error": "bad request signature"}, status=401)
            return await inner(request)

        url = await start_server({"/sign": guarded})
        token_file = tmp_path / "token"
        token_file.write_text("tok-123456\n")
        config = signing_check_config("s", f"{url}/sign", demo_public_key_pem(key))
        config["auth"] = {
            "bearer_file": str(token_file),
            "signature": {"algorithm": "hmac-sha256", "key": secret.decode()},
        }
        result = await run_once(config, resources, make_ctx)
        assert result.ok, result.detail
        config["auth"]["signature"]["key"] = "another-secret"
        result = await run_once(config, resources, make_ctx)
        assert result.failure_class == "http_status"


class TestSigningConfig:
    def _base(self, **changes: Any) -> dict[str, Any]:
        key = Ed25519PrivateKey.generate()
        config = signing_check_config("s", "https://vendor.test/sign", demo_public_key_pem(key))
        config.update(changes)
        return config

    def test_registered_under_signing(self) -> None:
        assert isinstance(validate_config(self._base()), SigningConfig)

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"json": {"challenge": "fixed"}}, "never carries the challenge"),
            ({"json": {"c": "{challenge_hexx}"}}, "unknown placeholder"),
            ({"body": "x", "json": {"c": "{challenge_hex}"}}, "either body or json"),
            ({"algorithm": "ecdsa-p256-sha256"}, "does not fit"),
            ({"message": "digest"}, "Ed25519 signs messages"),
            ({"signature_path": "signature"}, "must start with"),
            ({"challenge_bytes": 8}, "greater than or equal"),
        ],
    )
    def test_bad_config_is_refused(self, changes: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            SigningConfig.model_validate(self._base(**changes))

    def test_challenge_in_body_text_is_accepted(self) -> None:
        config = SigningConfig.model_validate(
            self._base(json=None, body="msg={challenge_b64url}", content_type="text/plain")
        )
        assert config.body == "msg={challenge_b64url}"

    def test_public_key_file_is_read(self, tmp_path: Any) -> None:
        key = Ed25519PrivateKey.generate()
        path = tmp_path / "key.pem"
        path.write_text(demo_public_key_pem(key))
        config = self._base()
        del config["public_key"]
        config["public_key_file"] = str(path)
        assert SigningConfig.model_validate(config).public_key == demo_public_key_pem(key).strip()


class TestDemoSigner:
    @pytest.mark.parametrize(
        "payload", [b"not json", b'{"nothing": 1}', b'{"challenge": "zz"}', b'{"challenge": 5}']
    )
    async def test_malformed_request_is_400(
        self, payload: bytes, start_server: StartServer
    ) -> None:
        url = await start_server(
            {"/sign": make_signing_handler(Ed25519PrivateKey.generate(), bad_every=0)}
        )
        async with aiohttp.ClientSession() as session, session.post(
            f"{url}/sign", data=payload
        ) as response:
            assert response.status == 400

    def test_negative_bad_every_is_refused(self) -> None:
        with pytest.raises(ValueError, match="bad_every"):
            make_signing_handler(Ed25519PrivateKey.generate(), bad_every=-1)

    def test_public_key_pem_is_the_keys_public_half(self) -> None:
        key = Ed25519PrivateKey.generate()
        assert demo_public_key_pem(key) == public_key_pem(key.public_key())
