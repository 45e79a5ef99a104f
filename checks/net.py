"""`tcp`, `tls` and `dns`: the network layers under every vendor function.

`tcp` opens a connection; `tls` completes a handshake and records the peer certificate
(fingerprint and expiry, `tls_not_after` in UTC epoch seconds, which the metrics exporter
turns into a timestamp metric); `dns` resolves a name through the system resolver and checks
the expected addresses are among the answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from typing import Literal

from pydantic import Field, field_validator

from checks import base
from checks.base import AttemptContext, CheckConfig, CheckType, Resources, Result
from checks.transport.tls import TlsOptions, build_ssl_context, certificate_evidence
from probe.durations import Duration, format_duration
from probe.secrets import redact

_HOST = r"^[A-Za-z0-9_.:\[\]-]+$"


def classify_socket_error(exc: BaseException) -> tuple[str, str]:
    """(failure class, detail) for an error of a raw connection or handshake."""
    if isinstance(exc, socket.gaierror):
        return base.DNS, f"DNS lookup failed: {exc.strerror or exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return base.TLS, f"certificate rejected: {exc.verify_message or exc}"
    if isinstance(exc, ssl.SSLError):
        return base.TLS, f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return base.CONNECT, f"connection dropped: {exc}"
    if isinstance(exc, OSError):
        return base.CONNECT, f"connect failed: {exc.strerror or exc}"
    return base.ERROR, f"{type(exc).__name__}: {exc}"


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


class TcpConfig(CheckConfig):
    type: Literal["tcp"] = "tcp"
    host: str = Field(pattern=_HOST)
    port: int = Field(ge=1, le=65535)


class TcpCheck:
    def __init__(self, config: TcpConfig, resources: Resources) -> None:
        self.config = config
        self._clock = resources.clock

    async def run(self, ctx: AttemptContext) -> Result:
        start = self._clock.monotonic()
        try:
            _reader, writer = await asyncio.open_connection(self.config.host, self.config.port)
        except OSError as exc:
            failure_class, detail = classify_socket_error(exc)
            return Result.failure(failure_class, redact(detail))
        latency = self._clock.monotonic() - start
        peer = writer.get_extra_info("peername")
        await _close(writer)
        evidence = {"peer": f"{peer[0]}:{peer[1]}"} if peer else {}
        return Result(True, None, "connected", latency, evidence)


class TlsConfig(CheckConfig):
    type: Literal["tls"] = "tls"
    host: str = Field(pattern=_HOST)
    port: int = Field(default=443, ge=1, le=65535)
    tls: TlsOptions = Field(default_factory=TlsOptions)
    min_valid: Duration | None = None

    @field_validator("tls")
    @classmethod
    def _loads(cls, value: TlsOptions) -> TlsOptions:
        build_ssl_context(value)
        return value


class TlsCheck:
    """A full handshake; fails `tls` when it does not complete, `cert_expiry` when too close."""

    def __init__(self, config: TlsConfig, resources: Resources) -> None:
        self.config = config
        self._clock = resources.clock
        self._ssl = build_ssl_context(config.tls)

    async def run(self, ctx: AttemptContext) -> Result:
        cfg = self.config
        server_name = cfg.tls.server_name or cfg.host.strip("[]")
        start = self._clock.monotonic()
        try:
            _reader, writer = await asyncio.open_connection(
                cfg.host.strip("[]"), cfg.port, ssl=self._ssl, server_hostname=server_name
            )
        except (OSError, ssl.SSLError) as exc:
            failure_class, detail = classify_socket_error(exc)
            return Result.failure(failure_class, redact(detail))
        latency = self._clock.monotonic() - start
        ssl_object = writer.get_extra_info("ssl_object")
        evidence: dict[str, str] = {}
        if ssl_object is not None:
            der = ssl_object.getpeercert(binary_form=True)
            if der:
                evidence.update(certificate_evidence(der))
            evidence["tls_version"] = str(ssl_object.version())
        await _close(writer)
        not_after = evidence.get("tls_not_after")
        if cfg.min_valid is not None and not_after is not None:
            left = float(not_after) - self._clock.wall()
            if left < cfg.min_valid:
                when = "expired" if left < 0 else f"expires in {format_duration(max(left, 0))}"
                return Result(
                    False, "cert_expiry",
                    f"certificate {when}, less than {format_duration(cfg.min_valid)}",
                    latency, evidence,
                )
        return Result(True, None, f"handshake ok ({evidence.get('tls_version', '?')})",
                      latency, evidence)


class DnsConfig(CheckConfig):
    type: Literal["dns"] = "dns"
    host: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    record: Literal["A", "AAAA", "A+AAAA"] = "A"
    expect_all: list[str] = Field(default_factory=list)
    expect_any: list[str] = Field(default_factory=list)
    min_answers: int = Field(default=1, ge=0)

    @field_validator("expect_all", "expect_any")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_address(v)) for v in value]


def judge_answers(cfg: DnsConfig, answers: list[str]) -> str | None:
    """What is wrong with `answers`, or None."""
    if len(answers) < cfg.min_answers:
        return f"{len(answers)} answers, expected at least {cfg.min_answers}"
    missing = [a for a in cfg.expect_all if a not in answers]
    if missing:
        return f"missing {', '.join(missing)}"
    if cfg.expect_any and not set(cfg.expect_any) & set(answers):
        return f"none of {', '.join(cfg.expect_any)} in the answers"
    return None


_FAMILIES = {"A": socket.AF_INET, "AAAA": socket.AF_INET6, "A+AAAA": socket.AF_UNSPEC}


class DnsCheck:
    """Resolution through the system resolver (`getaddrinfo`, off the loop in an executor)."""

    def __init__(self, config: DnsConfig, resources: Resources) -> None:
        self.config = config
        self._clock = resources.clock

    async def resolve(self) -> list[str]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            self.config.host, None, family=_FAMILIES[self.config.record],
            type=socket.SOCK_STREAM,
        )
        return sorted({str(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
                       for info in infos})

    async def run(self, ctx: AttemptContext) -> Result:
        cfg = self.config
        start = self._clock.monotonic()
        try:
            answers = await self.resolve()
        except OSError as exc:
            failure_class, detail = classify_socket_error(exc)
            return Result.failure(failure_class, redact(detail))
        latency = self._clock.monotonic() - start
        evidence = {"answers": ",".join(answers)}
        problem = judge_answers(cfg, answers)
        if problem is not None:
            return Result(False, base.ASSERTION, problem, latency, evidence)
        return Result(True, None, f"{cfg.host} {cfg.record}: {len(answers)} answers",
                      latency, evidence)


def build_tcp(config: TcpConfig, resources: Resources) -> TcpCheck:
    return TcpCheck(config, resources)


def build_tls(config: TlsConfig, resources: Resources) -> TlsCheck:
    return TlsCheck(config, resources)


def build_dns(config: DnsConfig, resources: Resources) -> DnsCheck:
    return DnsCheck(config, resources)


CHECK_TYPES = (
    CheckType("tcp", TcpConfig, build_tcp),
    CheckType("tls", TlsConfig, build_tls),
    CheckType("dns", DnsConfig, build_dns),
)
