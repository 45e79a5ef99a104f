"""Shared fixtures for check tests: attempt contexts, a test PKI and an mTLS HTTPS server."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from checks.base import AttemptContext, Resources
from probe.clock import SystemClock


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()


@pytest.fixture
def resources(clock: SystemClock) -> Resources:
    return Resources(clock=clock)


MakeCtx = Callable[..., AttemptContext]


@pytest.fixture
def make_ctx(clock: SystemClock) -> MakeCtx:
    def make(timeout: float = 5.0) -> AttemptContext:
        return AttemptContext(timeout=timeout, clock=clock, started_mono=clock.monotonic())

    return make


# --- a test PKI -----------------------------------------------------------------------


@dataclasses.dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_ca: Path
    rogue_server_cert: Path
    rogue_server_key: Path
    expired_server_cert: Path
    expired_server_key: Path
    server_not_after: datetime.datetime


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _ca(
    common_name: str, now: datetime.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    server: bool,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA with a server certificate for 127.0.0.1 and a client certificate, plus a rogue CA."""
    out = tmp_path_factory.mktemp("pki")
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    ca, ca_key = _ca("sla-probe test CA", now)
    not_after = now + datetime.timedelta(days=30)
    server, server_key = _leaf(
        "127.0.0.1", ca, ca_key, server=True,
        not_before=now - datetime.timedelta(hours=1), not_after=not_after,
    )
    client, client_key = _leaf(
        "sla-probe client", ca, ca_key, server=False,
        not_before=now - datetime.timedelta(hours=1), not_after=not_after,
    )
    rogue, rogue_key = _ca("rogue CA", now)
    rogue_server, rogue_server_key = _leaf(
        "127.0.0.1", rogue, rogue_key, server=True,
        not_before=now - datetime.timedelta(hours=1), not_after=not_after,
    )
    expired, expired_key = _leaf(
        "127.0.0.1", ca, ca_key, server=True,
        not_before=now - datetime.timedelta(days=10), not_after=now - datetime.timedelta(days=1),
    )
    return Pki(
        ca=_write_cert(out / "ca.pem", ca),
        server_cert=_write_cert(out / "server.pem", server),
        server_key=_write_key(out / "server.key", server_key),
        client_cert=_write_cert(out / "client.pem", client),
        client_key=_write_key(out / "client.key", client_key),
        rogue_ca=_write_cert(out / "rogue-ca.pem", rogue),
        rogue_server_cert=_write_cert(out / "rogue-server.pem", rogue_server),
        rogue_server_key=_write_key(out / "rogue-server.key", rogue_server_key),
        expired_server_cert=_write_cert(out / "expired-server.pem", expired),
        expired_server_key=_write_key(out / "expired-server.key", expired_key),
        server_not_after=not_after,
    )


def server_ssl_context(cert: Path, key: Path, client_ca: Path | None) -> ssl.SSLContext:
    """A server context; with `client_ca`, a client certificate from that CA is required."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StartServer = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Start aiohttp apps on 127.0.0.1 free ports; returns the base URL; stops them after."""
    runners: list[web.AppRunner] = []

    async def start(
        routes: dict[str, Handler], *, ssl_context: ssl.SSLContext | None = None
    ) -> str:
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_route("*", path, handler)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        host, port = runner.addresses[0][:2]
        scheme = "https" if ssl_context is not None else "http"
        return f"{scheme}://{host}:{port}"

    yield start
    for runner in runners:
        await asyncio.wait_for(runner.cleanup(), 5)
