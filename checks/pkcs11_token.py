"""`pkcs11`: sign a fresh challenge with a key on a PKCS#11 token and verify it locally.

The token's answer is not trusted: the public key is read from the token (or pinned in the
config) and the signature is verified in-process with `cryptography`. Every PKCS#11 call
blocks, so each check owns a one-thread (daemon) executor: a hung token stalls only that
thread, never the event loop, and the scheduler's timeout ends the attempt. While the thread
is stuck, later attempts queue behind it and time out too (as they should: the token is not
signing); the queue never grows, because a cancelled attempt's call is dropped before it starts.

A process can load only one PKCS#11 library (a limit of python-pkcs11); the attempts of a
check naming a second library fail with class `error`. Login state is per token and per
process, so the checks of one token share one logged-in session (`checks/pkcs11_sessions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import secrets
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pkcs11 as _p11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pkcs11 import exceptions as _p11_errors
from pydantic import ConfigDict, Field, model_validator

from checks import base
from checks.base import AttemptContext, CheckConfig, CheckFailure, CheckType, Resources, Result
from checks.blocking import DaemonThreadExecutor
from checks.pkcs11_sessions import POOL, TokenSession
from checks.signatures import (
    Algorithm,
    PublicKey,
    SignatureError,
    load_public_key,
    verify,
)
from probe.secrets import Secret, redact

Mechanism = Literal["ECDSA", "ECDSA_SHA256", "SHA256_RSA_PKCS", "SHA256_RSA_PKCS_PSS", "EDDSA"]

TOKEN = "token"  # noqa: S105 - a failure class, not a password; the token or its slot cannot be reached / opened
AUTH = "auth"  # login refused (PIN wrong or locked)
KEY = "key"  # the key is not on the token

# DER of the curve OIDs in CKA_EC_PARAMS, and Ed25519's forms (OID or printable string).
_EC_PARAMS: dict[bytes, tuple[ec.EllipticCurve, Algorithm]] = {
    bytes.fromhex("06082a8648ce3d030107"): (ec.SECP256R1(), "ecdsa-p256-sha256"),
    bytes.fromhex("06052b8104000a"): (ec.SECP256K1(), "ecdsa-secp256k1-sha256"),
}
_ED25519_PARAMS = {bytes.fromhex("06032b6570"), b"\x13\x0cedwards25519"}


class Pkcs11Config(CheckConfig):
    model_config = ConfigDict(hide_input_in_errors=True)  # errors never echo secrets

    type: Literal["pkcs11"] = "pkcs11"
    library: str = "/usr/lib/softhsm/libsofthsm2.so"
    token_label: str
    pin: Secret
    key_label: str
    mechanism: Mechanism = "ECDSA"
    public_key: str | dict[str, Any] | None = None
    challenge_bytes: int = Field(default=32, ge=16, le=1024)

    @model_validator(mode="after")
    def _pinned_key(self) -> Pkcs11Config:
        if self.public_key is not None:
            algorithm = _pinned_algorithm(self)
            load_public_key(self.public_key, algorithm)
        return self


def _pinned_algorithm(cfg: Pkcs11Config) -> Algorithm:
    if cfg.mechanism == "EDDSA":
        return "ed25519"
    if cfg.mechanism == "SHA256_RSA_PKCS":
        return "rsa-pkcs1v15-sha256"
    if cfg.mechanism == "SHA256_RSA_PKCS_PSS":
        return "rsa-pss-sha256"
    assert cfg.public_key is not None
    ec_algorithms: tuple[Algorithm, ...] = ("ecdsa-p256-sha256", "ecdsa-secp256k1-sha256")
    for algorithm in ec_algorithms:
        with contextlib.suppress(ValueError):
            load_public_key(cfg.public_key, algorithm)
            return algorithm
    raise ValueError(f"public_key is not an EC key on P-256 or secp256k1 ({cfg.mechanism})")


def _unwrap_octet_string(data: bytes) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING around the point (some tokens omit the wrapper)."""
    if len(data) >= 2 and data[0] == 0x04:
        length = data[1]
        if length < 0x80 and length == len(data) - 2:
            return data[2:]
        if length == 0x81 and len(data) >= 3 and data[2] == len(data) - 3:
            return data[3:]
    return data


