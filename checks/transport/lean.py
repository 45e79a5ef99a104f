"""The lean HTTP/1.1 path: one request on a fresh connection, with exact phase timings.

Why: with a fresh connection per attempt (the default), aiohttp's session, connector,
request and response machinery is the largest piece of the daemon's CPU per attempt after
the kernel's socket work (BENCHMARKS.md, issue 19), and none of it is needed to send one
request and read one answer. This path does only that: `loop.getaddrinfo`, a TCP connect,
the TLS handshake on the check's shared `SSLContext`, one write, and an `asyncio.Protocol`
feeding httptools (llhttp, the parser uvicorn uses) until the answer is complete; then the
connection is closed (`Connection: close` is sent, as aiohttp's `force_close` does).

It is used by `HttpClient.exchange` (checks/transport/http.py) whenever it covers the
request: `fresh_connection: true`, `http_client: lean` (the default), no user name or
password in the URL. Everything else goes through aiohttp. The two must agree: the same
request bytes (`request_head` builds aiohttp's header set in aiohttp's order), the same
status, body hash, TLS evidence and failure class for the same target;
tests/checks/lean/test_transport_lean.py proves it on the hostile targets.

Phase timings, measured on the check's clock and put into the evidence as seconds:

- `dns_seconds`: `getaddrinfo` (absent when the host is an IP address: nothing is resolved,
  as aiohttp resolves nothing either);
- `connect_seconds`: the TCP handshake, every address tried included;
- `tls_seconds` (https only): the TLS handshake;
- `first_byte_seconds`: from the request written to the first byte of the answer.

TCP and TLS are timed apart by connecting a plain socket first (aiohappyeyeballs'
`start_connection`, the very call aiohttp makes, so the addresses are tried in the same
order with the same 250 ms happy-eyeballs stagger) and handing the connected socket to
`loop.create_connection(sock=..., ssl=...)`, which then does nothing but the handshake.
That is exact (each clock reading sits between two awaits of one phase) and costs nothing
extra: it is the same sequence aiohttp runs, without `loop.start_tls`'s second transport.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING

import aiohappyeyeballs
import yarl
from aiohttp.client_reqrep import ClientRequest
from aiohttp.http import SERVER_SOFTWARE
from multidict import CIMultiDict

from checks import base
from checks.base import CheckFailure
from checks.transport.lean_protocol import Answer, AnswerProtocol, LostEarly
from checks.transport.tls import TlsOptions, build_ssl_context, certificate_evidence
from probe.secrets import redact

if TYPE_CHECKING:
    from probe.clock import Clock

HAPPY_EYEBALLS_DELAY = 0.25  # aiohttp's TCPConnector default
_DEFAULT_TLS = TlsOptions()
_METHOD_REFUSED = re.compile(r"[^-!#$%&'*+.^_`|~0-9a-zA-Z]")  # aiohttp's check of a method
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # aiohttp's check of header text
_DEFAULTS = tuple(ClientRequest.DEFAULT_HEADERS.items())  # Accept, Accept-Encoding
_GET_METHODS = frozenset(ClientRequest.GET_METHODS)
_POST_METHODS = frozenset(ClientRequest.POST_METHODS)
# aiohttp sends these once more when the connection is lost before the answer's headers
# (ClientSession._request, RFC 9112 §9.3.1).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


def request_head(method: str, url: yarl.URL, headers: Mapping[str, str],
                 body: bytes | None) -> bytes:
    """The request line and headers aiohttp would send for this request, byte for byte.

    aiohttp's rules (ClientRequest): `Host` first (a caller's `Host` replaces it), the
    caller's headers, `Accept: */*` and aiohttp's `Accept-Encoding` unless given, a
    `User-Agent` unless given, `Content-Length` (0 for a method that carries a body but has
    none), `Content-Type: application/octet-stream` for a body or a POST/PUT/PATCH without
    one, and `Connection: close` (the connector's force_close).
    """
    method = method.upper()
    if _METHOD_REFUSED.search(method):
        raise ValueError(f"Method cannot contain non-token characters {method!r}")
    out: CIMultiDict[str] = CIMultiDict()
    host = url.host_port_subcomponent
    assert host is not None
    out["Host"] = host
    for key, value in headers.items():
        if key.lower() == "host":
            out[key] = value
        else:
            out.add(key, value)
    for key, value in _DEFAULTS:
        if key not in out:
            out[key] = value
    if "User-Agent" not in out:
        out["User-Agent"] = SERVER_SOFTWARE
    if body is None:
        if method not in _GET_METHODS and "Content-Length" not in out:
            out["Content-Length"] = "0"
    else:
        if "Content-Length" not in out:
            out["Content-Length"] = str(len(body))
        if "Content-Type" not in out:
            out["Content-Type"] = "application/octet-stream"
    if method in _POST_METHODS and "Content-Type" not in out:
        out["Content-Type"] = "application/octet-stream"
    if "Connection" not in out:
        out["Connection"] = "close"
    lines = [f"{method} {url.raw_path_qs} HTTP/1.1"]
    lines.extend(f"{key}: {value}" for key, value in out.items())
    if any(_FORBIDDEN.search(line) is not None for line in lines):
        raise ValueError("Forbidden control character detected in headers. "
                         "Potential header injection attack.")
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


def covers(url: yarl.URL) -> bool:
    """Whether the lean path can send a request to `url` exactly as aiohttp would."""
    return (url.scheme in ("http", "https") and bool(url.raw_host)
            and url.raw_user is None and url.raw_password is None)


class _Target:
    """What one URL needs per attempt, worked out once: host, port, request target, the
    addresses when the host is an IP literal, and the last request head built for it."""

    __slots__ = ("head", "head_key", "host", "https", "infos", "port", "url")

    def __init__(self, url: yarl.URL) -> None:
        self.url = url
        self.https = url.scheme == "https"
        host = url.raw_host
        assert host is not None
        self.host = host
        port = url.port
        assert port is not None
        self.port = port
        self.infos: list[aiohappyeyeballs.AddrInfoType] | None = None
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            socket.inet_pton(family, host)
        except OSError:
            pass
        else:  # an IP literal: aiohttp resolves nothing either
            addr = (host, port, 0, 0) if family == socket.AF_INET6 else (host, port)
            self.infos = [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", addr)]
        self.head_key: tuple[object, ...] | None = None
        self.head = b""


def _seconds(value: float) -> str:
    return f"{value:.6f}"


class LeanClient:
    """Sends one request per call on a new connection; see the module docstring."""

    __slots__ = ("_clock", "_server_name", "_ssl", "_targets")

    def __init__(self, clock: Clock, ssl_context: ssl.SSLContext | None,
                 server_name: str | None) -> None:
        self._clock = clock
        self._ssl = ssl_context  # the check's context (https checks), shared per options
        self._server_name = server_name if ssl_context is not None else None
        self._targets: dict[str, _Target] = {}

    def target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) >= 16:  # redirect chains: keep the table small
                self._targets.clear()
            target = self._targets[url] = _Target(yarl.URL(url))
        return target

    def _head(self, target: _Target, method: str, headers: Mapping[str, str],
              body: bytes | None) -> bytes:
        """The request head, rebuilt only when method, headers or body size changed (an
        `auth:` signature changes every attempt; plain checks send the same head)."""
        key = (method, tuple(headers.items()), None if body is None else len(body))
        if key != target.head_key:
            target.head = request_head(method, target.url, headers, body)
            target.head_key = key
        return target.head

    async def request(self, method: str, url: str, *, headers: Mapping[str, str],
                      body: bytes | None, max_body: int, stop_at: frozenset[int],
                      evidence: dict[str, str]) -> Answer:
        """One request and its answer; a transport failure raises a classified, redacted
        `CheckFailure`. `evidence` receives the TLS peer certificate and the phase timings
        as soon as they are known, so a failure carries what was measured before it."""
        target = self.target(url)
        data = self._head(target, method, headers, body)
        if body:
            data += body
        if method.upper() in IDEMPOTENT_METHODS:
            try:
                return await self._once(target, method, data, max_body=max_body, stop_at=stop_at,
                                  evidence=evidence)
            except LostEarly:
                pass  # once more on a new connection, as aiohttp does
        return await self._once(target, method, data, max_body=max_body, stop_at=stop_at,
                                  evidence=evidence)

    async def _once(self, target: _Target, method: str, data: bytes, *, max_body: int,
                    stop_at: frozenset[int], evidence: dict[str, str]) -> Answer:
        loop = asyncio.get_running_loop()
        clock = self._clock
        infos = target.infos
        started = clock.monotonic()
        if infos is None:
            infos = await self._resolve(loop, target)
            resolved = clock.monotonic()
            evidence["dns_seconds"] = _seconds(resolved - started)
            started = resolved
        try:
            sock = await aiohappyeyeballs.start_connection(
                infos, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY, loop=loop)
        except OSError as exc:
            raise CheckFailure(base.CONNECT, redact(f"connect failed: {exc}"),
                               evidence) from None
        connected = clock.monotonic()
        evidence["connect_seconds"] = _seconds(connected - started)
        waiter: asyncio.Future[Answer] = loop.create_future()
        protocol = AnswerProtocol(waiter, clock, max_body, head=method.upper() == "HEAD",
                                  stop_at=stop_at)
        transport = await self._open(loop, target, sock, protocol, evidence)
        if target.https:
            evidence["tls_seconds"] = _seconds(clock.monotonic() - connected)
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if der:
                evidence.update(certificate_evidence(der))
        try:
            transport.write(data)
            sent = clock.monotonic()
            answer = await waiter
        except CheckFailure as exc:
            exc.detail = redact(exc.detail)
            exc.evidence.update(evidence)
            raise
        finally:
            if not transport.is_closing():
                transport.abort()  # cancelled (the scheduler's timeout) or failed
        if protocol.first_byte is not None:
            evidence["first_byte_seconds"] = _seconds(protocol.first_byte - sent)
        return answer

    async def _resolve(self, loop: asyncio.AbstractEventLoop,
                       target: _Target) -> list[aiohappyeyeballs.AddrInfoType]:
        """getaddrinfo as aiohttp's ThreadedResolver calls it (SOCK_STREAM, ADDRCONFIG)."""
        try:
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM,
                                           flags=socket.AI_ADDRCONFIG)
        except OSError as exc:
            raise CheckFailure(base.DNS, redact(f"DNS lookup failed: {exc}")) from None
        out: list[aiohappyeyeballs.AddrInfoType] = [
            (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)
            for family, _, _, _, address in infos
            if family in (socket.AF_INET, socket.AF_INET6)]
        if not out:
            raise CheckFailure(base.DNS, "DNS lookup failed: [Errno None] DNS lookup failed")
        return out

    async def _open(self, loop: asyncio.AbstractEventLoop, target: _Target,
                    sock: socket.socket, protocol: AnswerProtocol,
                    evidence: dict[str, str]) -> asyncio.Transport:
        """The transport on the connected socket; for https, after the TLS handshake.
        Failures are classified as aiohttp's connector classifies them."""
        context = None
        server_hostname = None
        if target.https:
            # an https hop of an http check: the verifying default, as aiohttp's ssl=True
            context = self._ssl if self._ssl is not None else build_ssl_context(_DEFAULT_TLS)
            server_hostname = (self._server_name or target.host).rstrip(".")
        try:
            transport, _ = await loop.create_connection(
                lambda: protocol, sock=sock, ssl=context, server_hostname=server_hostname)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise CheckFailure(base.TLS, redact(f"certificate rejected: {exc}"),
                               evidence) from None
        except ssl.SSLError as exc:
            sock.close()
            raise CheckFailure(base.TLS, redact(
                f"TLS failed: Cannot connect to host {target.host}:{target.port} "
                f"[{exc.strerror or exc}]"), evidence) from None
        except OSError as exc:
            sock.close()
            raise CheckFailure(base.CONNECT, redact(f"connect failed: {exc}"),
                               evidence) from None
        except BaseException:
            sock.close()
            raise
        return transport  # (uvloop's is no asyncio.Transport subclass: no isinstance check)
