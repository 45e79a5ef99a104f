"""The `quorum:` section: valid shapes, and refusals that name file, line and field."""

from __future__ import annotations

import base64
import importlib.util
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from probe.config import load_config, parse_config
from probe.quorum.codec import public_text
from probe.secrets import redact
from probe.yamlsource import ConfigError
from tests.test_config import MINIMAL

ME = Ed25519PrivateKey.generate()
PEER = Ed25519PrivateKey.generate()


def seed(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())).decode()


def with_quorum(body: str, vantage: str = "zurich") -> str:
    return MINIMAL.replace("vantage: local", f"vantage: {vantage}") + "quorum:\n" + \
        textwrap.indent(textwrap.dedent(body), "  ")


GOOD = f"""\
    broker: {{url: "mqtts://broker.example:8883", username: zurich, password: pw-123456}}
    signing_key: {seed(ME)}
    peers:
      frankfurt: {public_text(PEER)}
    rule: k_of_n
    k: 2
    grace: 45s
    """


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "config.yaml")
    return info.value.problems


class TestQuorumConfig:
    def test_a_full_section_is_valid(self) -> None:
        q = parse_config(with_quorum(GOOD), "config.yaml").quorum
        assert q is not None
        assert (q.broker.host, q.broker.broker_port, q.broker.tls is not None) == (
            "broker.example", 8883, True)
        assert (q.rule, q.k, q.grace, q.role, q.decides) == ("k_of_n", 2, 45.0, "peer", True)
        assert q.voters("zurich") == ("frankfurt", "zurich")
        assert "pw-123456" not in repr(q)
        assert redact("pw-123456") != "pw-123456"

    def test_keys_and_password_come_from_files(self, tmp_path: Path) -> None:
        key = tmp_path / "vantage.key"
        key.write_bytes(ME.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
        password = tmp_path / "mqtt.pw"
        password.write_text("from-a-file\n")
        path = tmp_path / "config.yaml"
        path.write_text(with_quorum(f"""\
            broker: {{host: 127.0.0.1, port: 1883, username: z, password_file: {password}}}
            signing_key_file: {key}
            peers: {{frankfurt: {public_text(PEER)}}}
            role: aggregator
            """))
        q = load_config(path).quorum
        assert q is not None
        assert q.broker.password is not None
        assert q.broker.password.get_secret_value() == "from-a-file"
        assert q.signing_key is not None
        assert q.role == "aggregator"

    @pytest.mark.parametrize(("old", "new", "expected"), [
        (f"  signing_key: {seed(ME)}\n", "",
         "config.yaml:27: quorum: give signing_key or signing_key_file"),
        (f"frankfurt: {public_text(PEER)}", "frankfurt: not-a-key",
         "config.yaml:31: quorum.peers.frankfurt: public key must be PEM or base64"),
        ("k: 2", "k: 5", "config.yaml:33: quorum.k: k=5 but only 2 vantages vote"),
        ("  k: 2\n", "", "config.yaml:27: quorum: rule k_of_n needs k"),
        ("rule: k_of_n", "rule: most", "config.yaml:32: quorum.rule: Input should be"),
        ('url: "mqtts://broker.example:8883"', 'url: "http://x"',
         "config.yaml:28: quorum.broker: url must be mqtt://HOST[:PORT]"),
        ("username: zurich, ", "", "config.yaml:28: quorum.broker: password needs username"),
        ("frankfurt:", "bad/name:", "config.yaml:31: quorum.peers.bad/name.[key]: String should match pattern"),
    ])
    def test_problem_names_file_line_and_field(self, old: str, new: str,
                                               expected: str) -> None:
        text = with_quorum(GOOD)
        assert old in text
        found = problems(text.replace(old, new))
        assert any(p.startswith(expected) for p in found), found

    def test_listing_this_vantage_with_another_key_is_refused(self) -> None:
        body = GOOD.replace("peers:\n", f"peers:\n      zurich: {public_text(PEER)}\n")
        found = problems(with_quorum(body))
        assert found == ["config.yaml:31: quorum.peers.zurich: is this vantage, but the key "
                         "does not match signing_key"]

    def test_two_peers_with_one_public_key_are_refused(self) -> None:
        body = GOOD.replace("peers:\n", f"peers:\n      berlin: {public_text(PEER)}\n")
        found = problems(with_quorum(body))
        assert found == ["config.yaml:32: quorum.peers.frankfurt: peer 'frankfurt' has the "
                         "same public key as peer 'berlin'; each vantage needs its own key pair"]

    def test_our_own_key_under_a_peer_name_is_refused(self) -> None:
        body = GOOD.replace("peers:\n", f"peers:\n      berlin: {public_text(ME)}\n")
        found = problems(with_quorum(body))
        assert found == ["config.yaml:31: quorum.peers.berlin: peer 'berlin' has this "
                         "vantage's own public key (signing_key); each vantage needs its own "
                         "key pair"]

    def test_a_shared_key_inside_a_rotation_list_is_refused_at_its_line(self) -> None:
        other = Ed25519PrivateKey.generate()
        body = GOOD.replace("peers:\n", (
            "peers:\n      berlin:\n"
            f"        - {{key: {public_text(other)}, until: 2026-11-20T12:00:00Z}}\n"
            f"        - {{key: {public_text(PEER)}, from: 2026-11-19T12:00:00Z}}\n"))
        found = problems(with_quorum(body))
        assert found == ["config.yaml:34: quorum.peers.frankfurt: peer 'frankfurt' has the "
                         "same public key as peer 'berlin'; each vantage needs its own key pair"]

    def test_a_rotation_lists_keys_with_their_validity(self) -> None:
        new = Ed25519PrivateKey.generate()
        body = GOOD.replace(f"      frankfurt: {public_text(PEER)}\n", (
            "      frankfurt:\n"
            f"        - {{key: {public_text(PEER)}, until: 2026-11-20T12:00:00Z}}\n"
            f"        - {{key: {public_text(new)}, from: 2026-11-19T12:00:00Z}}\n"))
        q = parse_config(with_quorum(body), "config.yaml").quorum
        assert q is not None
        [(old_key, new_key)] = q.peer_keys().values()
        assert (old_key.valid_from, old_key.valid_until) == (None, 1_795_176_000.0)
        assert (new_key.valid_from, new_key.valid_until) == (1_795_089_600.0, None)
        assert old_key.valid_at(1_795_100_000)
        assert new_key.valid_at(1_795_100_000)
        assert not old_key.valid_at(1_795_176_000)
        bad = body.replace("until: 2026-11-20", "from: 2026-11-21T00:00:00Z, until: 2026-11-20")
        [refused] = problems(with_quorum(bad))
        assert refused.startswith("config.yaml:32: quorum.peers.frankfurt[0]")
        assert refused.endswith("until must be after from")

    def test_min_votes_cannot_exceed_the_vantages(self) -> None:
        found = problems(with_quorum(GOOD.replace("    k: 2\n", "    k: 2\n    min_votes: 3\n")))
        assert found == ["config.yaml:34: quorum.min_votes: min_votes=3 but only 2 vantages "
                         "vote"]

    def test_an_invalid_signing_key_is_refused_without_showing_it(self) -> None:
        found = problems(with_quorum(GOOD.replace(seed(ME), "c2VjcmV0LWtleS1ieXRlcw==")))
        assert len(found) == 1
        assert found[0].startswith("config.yaml:29: quorum.signing_key: private key must be")
        assert "c2VjcmV0" not in found[0]

    def test_without_the_mqtt_extra_the_section_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a: None if name == "aiomqtt" else real(name, *a))
        assert problems(with_quorum(GOOD)) == [
            "config.yaml:27: quorum: needs the mqtt extra: pip install 'sla-probe[mqtt]'"]
