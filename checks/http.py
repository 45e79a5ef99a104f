"""`http`: one HTTP request, judged by status, body assertions and latency.

By default every attempt opens a fresh connection (TCP and TLS): an SLA probe must see what a
new client sees, not a warm pooled connection.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import hashlib
import json
import re
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from checks import base
from checks.auth import AuthConfig, RequestAuth, merge_headers
from checks.base import AttemptContext, CheckConfig, CheckFailure, Resources, Result
from checks.jsonpath import MISSING, compile_path, lookup
from checks.registry import register
from probe.durations import Duration
from probe.secrets import Secret, redact

if TYPE_CHECKING:
    from probe.clock import Clock


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JsonAssertion(_Strict):
    """`path` must exist; optionally equal a value, be one of values, or match a regex."""

    path: str
    equals: Any = None
    one_of: list[Any] | None = None
    matches: str | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        compile_path(value)
        return value

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


class Expect(_Strict):
    status: list[int] = Field(default_factory=lambda: [200])
    json_: list[JsonAssertion] = Field(default_factory=list, alias="json")
    regex: str | None = None
    not_regex: str | None = None
    max_latency: Duration | None = None

    @field_validator("regex", "not_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    @field_validator("status")
    @classmethod
    def _codes(cls, value: list[int]) -> list[int]:
        if not value or any(not 100 <= v <= 599 for v in value):
            raise ValueError("must list HTTP status codes between 100 and 599")
        return value


class TlsOptions(_Strict):
    verify: bool = True
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None

    @model_validator(mode="after")
    def _pair(self) -> TlsOptions:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (client certificate, mTLS)")
        return self


def build_ssl_context(options: TlsOptions) -> ssl.SSLContext:
    """A client TLS context: verification on by default, optional CA and client certificate.

    Without CA or client-certificate files the context is the same for every check, and
    loading the system's CA bundle takes about 15 ms: it is built once per `verify` value
    (10,000 checks would otherwise spend minutes of startup and of every reload here).
    """
    if options.ca_file is None and options.cert_file is None:
        return _system_context(options.verify)
    return _context(options)


@functools.lru_cache(maxsize=2)
def _system_context(verify: bool) -> ssl.SSLContext:
    return _context(TlsOptions(verify=verify))


def _context(options: TlsOptions) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=options.ca_file)
        if options.cert_file is not None:
            context.load_cert_chain(options.cert_file, options.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load TLS files: {exc}") from None
    if not options.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


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
    auth: AuthConfig | None = None

    @model_validator(mode="after")
    def _one_body(self) -> RequestConfig:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give either body or json, not both")
        build_ssl_context(self.tls)
        return self


class HttpConfig(RequestConfig):
    type: Literal["http"] = "http"
    expect: Expect = Field(default_factory=Expect)
    follow_redirects: bool = False


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


def judge_body(expect: Expect, body: bytes) -> None:
    """Raise `assertion` when the body fails an expectation."""
    text: str | None = None
    if expect.regex is not None or expect.not_regex is not None:
        text = body.decode("utf-8", errors="replace")
        if expect.regex is not None and re.search(expect.regex, text) is None:
            raise CheckFailure(base.ASSERTION, f"body does not match /{expect.regex}/")
        if expect.not_regex is not None and re.search(expect.not_regex, text) is not None:
            raise CheckFailure(base.ASSERTION, f"body matches /{expect.not_regex}/")
    if not expect.json_:
        return
    try:
        document = json.loads(body)
    except ValueError:
        raise CheckFailure(base.ASSERTION, "body is not valid JSON") from None
    for assertion in expect.json_:
        value = lookup(document, compile_path(assertion.path))
        if value is MISSING:
            raise CheckFailure(base.ASSERTION, f"{assertion.path} is missing")
        if assertion.equals is not None and value != assertion.equals:
            raise CheckFailure(
                base.ASSERTION, f"{assertion.path} is {value!r}, expected {assertion.equals!r}"
            )
        if assertion.one_of is not None and value not in assertion.one_of:
            raise CheckFailure(base.ASSERTION, f"{assertion.path} is {value!r}, not one of")
        if assertion.matches is not None and re.search(assertion.matches, str(value)) is None:
            raise CheckFailure(
                base.ASSERTION, f"{assertion.path} does not match /{assertion.matches}/"
            )


def certificate_evidence(der: bytes) -> dict[str, str]:
    """Fingerprint, expiry (epoch seconds), subject and issuer of a DER certificate."""
    evidence = {"tls_peer_sha256": hashlib.sha256(der).hexdigest()}
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return evidence
    evidence["tls_not_after"] = str(int(cert.not_valid_after_utc.timestamp()))
    evidence["tls_subject"] = cert.subject.rfc4514_string()
    evidence["tls_issuer"] = cert.issuer.rfc4514_string()
    return evidence


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
    """The HTTP client of one check: its own session, TLS context and optional `auth`.

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
    ) -> None:
        self._clock = clock
        self._tls = tls
        self._ssl = build_ssl_context(tls) if https else None
        self._fresh = fresh_connection
        self._auth = RequestAuth(auth) if auth is not None else None
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = EvidenceConnector(
                force_close=self._fresh,
                use_dns_cache=not self._fresh,
                limit=0,
                ssl=self._ssl if self._ssl is not None else True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, trust_env=False
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
    ) -> Exchange:
        """Send one request; transport failures raise a classified, redacted `CheckFailure`."""
        all_headers = dict(headers)
        if self._auth is not None:
            signed = self._auth.headers(method, url, body or b"", self._clock.wall())
            all_headers = merge_headers(all_headers, signed)
        kwargs: dict[str, Any] = {
            "headers": all_headers,
            "allow_redirects": follow_redirects,
            "timeout": aiohttp.ClientTimeout(total=None),
        }
        if body is not None:
            kwargs["data"] = body
        if self._tls.server_name is not None and self._ssl is not None:
            kwargs["server_hostname"] = self._tls.server_name
        session = self._get_session()
        peer: dict[str, str] = {}
        token = _PEER_EVIDENCE.set(peer)
        start = self._clock.monotonic()
        try:
            async with session.request(method, url, **kwargs) as response:
                evidence: dict[str, str] = {"status": str(response.status)}
                fingerprint = peer_certificate_sha256(response)
                if fingerprint is not None:
                    peer.setdefault("tls_peer_sha256", fingerprint)
                data = await read_capped(response, max_body)
                status = response.status
        except CheckFailure as exc:
            exc.evidence.update(peer)
            raise
        except (aiohttp.ClientError, OSError, ssl.SSLError) as exc:
            failure_class, detail = classify_client_error(exc)
            raise CheckFailure(failure_class, redact(detail), peer) from None
        finally:
            _PEER_EVIDENCE.reset(token)
        evidence.update(peer)
        evidence["body_sha256"] = hashlib.sha256(data).hexdigest()
        return Exchange(status, data, self._clock.monotonic() - start, evidence)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
            await asyncio.sleep(0)
        self._session = None


