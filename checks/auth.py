"""`auth:` for HTTP-based checks: a bearer token and/or a signature over each request.

Custody APIs (Dfns and similar) authenticate a request twice: a bearer token, and a signature
by an API key over a canonical string of the request (method, path, a hash of the body, a
timestamp and a nonce). The canonical string is a template, so one implementation fits the
different layouts vendors use:

    auth:
      bearer_file: /run/secrets/vendor-token
      signature:
        algorithm: ed25519
        key_file: /run/secrets/vendor-api-key.pem
        canonical: "{method}\\n{path}\\n{body_sha256}\\n{timestamp}\\n{nonce}"
        signature_header: X-Signature

Every attempt uses a fresh nonce and the current wall-clock time, so no signed request can be
replayed. Keys are `Secret`s: masked in dumps and redacted from every detail.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import secrets
import string
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from pydantic import ConfigDict, field_validator, model_validator

from probe.fields import StrictModel
from probe.secrets import Secret, resolve_file_keys

PLACEHOLDERS = frozenset(
    {"method", "path", "host", "body", "body_sha256", "body_sha256_b64", "timestamp", "nonce"}
)
DEFAULT_CANONICAL = "{method}\n{path}\n{body_sha256}\n{timestamp}\n{nonce}"

SignAlgorithm = Literal["hmac-sha256", "ed25519", "ecdsa-p256-sha256", "ecdsa-secp256k1-sha256"]
_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ecdsa-p256-sha256": ec.SECP256R1,
    "ecdsa-secp256k1-sha256": ec.SECP256K1,
}


class _FileKeyModel(StrictModel):
    """A strict nested model where `x_file: PATH` reads secret `x` from a file."""

    model_config = ConfigDict(hide_input_in_errors=True)

    @model_validator(mode="before")
    @classmethod
    def _file_keys(cls, data: Any) -> Any:
        return resolve_file_keys(data, set(cls.model_fields))


def template_fields(template: str, allowed: frozenset[str]) -> set[str]:
    """The placeholder names of a `{name}` template; ValueError for unknown or formatted ones."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"bad template: {exc}") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed:
            raise ValueError(
                f"unknown placeholder {{{name}}} (allowed: {', '.join(sorted(allowed))})"
            )
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} takes no format spec or conversion")
        names.add(name)
    return names


class SignatureAuth(_FileKeyModel):
    algorithm: SignAlgorithm
    key: Secret
    key_encoding: Literal["utf8", "hex", "base64"] = "utf8"
    canonical: str = DEFAULT_CANONICAL
    signature_header: str = "X-Signature"
    signature_prefix: str = ""
    encoding: Literal["hex", "base64", "base64url"] = "base64"
    ecdsa_format: Literal["der", "rs"] = "der"
    timestamp_header: str | None = "X-Timestamp"
    timestamp_format: Literal["unix", "unix_ms", "iso8601"] = "unix"
    nonce_header: str | None = "X-Nonce"
    key_id: str | None = None
    key_id_header: str = "X-Key-Id"

    @field_validator("canonical")
    @classmethod
    def _canonical(cls, value: str) -> str:
        template_fields(value, PLACEHOLDERS)
        return value

    @model_validator(mode="after")
    def _key_loads(self) -> SignatureAuth:
        _load_signing_key(self)
        return self


class AuthConfig(_FileKeyModel):
    bearer: Secret | None = None
    bearer_header: str = "Authorization"
    bearer_scheme: str = "Bearer"
    signature: SignatureAuth | None = None

    @model_validator(mode="after")
    def _something(self) -> AuthConfig:
        if self.bearer is None and self.signature is None:
            raise ValueError("auth needs bearer (or bearer_file) and/or signature")
        return self


