"""`mqtt_broadcast` against a real Mosquitto broker on loopback."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from checks.base import Resources
from checks.registry import validate_config
from tests.checks.conftest import MakeCtx, Pki
from tests.realtools import free_port, require_tool

pytest.importorskip("aiomqtt")

from checks.mqtt_broadcast import MqttBroadcastCheck, MqttBroadcastConfig

TOPIC = "sla-probe/broadcast"


def _wait_listening(port: int, process: subprocess.Popen[bytes], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {process.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not listen on {port} within {limit}s")


StartBroker = Callable[..., int]


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[StartBroker]:
    """Start Mosquitto brokers on 127.0.0.1 free ports (extra config lines optional)."""
    binary = require_tool("mosquitto")
    processes: list[subprocess.Popen[bytes]] = []

    def start(*, listener_extra: str = "", extra: str = "allow_anonymous true\n") -> int:
        port = free_port()
        conf = tmp_path / f"mosquitto-{port}.conf"
        conf.write_text(
            f"user root\npersistence false\nlog_dest stderr\nlog_type error\n"
            f"listener {port} 127.0.0.1\n{listener_extra}{extra}"
        )
        with (tmp_path / f"mosquitto-{port}.log").open("wb") as log:
            process = subprocess.Popen(
                [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=log
            )
        processes.append(process)
        _wait_listening(port, process)
        return port

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _config(port: int, **changes: Any) -> MqttBroadcastConfig:
    return MqttBroadcastConfig.model_validate(
        {"name": "mq", "type": "mqtt_broadcast", "host": "127.0.0.1", "port": port,
         "topic": TOPIC, "interval": "10s", "timeout": "3s", **changes}
    )


async def _run(config: MqttBroadcastConfig, resources: Resources, make_ctx: MakeCtx,
               timeout: float = 3.0) -> Any:
    check = MqttBroadcastCheck(config, resources)
    return await asyncio.wait_for(check.run(make_ctx(timeout)), timeout + 2)


@pytest.mark.real
class TestMqttBroadcastWithMosquitto:
    async def test_nonce_comes_back_with_latency(
        self, mosquitto: StartBroker, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        port = mosquitto()
        result = await _run(_config(port), resources, make_ctx)
        assert result.ok, result.detail
        assert result.latency is not None
        assert 0 <= result.latency < 3
        assert float(result.evidence["delivery_seconds"]) == pytest.approx(
            result.latency, abs=1e-6
        )
        assert len(result.evidence["nonce"]) == 32
        assert result.evidence["broker"] == f"127.0.0.1:{port}"

    async def test_each_attempt_uses_a_fresh_nonce(
        self, mosquitto: StartBroker, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        port = mosquitto()
        results = [await _run(_config(port), resources, make_ctx) for _ in range(3)]
        assert all(r.ok for r in results)
        assert len({r.evidence["nonce"] for r in results}) == 3

    async def test_broker_that_does_not_deliver_is_not_delivered(
        self, mosquitto: StartBroker, resources: Resources, make_ctx: MakeCtx, tmp_path: Path
    ) -> None:
        acl = tmp_path / "acl"
        acl.write_text(f"topic write {TOPIC}\n")  # anonymous may publish but never receive
        port = mosquitto(extra=f"allow_anonymous true\nacl_file {acl}\n")
        started = time.monotonic()
        result = await _run(_config(port, timeout="1s"), resources, make_ctx, timeout=1.0)
        assert result.failure_class == "not_delivered", result.detail
        assert time.monotonic() - started < 1.0  # reported by the check, before the timeout

    async def test_dead_broker_is_connect(
        self, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        result = await _run(_config(free_port()), resources, make_ctx)
        assert result.failure_class == "connect"
        assert "refused" in result.detail.lower()

    async def test_broker_refusing_anonymous_clients_is_connect(
        self, mosquitto: StartBroker, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        port = mosquitto(extra="allow_anonymous false\n")
        result = await _run(_config(port, username="probe", password="s3cret-pass"),
                            resources, make_ctx)
        assert result.failure_class == "connect"
        assert "refused" in result.detail
        assert "s3cret-pass" not in result.detail

    async def test_tls_broker_records_certificate_fingerprint(
        self, mosquitto: StartBroker, pki: Pki, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        port = mosquitto(listener_extra=(
            f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        ))
        result = await _run(_config(port, tls={"ca_file": str(pki.ca)}), resources, make_ctx)
        assert result.ok, result.detail
        cert = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
        expected = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        assert result.evidence["tls_peer_sha256"] == expected

    async def test_tls_broker_with_untrusted_certificate_is_tls(
        self, mosquitto: StartBroker, pki: Pki, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        port = mosquitto(listener_extra=(
            f"certfile {pki.rogue_server_cert}\nkeyfile {pki.rogue_server_key}\n"
        ))
        # paho-mqtt does not close its TLS socket when the handshake fails; the socket is
        # finalised (with a ResourceWarning) whenever the exception holding it is freed.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            result = await _run(_config(port, tls={"ca_file": str(pki.ca)}), resources,
                                make_ctx)
            gc.collect()
        assert result.failure_class == "tls", result.detail
        assert "certificate" in result.detail.lower()


class TestMqttBroadcastConfig:
    def test_registered_with_default_ports(self) -> None:
        plain = validate_config({"name": "m", "type": "mqtt_broadcast", "host": "b"})
        assert isinstance(plain, MqttBroadcastConfig)
        assert plain.broker_port == 1883
        tls = MqttBroadcastConfig(name="m", host="b", tls={})  # type: ignore[arg-type]
        assert tls.broker_port == 8883

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"password": "x"}, "password needs username"),
            ({"topic": "a/#"}, "pattern"),
            ({"tls": {"server_name": "x"}}, "server_name"),
        ],
    )
    def test_bad_config_is_refused(self, changes: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            MqttBroadcastConfig.model_validate({"name": "m", "host": "b", **changes})

    def test_password_from_file_is_masked(self, tmp_path: Path) -> None:
        path = tmp_path / "pw"
        path.write_text("mqtt-password-1\n")
        config = MqttBroadcastConfig.model_validate(
            {"name": "m", "host": "b", "username": "u", "password_file": str(path)}
        )
        assert config.password is not None
        assert config.password.get_secret_value() == "mqtt-password-1"
        assert "mqtt-password-1" not in repr(config)
