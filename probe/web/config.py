"""`--web.config.file`: TLS and basic auth for the HTTP listener, in exporter-toolkit format.

The same YAML file Prometheus exporters accept
(https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md)::

    tls_server_config:
      cert_file: server.crt          # relative paths are relative to this file
      key_file: server.key
      client_ca_file: clients-ca.crt
      client_auth_type: RequireAndVerifyClientCert
      min_version: TLS12
    http_server_config:
      headers: {Strict-Transport-Security: max-age=31536000}
    basic_auth_users:
      prometheus: $2b$12$...         # bcrypt hash (htpasswd -nBC 12 "" | tr -d ':\\n')

Differences from the Go toolkit, forced by Python's `ssl` module, which cannot ask for a
client certificate without verifying it: `RequestClientCert` does not ask for one (nothing
here would use an unverified certificate, so access is the same), and `RequireAnyClientCert`
is refused with a message pointing at `RequireAndVerifyClientCert`. `cipher_suites`,
`curve_preferences` and `client_allowed_sans` are refused rather than silently ignored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import ssl
from collections.abc import Awaitable, Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Literal

import bcrypt
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from probe.yamlsource import ConfigError, Loc, SourceMap, load_yaml

ClientAuthType = Literal[
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
]
TLSVersionName = Literal["TLS10", "TLS11", "TLS12", "TLS13"]

_TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_UNSUPPORTED = ("cipher_suites", "curve_preferences", "client_allowed_sans",
                "prefer_server_cipher_suites", "cert", "key")
_REALM = 'Basic realm="sla-probe", charset="UTF-8"'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


class WebConfigError(ConfigError):
    """The web config file cannot be used; every problem names the file (and line)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSServerConfig(_Strict):
    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""
    client_auth_type: ClientAuthType | Literal[""] = ""
    min_version: TLSVersionName | Literal[""] = ""
    max_version: TLSVersionName | Literal[""] = ""

    @property
    def configured(self) -> bool:
        return any((self.cert_file, self.key_file, self.client_ca_file, self.client_auth_type))

    @property
    def auth_type(self) -> ClientAuthType:
        return self.client_auth_type or "NoClientCert"


class HTTPServerConfig(_Strict):
    http2: bool = True  # accepted for compatibility; aiohttp serves HTTP/1.1
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _no_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = {"authorization", "www-authenticate", "content-type", "content-length",
                    "content-encoding", "server", "date"}
        bad = sorted(k for k in value if k.lower() in reserved)
        if bad:
            raise ValueError(f"headers may not set {', '.join(bad)}")
        return value


class WebConfigFile(_Strict):
    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = Field(default_factory=HTTPServerConfig)
    basic_auth_users: dict[str, str] = Field(default_factory=dict)


class WebConfig:
    """A parsed, checked web config: an SSL context and an authentication middleware."""

    def __init__(self, model: WebConfigFile, base_dir: Path, name: str = "<web config>") -> None:
        self.model = model
        self.base_dir = base_dir
        self.name = name

    @property
    def tls(self) -> TLSServerConfig | None:
        tls = self.model.tls_server_config
        return tls if tls is not None and tls.configured else None

    @property
    def users(self) -> Mapping[str, str]:
        return self.model.basic_auth_users

    def _path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path

    def ssl_context(self) -> ssl.SSLContext | None:
        """A server context for `web.TCPSite(ssl_context=...)`, or None for plain HTTP."""
        tls = self.tls
        if tls is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = _TLS_VERSIONS[tls.min_version or "TLS12"]
        if tls.max_version:
            context.maximum_version = _TLS_VERSIONS[tls.max_version]
        cert, key = self._path(tls.cert_file), self._path(tls.key_file)
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise WebConfigError(
                [f"{self.name}: tls_server_config: cannot load cert_file {cert} / "
                 f"key_file {key}: {_reason(exc)}"]
            ) from None
        mode = tls.auth_type
        if mode in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert"):
            ca = self._path(tls.client_ca_file)
            try:
                context.load_verify_locations(cafile=ca)
            except (OSError, ssl.SSLError) as exc:
                raise WebConfigError(
                    [f"{self.name}: tls_server_config: cannot load client_ca_file {ca}: "
                     f"{_reason(exc)}"]
                ) from None
            context.verify_mode = (
                ssl.CERT_REQUIRED if mode == "RequireAndVerifyClientCert" else ssl.CERT_OPTIONAL
            )
        else:
            context.verify_mode = ssl.CERT_NONE
        return context

    def middleware(self, public_paths: Collection[str] = ()) -> Middleware:
        """aiohttp middleware: basic auth (if users are configured) and the extra headers.

        `public_paths` (e.g. the health endpoints for a kubelet) skip basic auth; TLS client
        certificates, checked in the handshake, still apply to them.
        """
        checker = _BasicAuth(self.users) if self.users else None
        headers = dict(self.model.http_server_config.headers)
        public = frozenset(public_paths)

        @web.middleware
        async def web_config_middleware(
            request: web.Request, handler: Handler
        ) -> web.StreamResponse:
            if (
                checker is not None
                and request.path not in public
                and not await checker.allowed(request.headers.get("Authorization"))
            ):
                raise web.HTTPUnauthorized(
                    headers={"WWW-Authenticate": _REALM, **headers}, text="401 Unauthorized\n"
                )
            response = await handler(request)
            for name, value in headers.items():
                response.headers[name] = value
            return response

        return web_config_middleware


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
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(
            None, bcrypt.checkpw, password, hashed if hashed is not None else self._dummy
        )
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


