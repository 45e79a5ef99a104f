"""What the web config checks per request: client certificate SANs, the rate limit, basic
auth, and the extra response headers, as one aiohttp middleware.

Apart from the loader (`probe.web.config`) and the TLS context (`probe.web.tls`) because
these run on every request, after the handshake, and each answer is an HTTP status:

- a client certificate that names none of `client_allowed_sans`: 403 (exporter-toolkit
  ends the handshake instead; Python's ssl has no hook in the handshake for it);
- over the `rate_limit` token bucket: 429, for every path, as in exporter-toolkit;
- basic auth missing or wrong: 401 with a `Basic` challenge, except on public paths.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from ssl import SSLObject

import bcrypt
from aiohttp import web
from cryptography import x509

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

_REALM = 'Basic realm="sla-probe", charset="UTF-8"'


def build_middleware(
    *,
    users: Mapping[str, str],
    headers: Mapping[str, str],
    allowed_sans: Collection[str] | None,
    rate: tuple[float, int] | None,
    public_paths: Collection[str] = (),
) -> Middleware:
    """`rate` is (seconds between tokens, burst); `allowed_sans` None means no SAN check."""
    checker = _BasicAuth(users) if users else None
    extra = dict(headers)
    public = frozenset(public_paths)
    bucket = TokenBucket(*rate) if rate is not None else None
    sans = frozenset(allowed_sans) if allowed_sans is not None else None

    @web.middleware
    async def web_config_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if sans is not None and not _client_named(request, sans):
            raise web.HTTPForbidden(headers=extra, text="403 Forbidden: client certificate "
                                                        "names no allowed SAN\n")
        if bucket is not None and not bucket.take():
            raise web.HTTPTooManyRequests(headers=extra, text="429 Too Many Requests\n")
        if (
            checker is not None
            and request.path not in public
            and not await checker.allowed(request.headers.get("Authorization"))
        ):
            raise web.HTTPUnauthorized(
                headers={"WWW-Authenticate": _REALM, **extra}, text="401 Unauthorized\n"
            )
        response = await handler(request)
        for name, value in extra.items():
            response.headers[name] = value
        return response

    return web_config_middleware


class TokenBucket:
    """exporter-toolkit's `rate_limit` (Go's `rate.NewLimiter(rate.Every(interval), burst)`):
    starts full with `burst` tokens, gains one every `interval` seconds, each request takes
    one. Only the event loop touches it, so it needs no lock."""

    def __init__(self, interval: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) / self._interval)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


def _client_named(request: web.Request, allowed: frozenset[str]) -> bool:
    """True if the verified client certificate has a SAN (DNS, IP, e-mail or URI, written
    as Go writes it) that is exactly one of `allowed`; False without a certificate."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if not isinstance(ssl_object, SSLObject):
        return False
    der = ssl_object.getpeercert(binary_form=True)
    return der is not None and not allowed.isdisjoint(certificate_sans(der))


@functools.lru_cache(maxsize=256)
def certificate_sans(der: bytes) -> frozenset[str]:
    """The SAN values of a DER certificate, formatted as exporter-toolkit compares them."""
    try:
        cert = x509.load_der_x509_certificate(der)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return frozenset()
    values: list[str] = []
    for kind in (x509.DNSName, x509.RFC822Name, x509.UniformResourceIdentifier):
        values += names.get_values_for_type(kind)
    values += [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    return frozenset(values)


BCRYPT_MAX_PASSWORD = 72  # bytes bcrypt reads of a password


class _BasicAuth:
    """bcrypt checks, with successful ones cached as keyed digests (bcrypt is slow)."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = {user: hashed.encode() for user, hashed in users.items()}
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        # A hash of a random password at the users' cost: an unknown user costs one bcrypt
        # check, like a known one, so timing does not tell which user names exist.
        cost = max(int(h[4:6]) for h in self._users.values())
        self._dummy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=cost))

    def _digest(self, user: str, password: bytes) -> bytes:
        return hmac.new(self._key, user.encode() + b"\0" + password, hashlib.sha256).digest()

    async def allowed(self, header: str | None) -> bool:
        credentials = _parse_basic(header)
        if credentials is None:
            return False
        user, password = credentials
        digest = self._digest(user, password)
        cached = self._verified.get(user)
        if cached is not None and hmac.compare_digest(cached, digest):
            return True
        hashed = self._users.get(user)
        if len(password) > BCRYPT_MAX_PASSWORD:
            # bcrypt 5 raises on these (older versions silently truncated); Go's bcrypt,
            # which exporter-toolkit uses, refuses them: a 401, never a 500.
            password = b""
            hashed = None
        loop = asyncio.get_running_loop()
        try:
            ok = await loop.run_in_executor(
                None, bcrypt.checkpw, password, hashed if hashed is not None else self._dummy
            )
        except ValueError:  # a password or hash bcrypt will not check: not allowed
            return False
        if ok and hashed is not None:
            self._verified[user] = digest
            return True
        return False


def _parse_basic(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None
