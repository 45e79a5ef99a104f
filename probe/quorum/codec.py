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
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
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
# A genuine message is about 520 bytes; bounding size and nesting *before* parsing keeps a
# hostile publisher from reaching the parser's recursion limit or the memory of the daemon.
MAX_MESSAGE = 16 * 1024
MAX_DEPTH = 4  # envelope 1, payload 2 (failure_classes), with room to spare
MAX_INT = 2**53
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_DEPTH = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


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


@dataclasses.dataclass(frozen=True, slots=True)
class PeerKey:
    """One public key of a vantage, valid for messages about `valid_from <= t < valid_until`.

    `t` is the window a vote is for (a sync request: when it was sent), not when it arrives,
    so rows signed with the old key and resent after a rotation still verify.
    """

    key: Ed25519PublicKey
    valid_from: float | None = None
    valid_until: float | None = None

    def valid_at(self, t: float) -> bool:
        return (self.valid_from is None or t >= self.valid_from) and \
            (self.valid_until is None or t < self.valid_until)


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
    # the publishing process (twin detection): not part of the vote, not stored with it
    instance: str = dataclasses.field(default="", compare=False)

    @classmethod
    def of(cls, v: WindowVerdict, vantage: str, fingerprint: str, instance: str = "") -> Vote:
        return cls(v.contract, v.service, vantage, v.window_start, v.window_seconds, v.verdict,
                   v.reason, v.attempts, v.failures, tuple(v.failure_classes), v.revision,
                   v.decided_at, fingerprint, instance)

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
            **({"instance": self.instance} if self.instance else {}),
        }

    @property
    def time(self) -> float:
        """The instant that selects the signing key: the window's start."""
        return float(self.window_start)

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
    instance: str = ""

    @property
    def topic(self) -> str:
        return sync_topic(self.vantage)

    @property
    def time(self) -> float:
        return self.sent_at

    def payload(self) -> dict[str, Any]:
        return {"v": VERSION, "kind": "sync", "vantage": self.vantage, "since": self.since,
                "sent_at": self.sent_at, **({"instance": self.instance} if self.instance else {})}


def encode(payload: Mapping[str, Any], key: Ed25519PrivateKey) -> bytes:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    signature = base64.b64encode(key.sign(text.encode())).decode()
    return json.dumps({"payload": text, "signature": signature},
                      separators=(",", ":")).encode()


def nesting(data: bytes) -> int:
    """The deepest `[`/`{` nesting of JSON text, strings skipped; linear, no recursion."""
    bare = _STRINGS.sub(b"", data)
    return max(itertools.accumulate(_DEPTH.get(b, 0) for b in bare), default=0)


def _bounded_text(text: Any) -> bytes:
    """The signed bytes of the payload text; a lone surrogate fails here, before anything."""
    if not isinstance(text, str):
        raise TypeError("payload is not a JSON text")
    signed = text.encode("utf-8")
    if nesting(signed) > MAX_DEPTH:
        raise ValueError("payload nested too deeply")
    return signed


def _int(value: Any, low: int = 0, high: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{value!r} is not an integer in [{low}, {high}]")
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or not 0 <= value <= MAX_INT:
        raise ValueError(f"{value!r} is not a finite time")
    return float(value)


def _str(value: Any, limit: int = 256) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError("not a short string")
    return value


def _parse(vantage: str, kind: Any, payload: dict[str, Any]) -> Vote | SyncRequest:
    instance = _str(payload.get("instance", ""), 64)
    if kind == "sync":
        return SyncRequest(vantage, _int(payload["since"]), _float(payload["sent_at"]), instance)
    if kind == "verdict":
        classes = payload["failure_classes"]
        if not isinstance(classes, list) or len(classes) > 64:
            raise ValueError("failure_classes is not a short list")
        return Vote(
            contract=_str(payload["contract"]), service=_str(payload["service"]),
            vantage=vantage, window_start=_int(payload["window_start"]),
            window_seconds=_int(payload["window_seconds"], 1, 2**31),
            verdict=Verdict(payload["verdict"]), reason=Reason(payload["reason"]),
            attempts=_int(payload["attempts"], 0, 2**31),
            failures=_int(payload["failures"], 0, 2**31),
            failure_classes=tuple(_str(c, 64) for c in classes),
            revision=_int(payload["revision"], 0, 2**31),
            decided_at=_float(payload["decided_at"]),
            fingerprint=_str(payload["config_sha256"], 128), instance=instance,
        )
    raise RejectedError("malformed", f"unknown kind {str(kind)[:40]!r}")


Keys = Mapping[str, Sequence[PeerKey] | Ed25519PublicKey]


def decode(topic: str, data: bytes, keys: Keys) -> Vote | SyncRequest:
    """Verify and parse one message; `RejectedError(reason, detail)` for anything not acceptable.

    Reasons: `malformed`, `unknown_vantage`, `bad_signature`, `topic_mismatch`. Size and
    nesting are bounded before any parsing; every field is range-checked.
    """
    if len(data) > MAX_MESSAGE:
        raise RejectedError("malformed", f"message of {len(data)} bytes is too large")
    if nesting(data) > MAX_DEPTH:
        raise RejectedError("malformed", "JSON nested too deeply")
    parts = topic.split("/")
    try:
        envelope = json.loads(data)
        text = envelope["payload"]
        signature = base64.b64decode(envelope["signature"], validate=True)
        signed = _bounded_text(text)
        payload: Any = json.loads(signed)
        vantage = payload["vantage"]
        kind = payload["kind"]
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise RejectedError("malformed",
                            f"not a signed sla-probe message ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or not isinstance(vantage, str) or len(vantage) > 64:
        raise RejectedError("malformed", "payload is not an object with a vantage")
    peer_keys = keys.get(vantage)
    if isinstance(peer_keys, Ed25519PublicKey):  # one key, always valid
        peer_keys = (PeerKey(peer_keys),)
    if not peer_keys:
        raise RejectedError("unknown_vantage", f"vantage {vantage!r} is not a configured peer")
    if payload.get("v") != VERSION:
        raise RejectedError("malformed", f"unsupported version {str(payload.get('v'))[:20]!r}")
    try:
        message = _parse(vantage, kind, payload)
    except (ValueError, TypeError, KeyError) as exc:
        raise RejectedError("malformed", f"bad field ({type(exc).__name__}: {exc})") from None
    valid = [k for k in peer_keys if k.valid_at(message.time)]
    for candidate in valid:
        try:
            candidate.key.verify(signature, signed)
        except InvalidSignature:
            continue
        break
    else:
        which = "any key" if valid else "no key (none valid at that time)"
        raise RejectedError("bad_signature",
                            f"signature does not verify with {which} of {vantage!r}")
    if message.topic.split("/") != parts:
        raise RejectedError("topic_mismatch",
                            f"{vantage!r} signed a message for {message.topic}, sent on {topic}")
    return message
