"""Signing config traps (issue 13, items 15 and 16), against a real signer on loopback.

A challenge only in the URL fragment is never sent (refused at load); `low_s: true` refuses
the high-S twin of a valid secp256k1 signature that plain ECDSA accepts.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from pydantic import ValidationError

from checks.base import Resources
from checks.signing import SigningCheck, SigningConfig
from tests.checks.conftest import MakeCtx, StartServer

KEY = ec.generate_private_key(ec.SECP256K1())
PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1 order


def config(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "s", "type": "signing", "url": url, "algorithm": "ecdsa-secp256k1-sha256",
            "public_key": PEM, "json": {"m": "{challenge_hex}"}, **extra}


def test_a_placeholder_only_in_the_fragment_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        SigningConfig.model_validate(
            {**config("http://127.0.0.1:9/sign#{challenge_hex}"), "json": None})
    assert "#fragment is never sent" in str(info.value)


def test_a_placeholder_in_the_fragment_is_refused_even_beside_a_good_one() -> None:
    with pytest.raises(ValidationError):
        SigningConfig.model_validate(config("http://127.0.0.1:9/sign#{challenge_b64}"))


def test_low_s_needs_ecdsa() -> None:
    with pytest.raises(ValidationError, match="low_s applies to ECDSA"):
        SigningConfig.model_validate(
            {**config("http://127.0.0.1:9/sign"), "algorithm": "ed25519", "low_s": True})


def signer(high_s: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def sign(request: web.Request) -> web.Response:
        message = bytes.fromhex((await request.json())["m"])
        r, s = decode_dss_signature(KEY.sign(message, ec.ECDSA(hashes.SHA256())))
        low = min(s, N - s)
        der = encode_dss_signature(r, N - low if high_s else low)
        return web.json_response({"signature": base64.b64encode(der).decode()})
    return sign


@pytest.mark.parametrize(("low_s", "high_s", "ok"), [
    (False, False, True), (False, True, True),  # the default: ECDSA as specified
    (True, False, True), (True, True, False),
])
async def test_low_s_refuses_only_the_high_s_twin(
    start_server: StartServer, resources: Resources, make_ctx: MakeCtx,
    low_s: bool, high_s: bool, ok: bool,
) -> None:
    base = await start_server({"/sign": signer(high_s)})
    check = SigningCheck(SigningConfig.model_validate(
        config(f"{base}/sign", **({"low_s": True} if low_s else {}))), resources)
    try:
        results = [await check.run(make_ctx()) for _ in range(3)]
    finally:
        await check.aclose()
    assert [r.ok for r in results] == [ok] * 3, [r.detail for r in results]
    if not ok:
        assert all(r.failure_class == "bad_signature" for r in results)
        assert "high-S" in results[0].detail