def public_key_from_attributes(
    key_type: str, attributes: dict[str, bytes]
) -> tuple[PublicKey, Algorithm]:
    """A `cryptography` key (and its algorithm) from a token public key's attributes."""
    if key_type == "RSA":
        modulus = int.from_bytes(attributes["modulus"], "big")
        exponent = int.from_bytes(attributes["public_exponent"], "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key(), "rsa-pkcs1v15-sha256"
    params = bytes(attributes["ec_params"])
    point = _unwrap_octet_string(bytes(attributes["ec_point"]))
    if params in _ED25519_PARAMS or key_type == "EC_EDWARDS":
        return ed25519.Ed25519PublicKey.from_public_bytes(point), "ed25519"
    if params not in _EC_PARAMS:
        raise CheckFailure(KEY, f"unsupported EC curve (CKA_EC_PARAMS {params.hex()})")
    curve, algorithm = _EC_PARAMS[params]
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, point), algorithm


@dataclasses.dataclass(frozen=True, slots=True)
class Signed:
    """What one token signature produced."""

    signature: bytes
    public_key: PublicKey
    algorithm: Algorithm


def classify_pkcs11_error(exc: BaseException) -> tuple[str, str]:
    name = type(exc).__name__
    if isinstance(
        exc,
        _p11_errors.NoSuchToken | _p11_errors.TokenNotPresent | _p11_errors.TokenNotRecognised
        | _p11_errors.DeviceRemoved | _p11_errors.DeviceError | _p11_errors.SlotIDInvalid
        | _p11_errors.DeviceMemory | _p11_errors.SessionClosed | _p11_errors.SessionHandleInvalid,
    ):
        return TOKEN, f"token unavailable ({name})"
    if isinstance(exc, _p11_errors.PinIncorrect | _p11_errors.PinLocked | _p11_errors.PinExpired):
        return AUTH, f"login refused ({name})"
    if isinstance(exc, _p11_errors.NoSuchKey | _p11_errors.MultipleObjectsReturned):
        return KEY, f"key lookup failed ({name})"
    return base.ERROR, f"PKCS#11 error {name}: {exc}"


# The key type each mechanism signs with; a mismatch is named instead of the token's (or
# python-pkcs11's) unhelpful answer ("Invalid shape in axis 0: 0" for EDDSA on an EC key).
_MECHANISM_KEYS = {
    "ECDSA": "EC", "ECDSA_SHA256": "EC", "SHA256_RSA_PKCS": "RSA",
    "SHA256_RSA_PKCS_PSS": "RSA", "EDDSA": "EC_EDWARDS",
}
_KEY_NAMES = {"EC": "an EC (P-256/secp256k1) key", "RSA": "an RSA key",
              "EC_EDWARDS": "an Ed25519 (EC_EDWARDS) key"}


def check_mechanism_fits(mechanism: str, key_label: str, key_type: Any) -> None:
    """`key` class failure when the mechanism cannot sign with this key's type."""
    if key_type is None:  # a token (or a test double) that does not say
        return
    actual = getattr(key_type, "name", str(key_type))
    wanted = _MECHANISM_KEYS[mechanism]
    if actual != wanted and actual in _KEY_NAMES:
        raise CheckFailure(KEY, f"mechanism {mechanism} needs {_KEY_NAMES[wanted]}, but key "
                                f"{key_label!r} is {_KEY_NAMES[actual]}")