def encode_json(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def with_content_type(headers: Mapping[str, str], value: str) -> dict[str, str]:
    out = dict(headers)
    if not any(k.lower() == "content-type" for k in out):
        out["Content-Type"] = value
    return out


class HttpCheck:
    """Sends the configured request; a fresh connection per attempt unless told otherwise."""

    def __init__(self, config: HttpConfig, resources: Resources) -> None:
        self.config = config
        self._clock = resources.clock
        self._client = HttpClient(
            clock=resources.clock,
            https=config.url.startswith("https"),
            tls=config.tls,
            fresh_connection=config.fresh_connection,
            auth=config.auth,
        )

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.config.headers)
        for key, value in self.config.secret_headers.items():
            headers[key] = value.get_secret_value()
        return headers

    async def run(self, ctx: AttemptContext) -> Result:
        cfg = self.config
        headers = self.request_headers()
        body: bytes | None = None
        if cfg.body is not None:
            body = cfg.body.encode()
        elif cfg.json_body is not None:
            body = encode_json(cfg.json_body)
            headers = with_content_type(headers, "application/json")
        try:
            answer = await self._client.exchange(
                cfg.method,
                cfg.url,
                headers=headers,
                body=body,
                max_body=cfg.max_body,
                follow_redirects=cfg.follow_redirects,
            )
        except CheckFailure as exc:
            if exc.failure_class == base.TOO_LARGE:
                raise
            return Result(False, exc.failure_class, exc.detail, None, exc.evidence)
        latency, evidence = answer.latency, answer.evidence
        if answer.status not in cfg.expect.status:
            return Result(False, base.HTTP_STATUS, f"HTTP {answer.status}", latency, evidence)
        try:
            judge_body(cfg.expect, answer.body)
        except CheckFailure as exc:
            return Result(False, exc.failure_class, redact(exc.detail), latency, evidence)
        if cfg.expect.max_latency is not None and latency > cfg.expect.max_latency:
            return Result(
                False, base.SLOW, f"answered in {latency:.3f}s, limit "
                f"{cfg.expect.max_latency:g}s", latency, evidence,
            )
        return Result(True, None, f"HTTP {answer.status}", latency, evidence)

    async def aclose(self) -> None:
        await self._client.aclose()


@register("http", HttpConfig)
def build_http(config: HttpConfig, resources: Resources) -> HttpCheck:
    return HttpCheck(config, resources)
