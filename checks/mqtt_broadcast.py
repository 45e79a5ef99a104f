"""`mqtt_broadcast`: a message published to the broker must come back to a subscriber.

Each attempt connects afresh (clean session, new client id), subscribes to the topic at QoS 1,
publishes a fresh random nonce at QoS 1 and waits for that nonce to be delivered back. It fails
`not_delivered` when the nonce has not arrived shortly before the attempt's timeout (the check
keeps a small margin so it can say so itself instead of being cancelled), and reports the
publish→receive latency as the attempt's latency.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import ssl
from typing import Any, Literal

import aiomqtt
from pydantic import ConfigDict, Field, model_validator

from checks import base
from checks.base import AttemptContext, CheckConfig, CheckType, Resources, Result
from checks.transport.mqtt import broker_port, validate_broker
from checks.transport.tls import TlsOptions, build_ssl_context
from probe.durations import Duration
from probe.secrets import Secret, redact


class MqttBroadcastConfig(CheckConfig):
    model_config = ConfigDict(hide_input_in_errors=True)  # errors never echo secrets

    type: Literal["mqtt_broadcast"] = "mqtt_broadcast"
    host: str = Field(pattern=r"^[A-Za-z0-9_.:\[\]-]+$")
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: TlsOptions | None = None
    username: str | None = None
    password: Secret | None = None
    topic: str = Field(default="sla-probe/broadcast", pattern=r"^[^#+\x00]+$")
    margin: Duration | None = None

    @model_validator(mode="after")
    def _coherent(self) -> MqttBroadcastConfig:
        validate_broker(self.username, self.password, self.tls)
        return self

    @property
    def broker_port(self) -> int:
        return broker_port(self.port, self.tls)


def classify_mqtt_error(exc: BaseException) -> tuple[str, str]:
    """(class, detail) for a failed connect; aiomqtt turns socket errors into text."""
    text = str(exc)
    if isinstance(exc, aiomqtt.MqttCodeError):
        return base.CONNECT, f"broker refused the connection: {text}"
    lowered = text.lower()
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return base.TLS, f"TLS failed: {text}"
    if "name or service not known" in lowered or "name resolution" in lowered or (
        "nodename nor servname" in lowered
    ):
        return base.DNS, f"DNS lookup failed: {text}"
    return base.CONNECT, f"connect failed: {text}"


def _peer_sha256(client: Any) -> str | None:
    """The broker certificate's fingerprint, from paho's socket (aiomqtt keeps it private)."""
    paho = getattr(client, "_client", None)
    sock = paho.socket() if paho is not None else None
    if not isinstance(sock, ssl.SSLSocket):
        return None
    der = sock.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest() if der else None


class MqttBroadcastCheck:
    def __init__(self, config: MqttBroadcastConfig, resources: Resources) -> None:
        self.config = config
        self._clock = resources.clock
        self._ssl = build_ssl_context(config.tls) if config.tls is not None else None

    def _client(self, timeout: float) -> Any:
        cfg = self.config
        password = cfg.password.get_secret_value() if cfg.password is not None else None
        return aiomqtt.Client(
            cfg.host.strip("[]"),
            cfg.broker_port,
            username=cfg.username,
            password=password,
            identifier=f"sla-probe-{cfg.name}-{secrets.token_hex(4)}",
            clean_session=True,
            tls_context=self._ssl,  # paho takes hostname checking from the context
            timeout=max(timeout, 0.01),
            keepalive=max(5, int(cfg.interval)),
        )

    async def run(self, ctx: AttemptContext) -> Result:
        cfg = self.config
        margin = cfg.margin if cfg.margin is not None else min(0.25, 0.1 * ctx.timeout)
        deadline = self._clock.monotonic() + max(0.0, ctx.remaining() - margin)
        nonce = secrets.token_hex(16)
        evidence: dict[str, str] = {
            "broker": f"{cfg.host}:{cfg.broker_port}", "topic": cfg.topic, "nonce": nonce,
        }
        client = self._client(deadline - self._clock.monotonic())
        start = self._clock.monotonic()
        try:
            async with asyncio.timeout(max(0.0, deadline - self._clock.monotonic())):
                await client.__aenter__()
        except TimeoutError:
            return Result(False, base.CONNECT, "connect did not complete in time", None, evidence)
        except aiomqtt.MqttError as exc:
            failure_class, detail = classify_mqtt_error(exc)
            return Result(False, failure_class, redact(detail), None, evidence)
        evidence["connect_seconds"] = f"{self._clock.monotonic() - start:.6f}"
        fingerprint = _peer_sha256(client)
        if fingerprint is not None:
            evidence["tls_peer_sha256"] = fingerprint
        try:
            return await self._round_trip(client, nonce, deadline, evidence)
        finally:
            try:
                async with asyncio.timeout(1.0):
                    await client.__aexit__(None, None, None)
            except (TimeoutError, aiomqtt.MqttError):
                pass

    async def _round_trip(
        self, client: Any, nonce: str, deadline: float, evidence: dict[str, str]
    ) -> Result:
        cfg = self.config
        payload = nonce.encode()
        published: float | None = None
        try:
            async with asyncio.timeout(max(0.0, deadline - self._clock.monotonic())):
                granted = await client.subscribe(cfg.topic, qos=1)
                if any(int(getattr(code, "value", code)) >= 0x80 for code in granted):
                    return Result(False, base.REJECTED, "broker refused the subscription",
                                  None, evidence)
                published = self._clock.monotonic()
                await client.publish(cfg.topic, payload, qos=1)
                async for message in client.messages:
                    if message.payload == payload:
                        latency = self._clock.monotonic() - published
                        evidence["delivery_seconds"] = f"{latency:.6f}"
                        return Result(True, None, f"delivered in {latency * 1000:.1f}ms",
                                      latency, evidence)
        except TimeoutError:
            if published is None:
                return Result(False, base.NOT_DELIVERED, "subscribe/publish not acknowledged "
                              "in time", None, evidence)
            return Result(False, base.NOT_DELIVERED, "nonce did not come back in time",
                          None, evidence)
        except aiomqtt.MqttError as exc:
            return Result(False, base.CONNECT, redact(f"connection lost: {exc}"), None,
                          evidence)
        return Result(False, base.NOT_DELIVERED, "message stream ended", None, evidence)


def build_mqtt_broadcast(config: MqttBroadcastConfig, resources: Resources) -> MqttBroadcastCheck:
    return MqttBroadcastCheck(config, resources)


CHECK_TYPES = (CheckType("mqtt_broadcast", MqttBroadcastConfig, build_mqtt_broadcast),)
