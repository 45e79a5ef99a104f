"""The shipped Mosquitto ACL (deploy/mosquitto/acl) on a real broker: each vantage may
publish only under its own name, and everybody reads everybody's verdicts."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.quorum.conftest import Broker
from tests.realtools import require_tool

aiomqtt = pytest.importorskip("aiomqtt")

ACL = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "acl"
USERS = {"a": "pw-a-123", "b": "pw-b-123", "c": "pw-c-123"}


@pytest.fixture
def guarded_broker(tmp_path: Path) -> Iterator[Broker]:
    passwd_tool = require_tool("mosquitto_passwd")
    passwords = tmp_path / "passwd"
    for i, (user, password) in enumerate(USERS.items()):
        args = [passwd_tool, "-b", *(["-c"] if i == 0 else []), str(passwords), user, password]
        subprocess.run(args, check=True, capture_output=True)
    broker = Broker(require_tool("mosquitto"), tmp_path,
                    f"allow_anonymous false\npassword_file {passwords}\nacl_file {ACL}\n")
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
