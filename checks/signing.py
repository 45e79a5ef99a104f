"""`signing`: ask a signing endpoint to sign a fresh random challenge and verify it locally.

An HTTP 200 proves nothing about signing. Each attempt draws a new random challenge (so no
answer can be replayed from a cache or an earlier attempt), sends it with a configurable
request template, extracts the signature from the answer and verifies it against the public
key in the config. A signature that does not verify is class `bad_signature`.

Templates may use `{challenge_hex}`, `{challenge_0x}`, `{challenge_b64}` and
`{challenge_b64url}` in the URL, the body text, or any string of a JSON body.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from checks import base
from checks.base import AttemptContext, CheckFailure, CheckType, Resources, Result
from checks.jsonpath import MISSING, compile_path, lookup
from checks.signatures import (
    Algorithm,
    PublicKey,
    SignatureEncoding,
    SignatureError,
    SignatureFormat,
    decode_signature,
    load_public_key,
    verify,
)
from checks.transport.http import HttpClient, RequestConfig, encode_json, with_content_type
from probe.secrets import redact

CHALLENGE_PLACEHOLDERS = frozenset(
    {"challenge_hex", "challenge_0x", "challenge_b64", "challenge_b64url"}
)
_PLACEHOLDER = re.compile(r"\{(challenge_[A-Za-z0-9_]*)\}")
MAX_EVIDENCE_HEX = 2048


def _placeholders(text: str) -> set[str]:
    names = set(_PLACEHOLDER.findall(text))
    unknown = names - CHALLENGE_PLACEHOLDERS
    if unknown:
        raise ValueError(
            f"unknown placeholder {{{sorted(unknown)[0]}}} "
            f"(allowed: {', '.join(sorted(CHALLENGE_PLACEHOLDERS))})"
        )
    return names


def _template_strings(document: Any) -> list[str]:
    if isinstance(document, str):
        return [document]
    if isinstance(document, dict):
        return [s for key, v in document.items() for s in (key, *_template_strings(v))]
    if isinstance(document, list):
        return [s for item in document for s in _template_strings(item)]
    return []


def fill(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def fill_json(document: Any, values: dict[str, str]) -> Any:
    if isinstance(document, str):
        return fill(document, values)
    if isinstance(document, dict):
        return {fill(k, values): fill_json(v, values) for k, v in document.items()}
    if isinstance(document, list):
        return [fill_json(item, values) for item in document]
    return document


def challenge_values(challenge: bytes) -> dict[str, str]:
    return {
        "challenge_hex": challenge.hex(),
        "challenge_0x": "0x" + challenge.hex(),
        "challenge_b64": base64.b64encode(challenge).decode(),
        "challenge_b64url": base64.urlsafe_b64encode(challenge).rstrip(b"=").decode(),
    }


class SigningConfig(RequestConfig):
    type: Literal["signing"] = "signing"
    method: str = "POST"
    content_type: str | None = None
    challenge_bytes: int = Field(default=32, ge=16, le=1024)
    message: Literal["challenge", "digest", "hex_text"] = "challenge"
    algorithm: Algorithm
    public_key: str | dict[str, Any]
    signature_path: str | None = "$.signature"
    signature_encoding: SignatureEncoding = "base64"
    signature_format: SignatureFormat = "der"
    expect_status: list[int] = Field(default_factory=lambda: [200])
    max_body: int = Field(default=1 << 16, ge=0)
    # ECDSA accepts (r, s) and (r, n - s) alike; Bitcoin and Ethereum only low S.
    low_s: bool = False

    @field_validator("signature_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None:
            compile_path(value)
        return value

    @model_validator(mode="after")
    def _coherent(self) -> SigningConfig:
        address, _hash, fragment = self.url.partition("#")
        if _placeholders(fragment):
            raise ValueError(
                "url: a placeholder in the #fragment is never sent to the server, so every "
                "attempt would fail bad_signature: put it in the path, the query or the body"
            )
        if self.low_s and not self.algorithm.startswith("ecdsa-"):
            raise ValueError(f"low_s applies to ECDSA signatures, not {self.algorithm}")
        used = _placeholders(address)
        if self.body is not None:
            used |= _placeholders(self.body)
        for text in _template_strings(self.json_body):
            used |= _placeholders(text)
        if not used:
            raise ValueError(
                "the request never carries the challenge: put {challenge_hex} (or "
                "{challenge_0x}, {challenge_b64}, {challenge_b64url}) in url, body or json"
            )
        if self.message == "digest" and self.challenge_bytes != 32:
            raise ValueError("message: digest needs challenge_bytes: 32 (a SHA-256 digest)")
        if self.message == "digest" and self.algorithm == "ed25519":
            raise ValueError("Ed25519 signs messages, not digests: use message: challenge")
        load_public_key(self.public_key, self.algorithm)
        return self


class SigningCheck:
    def __init__(self, config: SigningConfig, resources: Resources) -> None:
        self.config = config
        self.key: PublicKey = load_public_key(config.public_key, config.algorithm)
        self._client = HttpClient(
            clock=resources.clock,
            https=config.url.startswith("https"),
            tls=config.tls,
            fresh_connection=config.fresh_connection,
            http_client=config.http_client,
            auth=config.auth,
            user_agent=resources.user_agent,
        )
        self._path = compile_path(config.signature_path) if config.signature_path else None

    def new_challenge(self) -> bytes:
        return secrets.token_bytes(self.config.challenge_bytes)

    def _request(self, challenge: bytes) -> tuple[str, dict[str, str], bytes | None]:
        cfg = self.config
        values = challenge_values(challenge)
        headers = dict(cfg.headers)
        for key, value in cfg.secret_headers.items():
            headers[key] = value.get_secret_value()
        body: bytes | None = None
        if cfg.body is not None:
            body = fill(cfg.body, values).encode()
        elif cfg.json_body is not None:
            body = encode_json(fill_json(cfg.json_body, values))
            headers = with_content_type(headers, "application/json")
        if cfg.content_type is not None:
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            headers["Content-Type"] = cfg.content_type
        return fill(cfg.url, values), headers, body

    def extract_signature(self, body: bytes) -> bytes:
        """The decoded signature from the answer; `CheckFailure` when it is absent."""
        cfg = self.config
        raw: str | bytes
        if self._path is None:
            raw = body
        else:
            try:
                document = json.loads(body)
            except ValueError:
                raise CheckFailure(base.PROTOCOL, "answer is not valid JSON") from None
            value = lookup(document, self._path)
            if value is MISSING or not isinstance(value, str):
                raise CheckFailure(
                    base.PROTOCOL, f"answer has no signature string at {cfg.signature_path}"
                )
            raw = value
        try:
            return decode_signature(raw, cfg.signature_encoding)
        except SignatureError as exc:
            raise CheckFailure(base.BAD_SIGNATURE, str(exc)) from None

    def signed_message(self, challenge: bytes) -> bytes:
        if self.config.message == "hex_text":
            return challenge.hex().encode()
        return challenge

    async def run(self, ctx: AttemptContext) -> Result:
        cfg = self.config
        challenge = self.new_challenge()
        url, headers, body = self._request(challenge)
        ctx.evidence["challenge"] = challenge.hex()  # kept if the attempt times out
        try:
            answer = await self._client.exchange(
                cfg.method, url, headers=headers, body=body, max_body=cfg.max_body,
                progress=ctx.evidence,
            )
        except CheckFailure as exc:
            return Result(False, exc.failure_class, exc.detail, None, exc.evidence)
        evidence = {**answer.evidence, "challenge": challenge.hex()}
        if answer.status not in cfg.expect_status:
            return Result(
                False, base.HTTP_STATUS, f"HTTP {answer.status}", answer.latency, evidence
            )
        try:
            signature = self.extract_signature(answer.body)
            evidence["signature"] = signature.hex()[:MAX_EVIDENCE_HEX]
            verify(
                self.key,
                cfg.algorithm,
                self.signed_message(challenge),
                signature,
                sig_format=cfg.signature_format,
                prehashed=cfg.message == "digest",
                low_s=cfg.low_s,
            )
        except CheckFailure as exc:
            return Result(
                False, exc.failure_class, redact(exc.detail), answer.latency, evidence
            )
        except SignatureError as exc:
            return Result(False, base.BAD_SIGNATURE, str(exc), answer.latency, evidence)
        return Result(
            True, None, f"signature verified ({cfg.algorithm})", answer.latency, evidence
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def build_signing(config: SigningConfig, resources: Resources) -> SigningCheck:
    return SigningCheck(config, resources)


CHECK_TYPES = (CheckType("signing", SigningConfig, build_signing),)
