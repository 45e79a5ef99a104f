"""A simulated vendor signing endpoint for the demo (and tests): Ed25519 over the challenge.

    key = Ed25519PrivateKey.generate()
    app.router.add_post("/v1/sign", make_signing_handler(key, bad_every=7))
    checks: [signing_check_config("vendor-sign", url, public_key_pem(key))]

The handler takes `{"challenge": "<hex>"}` and answers `{"signature": "<base64>", "key_id":
...}`. Every `bad_every`-th request (0 = never) is answered with a signature that does not
verify, as a broken HSM cluster node would, so the `signing` check reports `bad_signature`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MAX_CHALLENGE_HEX = 2048

Handler = Callable[[web.Request], Awaitable[web.Response]]


def public_key_pem(private_key: Ed25519PrivateKey) -> str:
    """The SubjectPublicKeyInfo PEM of `private_key`'s public half (what a check config holds)."""
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_id(private_key: Ed25519PrivateKey) -> str:
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return hashlib.sha256(raw).hexdigest()[:16]


async def _read_challenge(request: web.Request) -> bytes | None:
    try:
        document: Any = await request.json()
        challenge_hex = document["challenge"]
        if isinstance(challenge_hex, str) and len(challenge_hex) <= MAX_CHALLENGE_HEX:
            return bytes.fromhex(challenge_hex)
    except (ValueError, KeyError, TypeError):
        pass
    return None


def make_signing_handler(private_key: Ed25519PrivateKey, bad_every: int) -> Handler:
    """An aiohttp handler that signs the posted challenge; every `bad_every`-th answer is bad."""
    if bad_every < 0:
        raise ValueError("bad_every must be 0 (never) or positive")
    counter = itertools.count(1)
    kid = key_id(private_key)

    async def sign(request: web.Request) -> web.Response:
        challenge = await _read_challenge(request)
        if challenge is None:
            return web.json_response({"error": 'expected {"challenge": "<hex>"}'}, status=400)
        number = next(counter)
        message = challenge
        if bad_every and number % bad_every == 0:
            message = b"not the challenge" + challenge  # a valid-looking signature, wrong message
        signature = private_key.sign(message)
        return web.json_response(
            {"signature": base64.b64encode(signature).decode(), "key_id": kid}
        )

    return sign


def signing_check_config(name: str, url: str, public_key: str) -> dict[str, Any]:
    """A `signing` check config (as loaded from YAML) for a handler mounted at `url`."""
    return {
        "name": name,
        "type": "signing",
        "url": url,
        "method": "POST",
        "json": {"challenge": "{challenge_hex}"},
        "algorithm": "ed25519",
        "public_key": public_key,
        "signature_path": "$.signature",
        "signature_encoding": "base64",
    }
