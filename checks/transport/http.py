"""The HTTP client every HTTP-based check shares (`http`, `signing`, the EVM JSON-RPC checks).

One client means one behaviour: transport failures get the same classes, bodies the same cap,
and every answer the same evidence (status, body hash, the TLS peer certificate). By default
every request opens a fresh connection (TCP and TLS): an SLA probe must see what a new client
sees, not a warm pooled connection.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import hashlib
import json
import ssl
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import aiohttp
import yarl
from pydantic import ConfigDict, Field, field_validator, model_validator

from checks import base
from checks.auth import AuthConfig, RequestAuth, merge_headers
from checks.base import CheckConfig, CheckFailure
from checks.transport import pool
from checks.transport.lean import LeanClient, covers
from checks.transport.tls import TlsOptions, build_ssl_context, certificate_evidence
from probe.secrets import Secret, redact, resolve_secret_map

if TYPE_CHECKING:
    from probe.clock import Clock

MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NONE: frozenset[int] = frozenset()
HTTP_CLIENTS = ("lean", "aiohttp")


class RequestConfig(CheckConfig):
    """The request part every HTTP-based check shares (http, signing)."""

    model_config = ConfigDict(hide_input_in_errors=True)  # errors never echo secrets

    url: str = Field(pattern=r"^https?://")
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    secret_headers: dict[str, Secret] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    tls: TlsOptions = Field(default_factory=TlsOptions)
    max_body: int = Field(default=1 << 20, ge=0)
    fresh_connection: bool = True
    http_client: Literal["lean", "aiohttp"] = "lean"
    auth: AuthConfig | None = None

    @field_validator("secret_headers", mode="before")
    @classmethod
    def _secret_header_files(cls, value: Any) -> Any:
        """`X-Api-Key_file: PATH` sends header `X-Api-Key` with the file's content."""
        return resolve_secret_map(value)

    @model_validator(mode="after")
    def _one_body(self) -> RequestConfig:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give either body or json, not both")
        build_ssl_context(self.tls)
        return self


