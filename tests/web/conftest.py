"""Shared pieces for the web room's tests: a throwaway PKI, a server started with a web
config on a free port of 127.0.0.1, and clients (aiohttp with Python's ssl, and curl)."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from aiohttp import web
from cryptography import x509

from probe.web.config import WebConfig, load_web_config
from tests.pki import CertificateAuthority, Issued
from tests.realtools import require_tool

PASSWORD = "s3cret-scrape"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
# a handshake refused, whichever side notices first
HANDSHAKE_REFUSED = (aiohttp.ClientError, ssl.SSLError, ConnectionError)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(directory, "test-ca")
    rogue = CertificateAuthority(directory, "rogue-ca")
    return {
        "dir": directory,
        "ca": ca.cert_path,
        "server": ca.issue("server", server=True),
        "client": ca.issue("client", server=False),
        "named_client": ca.issue("named-client", server=False, sans=[
            x509.DNSName("prometheus.example"),
            x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
            x509.RFC822Name("ops@example.org"),
            x509.UniformResourceIdentifier("spiffe://example.org/prometheus"),
        ]),
        "rogue_client": rogue.issue("rogue-client", server=False),
    }


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def tls_yaml(extra: str = "", *, auth: str = "") -> str:
    """A tls_server_config with the test server's certificate, plus `extra` lines."""
    mode = f"  client_auth_type: {auth}\n  client_ca_file: test-ca.crt\n" if auth else ""
    return f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{mode}{extra}"


Serve = Callable[[WebConfig], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start a server with a web config on a free port; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(config: WebConfig) -> str:
        async def hello(_: web.Request) -> web.Response:
            return web.Response(text="sla_probe_build_info 1\n")

        app = web.Application(middlewares=[config.middleware(public_paths=["/-/healthy"])])
        app.router.add_get("/metrics", hello)
        app.router.add_get("/-/healthy", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        context = config.ssl_context()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = runner.addresses[0][1]
        return f"{'https' if context else 'http'}://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def serve_yaml(serve: Serve, pki: dict[str, Any]) -> Callable[[str], Awaitable[str]]:
    """Write a web config beside the PKI files, load it and serve it."""
    counter = iter(range(10_000))

    async def start(text: str) -> str:
        path = write(pki["dir"] / f"web-{next(counter)}-{id(text)}.yml", text)
        return await serve(load_web_config(path))

    return start


def client_context(pki: dict[str, Any], client: Issued | None = None,
                   max_version: ssl.TLSVersion | None = None,
                   ciphers: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    if max_version is not None:
        context.maximum_version = max_version
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def get(url: str, *, headers: dict[str, str] | None = None,
              context: ssl.SSLContext | None = None) -> tuple[int, dict[str, str], str]:
    connector = aiohttp.TCPConnector(ssl=context) if context else aiohttp.TCPConnector()
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
        session.get(url, headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.text()


async def curl(url: str, pki: dict[str, Any], *args: str,
               client: Issued | None = None) -> tuple[int, str]:
    """curl's exit code and the HTTP status it saw ("000" when the handshake failed)."""
    program = require_tool("curl")
    cert = ["--cert", str(client.cert), "--key", str(client.key)] if client else []
    process = await asyncio.create_subprocess_exec(
        program, "-sS", "--max-time", "10", "--cacert", str(pki["ca"]), *cert, *args,
        "-o", "/dev/null", "-w", "%{http_code}", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode().strip()
