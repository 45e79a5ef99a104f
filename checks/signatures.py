"""Local signature verification shared by the `signing` and `pkcs11` checks.

A vendor's answer is never trusted: the probe holds the public key and verifies every
signature itself. Keys load from PEM, JWK or hex; signatures decode from hex, base64 or raw
bytes, and ECDSA signatures may be DER or fixed-width r‖s.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

Algorithm = Literal[
    "ecdsa-p256-sha256",
    "ecdsa-secp256k1-sha256",
    "ed25519",
    "rsa-pss-sha256",
    "rsa-pkcs1v15-sha256",
]
SignatureEncoding = Literal["hex", "base64", "base64url", "binary"]
SignatureFormat = Literal["der", "rs"]

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ecdsa-p256-sha256": ec.SECP256R1,
    "ecdsa-secp256k1-sha256": ec.SECP256K1,
}
_JWK_CURVES: dict[str, type[ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "secp256k1": ec.SECP256K1}


class SignatureError(ValueError):
    """The signature could not be decoded or does not verify; the message is safe to show."""


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _strip_hex(text: str) -> str:
    text = text.strip()
    return text[2:] if text[:2] in ("0x", "0X") else text


def _jwk_key(jwk: dict[str, Any]) -> PublicKey:
    kty = jwk.get("kty")
    try:
        if kty == "OKP" and jwk.get("crv") == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(_b64url(jwk["x"]))
        if kty == "EC" and jwk.get("crv") in _JWK_CURVES:
            curve = _JWK_CURVES[jwk["crv"]]()
            x = int.from_bytes(_b64url(jwk["x"]), "big")
            y = int.from_bytes(_b64url(jwk["y"]), "big")
            return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
        if kty == "RSA":
            n = int.from_bytes(_b64url(jwk["n"]), "big")
            e = int.from_bytes(_b64url(jwk["e"]), "big")
            return rsa.RSAPublicNumbers(e, n).public_key()
    except (KeyError, TypeError, binascii.Error) as exc:
        raise ValueError(f"JWK is missing or has a bad member: {exc}") from None
    raise ValueError(f"unsupported JWK (kty={kty!r}, crv={jwk.get('crv')!r})")


def _hex_key(text: str, algorithm: Algorithm) -> PublicKey:
    try:
        raw = bytes.fromhex(_strip_hex(text))
    except ValueError:
        raise ValueError("public key is neither PEM, JWK nor hex") from None
    if algorithm == "ed25519":
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key in hex must be 32 bytes")
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    if algorithm in _CURVES:
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[algorithm](), raw)
    raise ValueError("RSA public keys must be given as PEM or JWK, not hex")


def load_public_key(source: str | dict[str, Any], algorithm: Algorithm) -> PublicKey:
    """The key from PEM text, a JWK (mapping or JSON text) or hex; checked against `algorithm`."""
    key: Any
    if isinstance(source, dict):
        key = _jwk_key(source)
    else:
        text = source.strip()
        if text.startswith("-----BEGIN"):
            try:
                key = serialization.load_pem_public_key(text.encode())
            except (ValueError, UnsupportedAlgorithm) as exc:
                raise ValueError(f"cannot load PEM public key: {exc}") from None
        elif text.startswith("{"):
            try:
                document = json.loads(text)
            except ValueError:
                raise ValueError("public key looks like JSON but does not parse") from None
            if not isinstance(document, dict):
                raise ValueError("a JWK must be a JSON object")
            key = _jwk_key(document)
        else:
            key = _hex_key(text, algorithm)
    check_key_matches(key, algorithm)
    return key  # type: ignore[no-any-return]


def check_key_matches(key: Any, algorithm: Algorithm) -> None:
    if algorithm == "ed25519":
        ok = isinstance(key, ed25519.Ed25519PublicKey)
    elif algorithm in _CURVES:
        ok = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
            key.curve, _CURVES[algorithm]
        )
    else:
        ok = isinstance(key, rsa.RSAPublicKey)
    if not ok:
        raise ValueError(f"the public key ({type(key).__name__}) does not fit {algorithm}")


def decode_signature(value: str | bytes, encoding: SignatureEncoding) -> bytes:
    """Bytes of a signature as the endpoint sent it; `SignatureError` when it does not decode."""
    if encoding == "binary":
        return value if isinstance(value, bytes) else value.encode("latin-1")
    text = value.decode("ascii", errors="replace") if isinstance(value, bytes) else value
    text = text.strip()
    try:
        if encoding == "hex":
            return bytes.fromhex(_strip_hex(text))
        if encoding == "base64url":
            return _b64url(text)
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise SignatureError(f"signature is not valid {encoding}") from None


def _ecdsa_der(signature: bytes, curve: ec.EllipticCurve, sig_format: SignatureFormat) -> bytes:
    if sig_format == "der":
        return signature
    width = (curve.key_size + 7) // 8
    if len(signature) == 2 * width + 1:  # r‖s‖v (Ethereum-style recovery id): v is ignored
        signature = signature[: 2 * width]
    if len(signature) != 2 * width:
        raise SignatureError(
            f"r‖s signature must be {2 * width} bytes, got {len(signature)}"
        )
    r = int.from_bytes(signature[:width], "big")
    s = int.from_bytes(signature[width:], "big")
    return encode_dss_signature(r, s)


# Group orders, for the low-S rule (s <= n/2) that Bitcoin and Ethereum require: ECDSA
# itself accepts both (r, s) and (r, n - s), so a signer may return either.
CURVE_ORDERS = {
    "secp256k1": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
}


def _refuse_high_s(der: bytes, curve: ec.EllipticCurve) -> None:
    try:
        _r, s = decode_dss_signature(der)
    except ValueError as exc:
        raise SignatureError(f"signature is malformed: {exc}") from None
    if s > CURVE_ORDERS[curve.name] // 2:
        raise SignatureError("high-S signature (s > n/2): refused by low_s: true "
                             "(Bitcoin and Ethereum accept only low-S)")


def verify(
    key: PublicKey,
    algorithm: Algorithm,
    message: bytes,
    signature: bytes,
    *,
    sig_format: SignatureFormat = "der",
    prehashed: bool = False,
    low_s: bool = False,
) -> None:
    """Raise `SignatureError` unless `signature` is valid for `message`.

    With `prehashed`, `message` is already the SHA-256 digest the signer signed (as with a
    raw CKM_ECDSA token mechanism or a "sign this hash" API).
    """
    check_key_matches(key, algorithm)
    digest: hashes.HashAlgorithm | Prehashed = Prehashed(hashes.SHA256()) if prehashed else (
        hashes.SHA256()
    )
    if prehashed and len(message) != 32:
        raise SignatureError("a prehashed message must be a 32-byte SHA-256 digest")
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if prehashed:
                raise SignatureError("Ed25519 signs the message itself, not a digest")
            key.verify(signature, message)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            der = _ecdsa_der(signature, key.curve, sig_format)
            if low_s:
                _refuse_high_s(der, key.curve)
            key.verify(der, message, ec.ECDSA(digest))
        elif algorithm == "rsa-pss-sha256":
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            key.verify(signature, message, pss, digest)
        else:
            key.verify(signature, message, padding.PKCS1v15(), digest)
    except InvalidSignature:
        raise SignatureError("signature does not verify against the configured key") from None
    except ValueError as exc:  # e.g. malformed DER
        raise SignatureError(f"signature is malformed: {exc}") from None


def public_key_pem(key: PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
