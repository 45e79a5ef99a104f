"""Local verification: key formats, signature encodings, algorithms."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from checks.signatures import (
    SignatureError,
    decode_signature,
    load_public_key,
    public_key_pem,
    verify,
)

MESSAGE = b"challenge bytes for the test"


def _b64url_int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_key(algorithm: str) -> Any:
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "ecdsa-p256-sha256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ecdsa-secp256k1-sha256":
        return ec.generate_private_key(ec.SECP256K1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign(key: Any, algorithm: str, message: bytes, *, prehashed: bool = False) -> bytes:
    digest: Any = Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256()
    if algorithm == "ed25519":
        return bytes(key.sign(message))
    if algorithm.startswith("ecdsa"):
        return bytes(key.sign(message, ec.ECDSA(digest)))
    if algorithm == "rsa-pss-sha256":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return bytes(key.sign(message, pss, digest))
    return bytes(key.sign(message, padding.PKCS1v15(), digest))


def der_to_rs(der: bytes, width: int = 32) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def jwk_of(public: Any) -> dict[str, str]:
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
    if isinstance(public, ec.EllipticCurvePublicKey):
        numbers = public.public_numbers()
        crv = "P-256" if isinstance(public.curve, ec.SECP256R1) else "secp256k1"
        return {
            "kty": "EC", "crv": crv,
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }
    numbers = public.public_numbers()
    return {"kty": "RSA", "n": _b64url_int(numbers.n), "e": _b64url_int(numbers.e)}


def hex_of(public: Any) -> str:
    if isinstance(public, ed25519.Ed25519PublicKey):
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    return "0x" + public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    ).hex()


ALGORITHMS = [
    "ed25519", "ecdsa-p256-sha256", "ecdsa-secp256k1-sha256", "rsa-pss-sha256",
    "rsa-pkcs1v15-sha256",
]


class TestLoadPublicKey:
    @pytest.mark.parametrize("algorithm", ALGORITHMS)
    @pytest.mark.parametrize("form", ["pem", "jwk", "jwk_text", "hex"])
    def test_every_form_loads_the_same_key(self, algorithm: str, form: str) -> None:
        public = make_key(algorithm).public_key()
        if form == "hex" and algorithm.startswith("rsa"):
            with pytest.raises(ValueError, match="PEM or JWK"):
                load_public_key("00ff", algorithm)  # type: ignore[arg-type]
            return
        source: Any = {
            "pem": lambda: public_key_pem(public),
            "jwk": lambda: jwk_of(public),
            "jwk_text": lambda: json.dumps(jwk_of(public)),
            "hex": lambda: hex_of(public),
        }[form]()
        loaded = load_public_key(source, algorithm)  # type: ignore[arg-type]
        assert public_key_pem(loaded) == public_key_pem(public)

    @pytest.mark.parametrize(
        ("key_algorithm", "wanted"),
        [
            ("ed25519", "ecdsa-p256-sha256"),
            ("ecdsa-secp256k1-sha256", "ecdsa-p256-sha256"),
            ("ecdsa-p256-sha256", "rsa-pss-sha256"),
            ("rsa-pkcs1v15-sha256", "ed25519"),
        ],
    )
    def test_a_key_of_another_type_is_refused(self, key_algorithm: str, wanted: str) -> None:
        pem = public_key_pem(make_key(key_algorithm).public_key())
        with pytest.raises(ValueError, match="does not fit"):
            load_public_key(pem, wanted)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "source",
        ["-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----", "{not json", "zz", "[1]"],
    )
    def test_garbage_is_refused(self, source: str) -> None:
        with pytest.raises(ValueError):
            load_public_key(source, "ed25519")


class TestVerify:
    @pytest.mark.parametrize("algorithm", ALGORITHMS)
    def test_genuine_signature_verifies_and_tampered_does_not(self, algorithm: str) -> None:
        key = make_key(algorithm)
        signature = sign(key, algorithm, MESSAGE)
        verify(key.public_key(), algorithm, MESSAGE, signature)  # type: ignore[arg-type]
        with pytest.raises(SignatureError, match="does not verify"):
            verify(key.public_key(), algorithm, MESSAGE + b"!", signature)  # type: ignore[arg-type]

    @pytest.mark.parametrize("algorithm", ["ecdsa-p256-sha256", "ecdsa-secp256k1-sha256"])
    def test_raw_r_s_and_r_s_v_forms_verify(self, algorithm: str) -> None:
        key = make_key(algorithm)
        rs = der_to_rs(sign(key, algorithm, MESSAGE))
        verify(key.public_key(), algorithm, MESSAGE, rs, sig_format="rs")  # type: ignore[arg-type]
        verify(  # Ethereum-style trailing recovery id
            key.public_key(), algorithm, MESSAGE, rs + b"\x1b", sig_format="rs",  # type: ignore[arg-type]
        )
        with pytest.raises(SignatureError, match="64 bytes"):
            verify(key.public_key(), algorithm, MESSAGE, rs[:-1], sig_format="rs")  # type: ignore[arg-type]

    @pytest.mark.parametrize("algorithm", ["ecdsa-p256-sha256", "rsa-pss-sha256"])
    def test_prehashed_message_is_the_digest(self, algorithm: str) -> None:
        key = make_key(algorithm)
        digest = hashlib.sha256(MESSAGE).digest()
        signature = sign(key, algorithm, digest, prehashed=True)
        verify(key.public_key(), algorithm, digest, signature, prehashed=True)  # type: ignore[arg-type]
        # The same signature is over SHA-256(MESSAGE), so it also verifies the message itself.
        verify(key.public_key(), algorithm, MESSAGE, signature)  # type: ignore[arg-type]
        with pytest.raises(SignatureError):
            verify(key.public_key(), algorithm, digest, signature)  # type: ignore[arg-type]

    def test_malformed_der_is_a_signature_error(self) -> None:
        key = make_key("ecdsa-p256-sha256")
        with pytest.raises(SignatureError):
            verify(key.public_key(), "ecdsa-p256-sha256", MESSAGE, b"\x30\x02garbage")


class TestDecodeSignature:
    @pytest.mark.parametrize(
        ("text", "encoding", "expected"),
        [
            ("0a0b", "hex", b"\n\x0b"),
            ("0x0A0B", "hex", b"\n\x0b"),
            ("CgsM", "base64", b"\n\x0b\x0c"),
            ("_-8", "base64url", b"\xff\xef"),
            (b"\x00\x01", "binary", b"\x00\x01"),
        ],
    )
    def test_decodes(self, text: str | bytes, encoding: str, expected: bytes) -> None:
        assert decode_signature(text, encoding) == expected  # type: ignore[arg-type]

    @pytest.mark.parametrize(("text", "encoding"), [("xyz", "hex"), ("***", "base64")])
    def test_undecodable_is_a_signature_error(self, text: str, encoding: str) -> None:
        with pytest.raises(SignatureError, match=encoding):
            decode_signature(text, encoding)  # type: ignore[arg-type]
