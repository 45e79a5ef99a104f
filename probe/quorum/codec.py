"""The wire: Ed25519 keys, signed JSON envelopes, topics, contract fingerprints.

A message is `{"payload": "<canonical JSON text>", "signature": "<base64>"}`; the signature
covers the UTF-8 bytes of the payload text exactly as sent, so no re-serialisation can change
what was signed. The payload names its vantage, and the topic must name the same one: a client
that can publish on another vantage's topic still cannot sign for it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from probe.model import Reason, Verdict, WindowVerdict

if TYPE_CHECKING:
    from probe.contracts.model import ContractConfig

PREFIX = "sla-probe/v1"
VERDICTS = f"{PREFIX}/verdicts"
SYNC = f"{PREFIX}/sync"
VERSION = 1
MAX_MESSAGE = 64 * 1024


class KeyFormatError(ValueError):
    """A key that cannot be loaded; the message never contains key material."""


class RejectedError(Exception):
    """A received message that is not accepted; `reason` is the metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def load_private_key(text: str) -> Ed25519PrivateKey:
    """PEM (PKCS#8, as `openssl genpkey -algorithm ed25519` writes) or base64 of the seed."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"not a readable PEM private key ({type(exc).__name__})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFormatError("not an Ed25519 private key")
        return key
    raw = _b64(text, "private key")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public_key(text: str) -> Ed25519PublicKey:
    """PEM (SubjectPublicKeyInfo, `openssl pkey -pubout`) or base64 of the raw 32 bytes."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"not a readable PEM public key ({type(exc).__name__})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFormatError("not an Ed25519 public key")
        return key
    return Ed25519PublicKey.from_public_bytes(_b64(text, "public key"))


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"{what} must be PEM or base64 of 32 raw bytes") from None
    if len(raw) != 32:
        raise KeyFormatError(f"{what} must be PEM or base64 of 32 raw bytes, got {len(raw)} bytes")
    return raw


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_raw(key: Ed25519PrivateKey) -> bytes:
    return raw_public(key.public_key())


def public_text(key: Ed25519PrivateKey) -> str:
    """The base64 form of a private key's public half, as `peers:` takes it."""
    return base64.b64encode(public_raw(key)).decode()


def fingerprint(contract: ContractConfig) -> str:
    """sha256 of the contract's canonical JSON: votes are only comparable under one contract."""
    data = contract.model_dump(mode="json")
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def verdict_topic(contract: str, service: str, vantage: str) -> str:
    return f"{VERDICTS}/{contract}/{service}/{vantage}"


def sync_topic(vantage: str) -> str:
    return f"{SYNC}/{vantage}"


@dataclasses.dataclass(frozen=True, slots=True)
class Vote:
    """One vantage's verdict for one service of one contract in one window."""

    contract: str
    service: str
    vantage: str
    window_start: int
    window_seconds: int
    verdict: Verdict
    reason: Reason
    attempts: int
    failures: int
    failure_classes: tuple[str, ...]
    revision: int
    decided_at: float
    fingerprint: str

    @classmethod
    def of(cls, v: WindowVerdict, vantage: str, fingerprint: str) -> Vote:
        return cls(v.contract, v.service, vantage, v.window_start, v.window_seconds, v.verdict,
                   v.reason, v.attempts, v.failures, tuple(v.failure_classes), v.revision,
                   v.decided_at, fingerprint)

    @property
    def topic(self) -> str:
        return verdict_topic(self.contract, self.service, self.vantage)

    def payload(self) -> dict[str, Any]:
        return {
            "v": VERSION, "kind": "verdict", "contract": self.contract,
            "service": self.service, "vantage": self.vantage,
            "window_start": self.window_start, "window_seconds": self.window_seconds,
            "verdict": self.verdict.value, "reason": self.reason.value,
            "attempts": self.attempts, "failures": self.failures,
            "failure_classes": list(self.failure_classes), "revision": self.revision,
            "decided_at": self.decided_at, "config_sha256": self.fingerprint,
        }

    def same_vote(self, other: Vote) -> bool:
        return (self.verdict, self.reason, self.attempts, self.failures,
                self.failure_classes) == (other.verdict, other.reason, other.attempts,
                                          other.failures, other.failure_classes)


@dataclasses.dataclass(frozen=True, slots=True)
class SyncRequest:
    """A vantage that (re)connected asks its peers to resend verdicts from `since` on."""

    vantage: str
    since: int
    sent_at: float

    @property
    def topic(self) -> str:
        return sync_topic(self.vantage)

    def payload(self) -> dict[str, Any]:
        return {"v": VERSION, "kind": "sync", "vantage": self.vantage, "since": self.since,
                "sent_at": self.sent_at}


def encode(payload: Mapping[str, Any], key: Ed25519PrivateKey) -> bytes:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    signature = base64.b64encode(key.sign(text.encode())).decode()
    return json.dumps({"payload": text, "signature": signature},
                      separators=(",", ":")).encode()


def decode(topic: str, data: bytes, keys: Mapping[str, Ed25519PublicKey]) -> Vote | SyncRequest:
    """Verify and parse one message; `RejectedError(reason, detail)` for anything not acceptable.

    Reasons: `malformed`, `unknown_vantage`, `bad_signature`, `topic_mismatch`.
    """
    if len(data) > MAX_MESSAGE:
        raise RejectedError("malformed", f"message of {len(data)} bytes is too large")
    parts = topic.split("/")
    try:
        envelope = json.loads(data)
        text = envelope["payload"]
        signature = base64.b64decode(envelope["signature"], validate=True)
        payload: Any = json.loads(text) if isinstance(text, str) else {}
        vantage = payload["vantage"]
        kind = payload["kind"]
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise RejectedError("malformed", f"not a signed sla-probe message ({exc})") from None
    if not isinstance(text, str) or not isinstance(payload, dict) \
            or not isinstance(vantage, str):
        raise RejectedError("malformed", "payload is not an object with a vantage")
    key = keys.get(vantage)
    if key is None:
        raise RejectedError("unknown_vantage", f"vantage {vantage!r} is not a configured peer")
    try:
        key.verify(signature, text.encode())
    except InvalidSignature:
        raise RejectedError("bad_signature",
                       f"signature does not verify with the key of {vantage!r}") from None
    if payload.get("v") != VERSION:
        raise RejectedError("malformed", f"unsupported version {payload.get('v')!r}")
    try:
        if kind == "sync":
            message: Vote | SyncRequest = SyncRequest(
                vantage, int(payload["since"]), float(payload["sent_at"]))
        elif kind == "verdict":
            message = Vote(
                contract=str(payload["contract"]), service=str(payload["service"]),
                vantage=vantage, window_start=int(payload["window_start"]),
                window_seconds=int(payload["window_seconds"]),
                verdict=Verdict(payload["verdict"]), reason=Reason(payload["reason"]),
                attempts=int(payload["attempts"]), failures=int(payload["failures"]),
                failure_classes=tuple(str(c) for c in payload["failure_classes"]),
                revision=int(payload["revision"]), decided_at=float(payload["decided_at"]),
                fingerprint=str(payload["config_sha256"]),
            )
        else:
            raise RejectedError("malformed", f"unknown kind {kind!r}")
    except (ValueError, TypeError, KeyError) as exc:
        raise RejectedError("malformed", f"bad field ({type(exc).__name__}: {exc})") from None
    if message.topic.split("/") != parts:
        raise RejectedError("topic_mismatch",
                       f"{vantage!r} signed a message for {message.topic}, sent on {topic}")
    return message