class Pkcs11Token:
    """Blocking access to one key on one token; every method runs in the check's thread."""

    def __init__(
        self,
        config: Pkcs11Config,
        open_session: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.config = config
        self._open_session = open_session or self._pooled_session
        self._shared: TokenSession | None = None
        if open_session is None:
            self._shared = POOL.acquire(config.library, config.token_label,
                                        config.pin.get_secret_value())

    @contextlib.contextmanager
    def _pooled_session(self) -> Iterator[Any]:
        """The token's shared, logged-in session (see checks/pkcs11_sessions.py)."""
        assert self._shared is not None
        with self._shared.use(self.config.pin.get_secret_value()) as session:
            yield session

    def close(self) -> None:
        """Give the shared session back; the last check of a token logs it out."""
        shared, self._shared = self._shared, None
        if shared is not None:
            POOL.release(shared)

    def _mechanism(self) -> tuple[Any, Any]:
        mech = self.config.mechanism
        if mech == "SHA256_RSA_PKCS_PSS":
            return _p11.Mechanism.SHA256_RSA_PKCS_PSS, (
                _p11.Mechanism.SHA256, _p11.MGF.SHA256, 32
            )
        return getattr(_p11.Mechanism, mech), None

    def _public_key(self, session: Any) -> tuple[PublicKey, Algorithm]:
        attr = _p11.Attribute
        public = session.get_key(object_class=_p11.ObjectClass.PUBLIC_KEY,
                                 label=self.config.key_label)
        key_type = getattr(public.key_type, "name", str(public.key_type))
        if key_type == "RSA":
            values: dict[str, bytes] = {
                "modulus": public[attr.MODULUS], "public_exponent": public[attr.PUBLIC_EXPONENT],
            }
        else:
            values = {"ec_params": public[attr.EC_PARAMS], "ec_point": public[attr.EC_POINT]}
        return public_key_from_attributes(key_type, values)

    def sign(self, challenge: bytes) -> Signed:
        """Sign `challenge` (hashed first for raw CKM_ECDSA); blocking."""
        cfg = self.config
        mechanism, param = self._mechanism()
        data = hashlib.sha256(challenge).digest() if cfg.mechanism == "ECDSA" else challenge
        with self._open_session() as session:
            private = session.get_key(object_class=_p11.ObjectClass.PRIVATE_KEY,
                                      label=cfg.key_label)
            check_mechanism_fits(cfg.mechanism, cfg.key_label, getattr(private, "key_type", None))
            signature = private.sign(data, mechanism=mechanism, mechanism_param=param)
            public_key, algorithm = self._public_key(session)
        if cfg.mechanism == "SHA256_RSA_PKCS_PSS":
            algorithm = "rsa-pss-sha256"
        return Signed(bytes(signature), public_key, algorithm)


class Pkcs11Check:
    def __init__(
        self, config: Pkcs11Config, resources: Resources, token: Pkcs11Token | None = None
    ) -> None:
        self.config = config
        self._clock = resources.clock
        self.token = token or Pkcs11Token(config)
        self._executor = DaemonThreadExecutor(f"pkcs11-{config.name}")
        self._pinned: tuple[PublicKey, Algorithm] | None = None
        if config.public_key is not None:
            algorithm = _pinned_algorithm(config)
            self._pinned = (load_public_key(config.public_key, algorithm), algorithm)

    def _verify(self, challenge: bytes, signed: Signed) -> None:
        """Against the pinned key when configured (a swapped token key then fails)."""
        key, algorithm = self._pinned or (signed.public_key, signed.algorithm)
        prehashed = self.config.mechanism == "ECDSA"
        message = hashlib.sha256(challenge).digest() if prehashed else challenge
        verify(key, algorithm, message, signed.signature, sig_format="rs", prehashed=prehashed)

    async def run(self, ctx: AttemptContext) -> Result:
        challenge = secrets.token_bytes(self.config.challenge_bytes)
        loop = asyncio.get_running_loop()
        start = self._clock.monotonic()
        try:
            signed = await loop.run_in_executor(self._executor, self.token.sign, challenge)
        except CheckFailure as exc:
            return Result(False, exc.failure_class, redact(exc.detail), None,
                          {"challenge": challenge.hex()})
        except Exception as exc:
            if not isinstance(exc, _p11_errors.PKCS11Error):
                raise
            failure_class, detail = classify_pkcs11_error(exc)
            return Result(False, failure_class, redact(detail), None,
                          {"challenge": challenge.hex()})
        latency = self._clock.monotonic() - start
        spki = signed.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        evidence = {
            "challenge": challenge.hex(),
            "signature": signed.signature.hex(),
            "public_key_sha256": hashlib.sha256(spki).hexdigest(),
        }
        try:
            self._verify(challenge, signed)
        except (SignatureError, ValueError) as exc:
            return Result(False, base.BAD_SIGNATURE, str(exc), latency, evidence)
        return Result(True, None, f"token signed ({self.config.mechanism})", latency, evidence)

    async def aclose(self) -> None:
        # Never wait for a hung token: its (daemon) thread is abandoned, queued calls dropped.
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.token.close()


def build_pkcs11(config: Pkcs11Config, resources: Resources) -> Pkcs11Check:
    return Pkcs11Check(config, resources)


CHECK_TYPES = (CheckType("pkcs11", Pkcs11Config, build_pkcs11),)