def _reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return exc.strerror or str(exc)


def _user_problems(model: WebConfigFile, source: SourceMap) -> list[str]:
    problems: list[str] = []
    for user, hashed in model.basic_auth_users.items():
        loc: Loc = ("basic_auth_users", user)
        if ":" in user or not user:
            problems.append(source.problem(loc, "user names must be non-empty, without ':'"))
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")) or len(hashed) != 60:
            problems.append(source.problem(loc, "must be a bcrypt hash ($2b$..., 60 characters)"))
    return problems


def _semantic_problems(model: WebConfigFile, source: SourceMap) -> list[str]:
    problems = _user_problems(model, source)
    tls = model.tls_server_config
    if tls is None or not tls.configured:
        return problems
    base: Loc = ("tls_server_config",)
    if not tls.cert_file:
        problems.append(source.problem((*base, "cert_file"), "required when TLS is configured"))
    if not tls.key_file:
        problems.append(source.problem((*base, "key_file"), "required when TLS is configured"))
    mode = tls.auth_type
    if mode == "RequireAnyClientCert":
        problems.append(source.problem(
            (*base, "client_auth_type"),
            "RequireAnyClientCert (accept any unverified certificate) is not supported; "
            "use RequireAndVerifyClientCert with client_ca_file",
        ))
    if mode in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert") and not tls.client_ca_file:
        problems.append(source.problem((*base, "client_ca_file"), f"required by {mode}"))
    if mode == "NoClientCert" and tls.client_ca_file:
        problems.append(source.problem(
            (*base, "client_ca_file"),
            "client CAs are configured without a client_auth_type that verifies them",
        ))
    if tls.min_version and tls.max_version and (
        _TLS_VERSIONS[tls.min_version] > _TLS_VERSIONS[tls.max_version]
    ):
        problems.append(source.problem((*base, "max_version"), "is below min_version"))
    return problems


def _unsupported(data: dict[str, Any], source: SourceMap) -> list[str]:
    tls = data.get("tls_server_config")
    if not isinstance(tls, dict):
        return []
    return [
        source.problem(("tls_server_config", key), "not supported by sla-probe")
        for key in _UNSUPPORTED if key in tls
    ]


def load_web_config(path: Path | str) -> WebConfig:
    """Parse and check `path`, including that its certificates and keys load."""
    path = Path(path)
    try:
        data, source = load_yaml(path)
    except ConfigError as exc:
        raise WebConfigError(exc.problems) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WebConfigError([source.problem((), "must be a mapping")])
    problems = _unsupported(data, source)
    if problems:
        raise WebConfigError(problems)
    try:
        model = WebConfigFile.model_validate(data)
    except ValidationError as exc:
        raise WebConfigError(
            [source.problem(tuple(e["loc"]), _message(e)) for e in exc.errors()]
        ) from None
    problems = _semantic_problems(model, source)
    if problems:
        raise WebConfigError(problems)
    config = WebConfig(model, path.parent, str(path))
    config.ssl_context()  # fail now, naming the file, rather than at the first scrape
    return config


def _message(error: Any) -> str:
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")