def classify_client_error(exc: BaseException) -> tuple[str, str]:
    """(failure class, detail) for an aiohttp/OS error; deliberately explicit per type."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return base.DNS, f"DNS lookup failed: {exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return base.TLS, f"certificate rejected: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return base.TLS, f"TLS failed: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return base.CONNECT, f"connect failed: {exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return base.PROTOCOL, "server closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return base.PROTOCOL, f"bad response: {exc}"
    if isinstance(exc, ConnectionError):
        return base.CONNECT, f"connection error: {exc}"
    if isinstance(exc, aiohttp.ClientError):
        return base.PROTOCOL, f"{type(exc).__name__}: {exc}"
    return base.ERROR, f"{type(exc).__name__}: {exc}"


def peer_certificate_sha256(response: aiohttp.ClientResponse) -> str | None:
    connection = response.connection
    if connection is None or connection.transport is None:
        return None
    ssl_object = connection.transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest() if der else None


async def read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, or `too_large` as soon as more than `limit` bytes arrived."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise CheckFailure(base.TOO_LARGE, f"response body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_PEER_EVIDENCE: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "sla_probe_peer_evidence", default=None
)


class EvidenceConnector(aiohttp.TCPConnector):
    """Records the TLS peer certificate of every connection it opens or hands out.

    The response may release (and, with fresh connections, close) its connection as soon as a
    small body has arrived, before the caller can look at it; so the fingerprint is taken when
    the connection is handed to the request and put into the dict the caller placed in
    `_PEER_EVIDENCE` (a mutable holder, so it survives a copied context).
    """

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        connection = await super().connect(req, traces, timeout)
        holder = _PEER_EVIDENCE.get()
        transport = connection.transport
        if holder is not None and transport is not None:
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if der:
                holder.update(certificate_evidence(der))
        return connection


@dataclasses.dataclass(frozen=True, slots=True)
class Exchange:
    """One completed HTTP request: status, capped body, latency and evidence."""

    status: int
    body: bytes
    latency: float
    evidence: dict[str, str]


class HttpClient:
    """The HTTP client of one check: its TLS context, optional `auth`, and a session that
    is shared with every other fresh-connection client of the same TLS context
    (checks/transport/pool.py) or, with `fresh_connection=False`, its own.

    Shared by every HTTP-based check (`http`, `signing`, the EVM JSON-RPC checks) so they
    classify transport failures, cap bodies and record evidence the same way.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        https: bool,
        tls: TlsOptions,
        fresh_connection: bool = True,
        auth: AuthConfig | None = None,
        user_agent: str = base.DEFAULT_USER_AGENT,
        http_client: str = "lean",
    ) -> None:
        if http_client not in HTTP_CLIENTS:
            raise ValueError(f"http_client must be one of {', '.join(HTTP_CLIENTS)}")
        self._clock = clock
        self._user_agent = user_agent
        self._tls = tls
        self._ssl = build_ssl_context(tls) if https else None
        self._fresh = fresh_connection
        self._auth = RequestAuth(auth) if auth is not None else None
        self._session: aiohttp.ClientSession | None = None
        # The lean path serves fresh-connection requests; aiohttp serves the rest (a warm
        # pool, a URL with credentials) and every check that asks for it.
        self._lean = LeanClient(clock, self._ssl, tls.server_name) if fresh_connection \
            and http_client == "lean" else None

    @property
    def lean(self) -> bool:
        """Whether requests this path covers go through the lean client (for tests)."""
        return self._lean is not None

    def _connector(self, context: ssl.SSLContext | None) -> aiohttp.BaseConnector:
        return EvidenceConnector(
            force_close=self._fresh,
            use_dns_cache=not self._fresh,
            limit=0,
            ssl=context if context is not None else True,
        )

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if self._fresh:  # stateless: shared by every client with this TLS context
                self._session = pool.acquire(self._ssl, self._connector)
            else:
                self._session = aiohttp.ClientSession(
                    connector=self._connector(self._ssl), auto_decompress=True,
                    trust_env=False,
                )
        return self._session

    async def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        max_body: int = 1 << 20,
        follow_redirects: bool = False,
        secret_names: Collection[str] = (),
        progress: dict[str, str] | None = None,
    ) -> Exchange:
        """Send one request; transport failures raise a classified, redacted `CheckFailure`.

        Each hop goes through the lean path (checks/transport/lean.py) when it covers the
        request, else through aiohttp. Redirects are followed here, not by aiohttp, which
        drops only `Authorization` when a redirect leaves the origin: every header in
        `secret_names` and every `auth:` header is dropped too, and each hop is recorded in
        the evidence (`redirects`).
        """
        # `progress` (the attempt's evidence so far, AttemptContext.evidence) receives the
        # peer certificate and the phase timings as they are measured
        peer: dict[str, str] = progress if progress is not None else {}
        hops: list[str] = []
        token = _PEER_EVIDENCE.set(peer)
        start = self._clock.monotonic()
        origin = _origin(url)
        secret = {name.lower() for name in secret_names}
        stop_at = REDIRECTS if follow_redirects else _NONE
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                same_origin = _origin(url) == origin
                sent = self._headers(method, url, body, headers, secret=secret,
                                     same_origin=same_origin)
                lean = self._lean
                if lean is not None and covers(lean.target(url).url):
                    answer = await lean.request(method, url, headers=sent, body=body,
                                                max_body=max_body, stop_at=stop_at,
                                                evidence=peer)
                    status, location, data = answer.status, answer.location, answer.body
                else:
                    status, location, data = await self._via_aiohttp(
                        method, url, sent, body, max_body=max_body, stop_at=stop_at,
                        peer=peer)
                if data is None:  # a redirect to follow (its body was not read)
                    assert location is not None
                    next_url = str(yarl.URL(url).join(yarl.URL(location)))
                    dropped = _origin(next_url) != origin and bool(
                        secret or self._auth is not None)
                    hops.append(f"{status} {next_url}"
                                + (" (secret headers dropped)" if dropped else ""))
                    if status == 303 or (status in (301, 302) and method == "POST"):
                        method, body = "GET", None
                    url = next_url
                    continue
                evidence: dict[str, str] = {"status": str(status)}
                break
            else:
                _too_many_redirects()
        except CheckFailure as exc:
            exc.evidence.update(peer)
            if hops:
                exc.evidence["redirects"] = redact(" -> ".join(hops))
            raise
        except (aiohttp.ClientError, OSError, ssl.SSLError, ValueError) as exc:
            failure_class, detail = classify_client_error(exc)
            evidence = dict(peer)
            if hops:
                evidence["redirects"] = redact(" -> ".join(hops))
            raise CheckFailure(failure_class, redact(detail), evidence) from None
        finally:
            _PEER_EVIDENCE.reset(token)
        evidence.update(peer)
        if hops:
            evidence["redirects"] = redact(" -> ".join(hops))
        evidence["body_sha256"] = hashlib.sha256(data).hexdigest()
        return Exchange(status, data, self._clock.monotonic() - start, evidence)

    async def _via_aiohttp(self, method: str, url: str, sent: dict[str, str],
                           body: bytes | None, *, max_body: int, stop_at: frozenset[int],
                           peer: dict[str, str]) -> tuple[int, str | None, bytes | None]:
        """One hop through aiohttp: (status, first Location, body or None for a redirect
        to follow)."""
        session = self._get_session()
        async with session.request(method, url, **self._kwargs(sent, body)) as response:
            location = response.headers.get("Location")
            if response.status in stop_at and location:
                return response.status, location, None
            fingerprint = peer_certificate_sha256(response)
            if fingerprint is not None:
                peer.setdefault("tls_peer_sha256", fingerprint)
            return response.status, location, await read_capped(response, max_body)

    def _headers(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                 *, secret: set[str], same_origin: bool) -> dict[str, str]:
        """The headers of one hop: no secret or `auth:` header once the origin changed."""
        out = {k: v for k, v in headers.items() if same_origin or k.lower() not in secret}
        if not any(k.lower() == "user-agent" for k in out):
            out["User-Agent"] = self._user_agent
        if self._auth is not None and same_origin:
            signed = self._auth.headers(method, url, body or b"", self._clock.wall())
            out = merge_headers(out, signed)
        return out

    def _kwargs(self, headers: dict[str, str], body: bytes | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "headers": headers,
            "allow_redirects": False,
            "timeout": aiohttp.ClientTimeout(total=None),
        }
        if body is not None:
            kwargs["data"] = body
        if self._tls.server_name is not None and self._ssl is not None:
            kwargs["server_hostname"] = self._tls.server_name
        return kwargs

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and self._fresh:
            await pool.release(session)
        elif session is not None and not session.closed:
            await session.close()
            await asyncio.sleep(0)


def _too_many_redirects() -> NoReturn:
    raise CheckFailure(base.PROTOCOL, f"more than {MAX_REDIRECTS} redirects")


@functools.lru_cache(maxsize=4096)
def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port): a redirect elsewhere must not carry this origin's secrets.

    Cached: a check asks for the origin of the same URL twice per attempt, and parsing it
    is a noticeable part of a cheap attempt."""
    parsed = yarl.URL(url)
    return parsed.scheme, (parsed.host or "").lower(), parsed.port


def encode_json(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def with_content_type(headers: Mapping[str, str], value: str) -> dict[str, str]:
    out = dict(headers)
    if not any(k.lower() == "content-type" for k in out):
        out["Content-Type"] = value
    return out
