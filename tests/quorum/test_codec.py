"""Signed messages: what verifies, what is rejected and why; keys in both accepted forms."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from probe.contracts.model import ContractConfig
from probe.model import Reason, Verdict
from probe.quorum.codec import (
    KeyFormatError,
    RejectedError,
    SyncRequest,
    Vote,
    decode,
    encode,
    fingerprint,
    load_private_key,
    load_public_key,
    public_text,
    raw_public,
)

A = Ed25519PrivateKey.generate()
B = Ed25519PrivateKey.generate()
KEYS = {"a": A.public_key(), "b": B.public_key()}
VOTE = Vote("dfns", "dfns-api", "a", 1_800_000_000, 60, Verdict.DOWN, Reason.NONE, 6, 6,
            ("http_status", "timeout"), 0, 1_800_000_061.25, "ab" * 32)


def signed(vote: Vote = VOTE, key: Ed25519PrivateKey = A) -> bytes:
    return encode(vote.payload(), key)


def reason(topic: str, data: bytes) -> str:
    with pytest.raises(RejectedError) as info:
        decode(topic, data, KEYS)
    return info.value.reason


class TestCodec:
    def test_a_signed_vote_round_trips(self) -> None:
        assert VOTE.topic == "sla-probe/v1/verdicts/dfns/dfns-api/a"
        assert decode(VOTE.topic, signed(), KEYS) == VOTE

    def test_a_sync_request_round_trips(self) -> None:
        request = SyncRequest("b", 1_799_999_000, 1_800_000_000.5)
        assert request.topic == "sla-probe/v1/sync/b"
        assert decode(request.topic, encode(request.payload(), B), KEYS) == request

    def test_a_vote_signed_with_another_key_is_bad_signature(self) -> None:
        assert reason(VOTE.topic, signed(key=B)) == "bad_signature"

    def test_an_edited_payload_is_bad_signature(self) -> None:
        envelope = json.loads(signed())
        envelope["payload"] = envelope["payload"].replace('"down"', '"up"')
        assert reason(VOTE.topic, json.dumps(envelope).encode()) == "bad_signature"

    def test_a_vantage_without_a_configured_key_is_unknown(self) -> None:
        stranger = dataclasses.replace(VOTE, vantage="mallory")
        assert reason(stranger.topic, signed(stranger)) == "unknown_vantage"

    def test_a_valid_vote_replayed_on_another_vantage_topic_is_topic_mismatch(self) -> None:
        assert reason("sla-probe/v1/verdicts/dfns/dfns-api/b", signed()) == "topic_mismatch"
        assert reason("sla-probe/v1/verdicts/dfns/other/a", signed()) == "topic_mismatch"

    @pytest.mark.parametrize("data", [
        b"", b"not json", b"[]", b'{"payload": 1, "signature": ""}',
        b'{"payload": "{}", "signature": "%%%"}', b"x" * 70_000,
    ])
    def test_garbage_is_malformed(self, data: bytes) -> None:
        assert reason(VOTE.topic, data) == "malformed"

    def test_a_signed_payload_with_a_bad_field_is_malformed(self) -> None:
        payload = VOTE.payload() | {"verdict": "sideways"}
        assert reason(VOTE.topic, encode(payload, A)) == "malformed"

    def test_a_signed_payload_of_another_version_is_malformed(self) -> None:
        assert reason(VOTE.topic, encode(VOTE.payload() | {"v": 2}, A)) == "malformed"


class TestKeys:
    def test_pem_and_raw_base64_load_the_same_key(self) -> None:
        pem = A.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
        seed = base64.b64encode(A.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption())).decode()
        public_pem = A.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        want = raw_public(A.public_key())
        assert raw_public(load_private_key(pem).public_key()) == want
        assert raw_public(load_private_key(seed).public_key()) == want
        assert raw_public(load_public_key(public_pem)) == want
        assert raw_public(load_public_key(public_text(A))) == want

    @pytest.mark.parametrize("text", ["", "abc", base64.b64encode(b"x" * 31).decode(),
                                      "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"])
    def test_a_bad_public_key_is_refused_without_echoing_it(self, text: str) -> None:
        with pytest.raises(KeyFormatError) as info:
            load_public_key(text)
        assert text not in str(info.value) or not text

    def test_a_non_ed25519_pem_is_refused(self) -> None:
        other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        with pytest.raises(KeyFormatError, match="not an Ed25519 private key"):
            load_private_key(other)


class TestFingerprint:
    def test_same_contract_same_fingerprint_and_any_change_changes_it(self) -> None:
        one = ContractConfig.model_validate({"name": "c", "window": "60s",
                                             "objectives": [{"service": "s", "target": 99.9}]})
        same = ContractConfig.model_validate({"name": "c", "window": 60,
                                              "objectives": [{"service": "s", "target": 99.9}]})
        other = ContractConfig.model_validate({"name": "c", "window": 60, "down_rule": "any",
                                               "objectives": [{"service": "s", "target": 99.9}]})
        assert fingerprint(one) == fingerprint(same)
        assert fingerprint(one) != fingerprint(other)
        assert len(fingerprint(one)) == 64
