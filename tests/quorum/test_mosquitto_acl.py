"""The shipped Mosquitto ACL (deploy/mosquitto/acl) on a real broker: each vantage may
publish only under its own name, and everybody reads everybody's verdicts."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import math
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.quorum.conftest import Broker, Cluster
from tests.realtools import require_tool
from tests.servers import ScheduledTarget, wait_until

aiomqtt = pytest.importorskip("aiomqtt")

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "acl"
USERS = {"a": "pw-a-123", "b": "pw-b-123", "c": "pw-c-123", "observer": "pw-o-123"}
MARKER = "# -- one block per vantage"


def render_acl(directory: Path, vantages: tuple[str, ...] = ("a", "b", "c")) -> Path:
    """The shipped ACL with its example vantage blocks replaced by blocks for `vantages`,
    written exactly as the shipped ones are (one `user` line, two `topic write` lines)."""
    text = SHIPPED.read_text()
    head, tail = text.split(MARKER)
    example = tail.split("\n\n")[0].split("\n", 1)[1]  # the first block: user zurich ...
    blocks = "\n".join(example.replace("zurich", name) + "\n" for name in vantages)
    path = directory / "acl"
    path.write_text(head + MARKER + "\n" + blocks)
    return path


@pytest.fixture
def guarded_broker(tmp_path: Path) -> Iterator[Broker]:
    passwd_tool = require_tool("mosquitto_passwd")
    passwords = tmp_path / "passwd"
    for i, (user, password) in enumerate(USERS.items()):
        args = [passwd_tool, "-b", *(["-c"] if i == 0 else []), str(passwords), user, password]
        subprocess.run(args, check=True, capture_output=True)
    broker = Broker(require_tool("mosquitto"), tmp_path,
                    f"allow_anonymous false\npassword_file {passwords}\n"
                    f"acl_file {render_acl(tmp_path)}\n")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def client(broker: Broker, user: str) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", broker.port, username=user, password=USERS[user],
                          identifier=f"acl-test-{user}")


@pytest.mark.real
class TestMosquittoAcl:
    async def test_a_vantage_publishes_only_under_its_own_name(
        self, guarded_broker: Broker
    ) -> None:
        received: list[str] = []
        async with client(guarded_broker, "c") as reader:
            await reader.subscribe("sla-probe/v1/#", qos=1)
            async with client(guarded_broker, "a") as writer:
                for topic in ("sla-probe/v1/verdicts/k/api/b", "sla-probe/v1/sync/b",
                              "sla-probe/v1/verdicts/k/api/a", "sla-probe/v1/sync/a"):
                    await writer.publish(topic, b"x", qos=1)

            async def collect() -> None:
                async for message in reader.messages:
                    received.append(str(message.topic))  # noqa: PERF401 - runs until timeout

            with pytest.raises(TimeoutError):
                await asyncio.wait_for(collect(), 1.5)
        assert received == ["sla-probe/v1/verdicts/k/api/a", "sla-probe/v1/sync/a"]

    async def test_an_observer_reads_everything_and_publishes_nothing(
        self, guarded_broker: Broker
    ) -> None:
        received: list[str] = []
        async with client(guarded_broker, "c") as reader, \
                client(guarded_broker, "observer") as observer:
            await reader.subscribe("sla-probe/v1/#", qos=1)
            await observer.subscribe("sla-probe/v1/#", qos=1)
            for topic in ("sla-probe/v1/verdicts/k/api/observer", "sla-probe/v1/sync/observer",
                          "sla-probe/v1/verdicts/k/api/a", "sla-probe/v1/sync/a"):
                await observer.publish(topic, b"[" * 3000, qos=1)
            async with client(guarded_broker, "a") as writer:
                await writer.publish("sla-probe/v1/sync/a", b"x", qos=1)

            async def collect() -> None:
                async for message in reader.messages:
                    received.append(str(message.topic))  # noqa: PERF401 - runs until timeout

            with pytest.raises(TimeoutError):
                await asyncio.wait_for(collect(), 1.5)
            seen = [str((await anext(observer.messages)).topic)]
        assert received == ["sla-probe/v1/sync/a"]
        assert seen == ["sla-probe/v1/sync/a"]

    def test_the_shipped_acl_loads_and_renders_one_block_per_vantage(
        self, tmp_path: Path
    ) -> None:
        text = render_acl(tmp_path, ("x", "y")).read_text()
        assert "user x\ntopic write sla-probe/v1/verdicts/+/+/x\ntopic write sla-probe/v1/sync/x" \
            in text
        assert "zurich" not in text.split(MARKER)[1]
        broker = Broker(require_tool("mosquitto"), tmp_path, f"acl_file {SHIPPED}\n")
        broker.start()  # raises if mosquitto refuses the file
        broker.stop()

    async def test_anonymous_and_wrong_password_clients_are_refused(
        self, guarded_broker: Broker
    ) -> None:
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", guarded_broker.port):
                pass
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", guarded_broker.port, username="a",
                                      password="wrong"):
                pass


def _pki(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a broker certificate for 127.0.0.1: (ca.crt, broker.crt, broker.key)."""
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("sla-probe test CA"))
          .issuer_name(name("sla-probe test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("broker"))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.crt", directory / "broker.crt", directory / "broker.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.mark.real
class TestDaemonsThroughTlsAndAcl:
    async def test_vantages_with_passwords_over_tls_decide_the_quorum(
        self, tmp_path: Path
    ) -> None:
        ca, cert, key = _pki(tmp_path)
        passwd_tool = require_tool("mosquitto_passwd")
        passwords = tmp_path / "passwd"
        for i, (user, password) in enumerate(USERS.items()):
            subprocess.run([passwd_tool, "-b", *(["-c"] if i == 0 else []), str(passwords),
                            user, password], check=True, capture_output=True)
        broker = Broker(require_tool("mosquitto"), tmp_path, (
            f"allow_anonymous false\npassword_file {passwords}\nacl_file {render_acl(tmp_path)}\n"
            f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"))
        broker.start()
        cluster = Cluster.make(tmp_path, broker)
        try:
            first = math.ceil(time.time()) + 2
            observed = range(first, first + 3)
            async with ScheduledTarget() as vendor, ScheduledTarget() as control:
                for name in cluster.vantages:
                    text = cluster.config(name, target=vendor.url, control=control.url,
                                          window=1).replace(
                        "broker: {host: 127.0.0.1,",
                        f"broker: {{host: 127.0.0.1, tls: {{ca_file: '{ca}'}}, "
                        f"username: {name}, password: {USERS[name]},")
                    await cluster.start(name, text)
                await wait_until(lambda: all(
                    set(observed) <= set(v.verdicts("vendor"))
                    for v in cluster.vantages.values()), 30)
                await cluster.stop()  # daemons first, then the targets they probe
        finally:
            await cluster.stop()
            broker.stop()
        for vantage in cluster.vantages.values():
            assert all(vantage.verdicts("vendor")[w] == "up" for w in observed)
            votes = vantage.votes("vendor")
            assert all(set(votes[(w, "api")]) == {"a", "b", "c"} for w in observed)