SigningKey = bytes | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def _load_signing_key(cfg: SignatureAuth) -> SigningKey:
    raw = cfg.key.get_secret_value()
    if cfg.algorithm == "hmac-sha256":
        try:
            if cfg.key_encoding == "hex":
                return bytes.fromhex(raw.strip())
            if cfg.key_encoding == "base64":
                return base64.b64decode(raw.strip(), validate=True)
        except ValueError:
            raise ValueError(f"HMAC key is not valid {cfg.key_encoding}") from None
        return raw.encode()
    try:
        key = serialization.load_pem_private_key(raw.encode(), password=None)
    except (ValueError, TypeError):
        # The message of the library may quote key material; never pass it on.
        raise ValueError("signature key is not an unencrypted PEM private key") from None
    if cfg.algorithm == "ed25519":
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError("algorithm ed25519 needs an Ed25519 private key")
        return key
    curve = _CURVES[cfg.algorithm]
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, curve):
        msg = f"algorithm {cfg.algorithm} needs an EC private key on {curve.name}"
        raise ValueError(msg)
    return key


def _encode(data: bytes, encoding: str) -> str:
    if encoding == "hex":
        return data.hex()
    if encoding == "base64url":
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    return base64.b64encode(data).decode()


class RequestAuth:
    """Adds the bearer token and request signature headers to one outgoing request."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._key = _load_signing_key(config.signature) if config.signature else None

    def canonical_fields(
        self, method: str, url: str, body: bytes, wall: float, nonce: str
    ) -> dict[str, str]:
        sig = self.config.signature
        assert sig is not None
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        digest = hashlib.sha256(body).digest()
        if sig.timestamp_format == "unix_ms":
            timestamp = str(int(wall * 1000))
        elif sig.timestamp_format == "iso8601":
            moment = datetime.datetime.fromtimestamp(wall, tz=datetime.UTC)
            timestamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        else:
            timestamp = str(int(wall))
        return {
            "method": method.upper(),
            "path": path,
            "host": parts.netloc,
            "body": body.decode("utf-8", errors="replace"),
            "body_sha256": digest.hex(),
            "body_sha256_b64": base64.b64encode(digest).decode(),
            "timestamp": timestamp,
            "nonce": nonce,
        }

    def sign_bytes(self, message: bytes) -> bytes:
        sig = self.config.signature
        key = self._key
        assert sig is not None
        assert key is not None
        if isinstance(key, bytes):
            return hmac.new(key, message, hashlib.sha256).digest()
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(message)
        der = key.sign(message, ec.ECDSA(hashes.SHA256()))
        if sig.ecdsa_format == "der":
            return der
        r, s = decode_dss_signature(der)
        width = (key.curve.key_size + 7) // 8
        return r.to_bytes(width, "big") + s.to_bytes(width, "big")

    def headers(
        self,
        method: str,
        url: str,
        body: bytes,
        wall: float,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """The headers to add; `wall` is the current UTC epoch time from the injected clock."""
        out: dict[str, str] = {}
        cfg = self.config
        if cfg.bearer is not None:
            token = cfg.bearer.get_secret_value()
            out[cfg.bearer_header] = f"{cfg.bearer_scheme} {token}" if cfg.bearer_scheme else token
        sig = cfg.signature
        if sig is None:
            return out
        fields = self.canonical_fields(method, url, body, wall, nonce or secrets.token_hex(16))
        canonical = sig.canonical.format_map(fields).encode()
        out[sig.signature_header] = sig.signature_prefix + _encode(
            self.sign_bytes(canonical), sig.encoding
        )
        if sig.timestamp_header:
            out[sig.timestamp_header] = fields["timestamp"]
        if sig.nonce_header:
            out[sig.nonce_header] = fields["nonce"]
        if sig.key_id is not None:
            out[sig.key_id_header] = sig.key_id
        return out


def merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """`base` overridden by `extra`, header names compared case-insensitively."""
    out = {k: v for k, v in base.items() if k.lower() not in {e.lower() for e in extra}}
    out.update(extra)
    return out
