"""`--web.config.file`: the listener's TLS, client certificates, basic auth, headers and
rate limit, in exporter-toolkit format.

The same YAML file node_exporter, blackbox_exporter and Prometheus accept
(https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md), so
operators can reuse the file they have. Every documented key is read here and means what
it means there; `docs/deployment.md` has the table of keys and of the few differences. The
checks are all made at load, so `sla-probe validate --web.config.file` and `run` refuse the
same files, naming file, line and key. `probe.web.tls` turns the TLS keys into an
`ssl.SSLContext`; `probe.web.guard` checks each request (SANs, rate limit, basic auth).

Read as Go's YAML decoder reads it: a scalar where the schema wants a string is that string
as written (`X-XSS-Protection: 1` is "1"), a null is an empty value, and relative paths are
relative to the file's directory.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

from probe.fields import StrictModel
from probe.secrets import MissingEnvironmentError, expand_env
from probe.web.guard import Middleware, build_middleware
from probe.web.tls import (
    CIPHER_SUITES,
    CURVES,
    TLS_VERSIONS,
    VERIFYING,
    TLSSetupError,
    server_context,
)
from probe.yamlsource import ConfigError, Loc, SourceMap, load_yaml

CLIENT_AUTH_TYPES = ("NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                     "VerifyClientCertIfGiven", "RequireAndVerifyClientCert",
                     "RequireClientCert")  # the last: Go's old name of RequireAnyClientCert
# exporter-toolkit's headers and, where it restricts them, their values
HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}
# where the schema wants a bool, an int or a duration; every other scalar is text
_TYPED: frozenset[Loc] = frozenset({
    ("http_server_config", "http2"), ("tls_server_config", "prefer_server_cipher_suites"),
    ("rate_limit", "burst"), ("rate_limit", "interval"),
})
# mappings and lists: a null there is the key left out
_CONTAINERS: frozenset[Loc] = frozenset({
    ("tls_server_config",), ("http_server_config",), ("basic_auth_users",), ("rate_limit",),
    ("http_server_config", "headers"), ("tls_server_config", "cipher_suites"),
    ("tls_server_config", "curve_preferences"), ("tls_server_config", "client_allowed_sans"),
})
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
             "m": 60.0, "h": 3600.0}


class WebConfigError(ConfigError):
    """The web config file cannot be used; every problem names the file (and line)."""


def _one_of(allowed: Collection[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"unknown {what} {value!r}; exporter-toolkit accepts "
                             f"{', '.join(a for a in allowed if a)}")
        return value
    return AfterValidator(check)


def _go_duration(value: Any) -> float:
    """Seconds from a Go duration (`1s`, `1m30s`, `250ms`); 0 alone needs no unit."""
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0.0
    if not isinstance(value, str):
        raise ValueError("must be a duration with a unit, such as 1s or 250ms (a bare "
                         "number would be nanoseconds in exporter-toolkit)")
    text = value.strip()
    body = text.lstrip("+")
    if body.startswith("-"):
        raise ValueError("must not be negative")
    if body == "0":
        return 0.0
    pos, seconds = 0, 0.0
    for match in _GO_DURATION.finditer(body):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(f"{value!r} is not a Go duration (e.g. 1s, 500ms, 1m30s)")
    return seconds


CipherName = Annotated[str, _one_of(CIPHER_SUITES, "cipher suite")]
CurveName = Annotated[str, _one_of(CURVES, "curve")]
TLSVersionName = Annotated[str, _one_of(("", *TLS_VERSIONS), "TLS version")]
ClientAuthName = Annotated[str, _one_of(("", *CLIENT_AUTH_TYPES), "client_auth_type")]


class TLSServerConfig(StrictModel):
    cert: str = ""
    key: str = Field(default="", repr=False)
    client_ca: str = ""
    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""
    client_auth_type: ClientAuthName = ""
    client_allowed_sans: list[str] | None = None
    min_version: TLSVersionName = ""
    max_version: TLSVersionName = ""
    cipher_suites: list[CipherName] = Field(default_factory=list)
    prefer_server_cipher_suites: StrictBool = True
    curve_preferences: list[CurveName] = Field(default_factory=list)

    @property
    def configured(self) -> bool:
        """TLS is on: as exporter-toolkit's IsEnabled, any certificate, key, CA or auth type."""
        return any((self.cert, self.key, self.client_ca, self.cert_file, self.key_file,
                    self.client_ca_file, self.client_auth_type))

    @property
    def auth_type(self) -> str:
        return self.client_auth_type or "NoClientCert"


class HTTPServerConfig(StrictModel):
    http2: StrictBool = True  # accepted; aiohttp serves HTTP/1.1 only
    headers: dict[str, str] = Field(default_factory=dict)  # a blank value: not sent


class RateLimit(StrictModel):
    interval: float = 0.0  # seconds; 0 turns the limit off
    burst: StrictInt = Field(default=0, ge=0)

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return _go_duration(value)


class WebConfigFile(StrictModel):
    tls_server_config: TLSServerConfig = Field(default_factory=TLSServerConfig)
    http_server_config: HTTPServerConfig = Field(default_factory=HTTPServerConfig)
    basic_auth_users: dict[str, str] = Field(default_factory=dict)
    rate_limit: RateLimit = Field(default_factory=RateLimit)


class WebConfig:
    """A parsed, checked web config: an SSL context and a per-request middleware."""

    def __init__(self, model: WebConfigFile, base_dir: Path, name: str = "<web config>",
                 source: SourceMap | None = None) -> None:
        self.model = model
        self.base_dir = base_dir
        self.name = name
        self.source = source if source is not None else SourceMap(name, {})

    @property
    def tls(self) -> TLSServerConfig | None:
        tls = self.model.tls_server_config
        return tls if tls.configured else None

    @property
    def users(self) -> Mapping[str, str]:
        return self.model.basic_auth_users

    @property
    def authenticates(self) -> bool:
        """Every request is authenticated: basic auth users, or client certificates that
        must verify. Routes that write (`POST /api/v1/tickets`) are served only then."""
        tls = self.tls
        return bool(self.users) or (tls is not None
                                    and tls.auth_type == "RequireAndVerifyClientCert")

    @property
    def notices(self) -> list[str]:
        """What the daemon logs once at start: settings accepted that change nothing."""
        http = self.model.http_server_config
        if "http2" in http.model_fields_set and http.http2:
            return [self.source.problem(("http_server_config", "http2"),
                                        "true has no effect: the listener serves HTTP/1.1 only")]
        return []

    def _path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path

    def _pem(self, file: str, inline: str) -> Path | str:
        return self._path(file) if file else inline

    def ssl_context(self) -> ssl.SSLContext | None:
        """A server context for `web.TCPSite(ssl_context=...)`, or None for plain HTTP."""
        tls = self.tls
        if tls is None:
            return None
        ca = tls.client_ca_file or tls.client_ca
        try:
            return server_context(
                cert=self._pem(tls.cert_file, tls.cert), key=self._pem(tls.key_file, tls.key),
                client_auth_type=tls.auth_type,
                client_ca=self._pem(tls.client_ca_file, tls.client_ca) if ca else None,
                min_version=tls.min_version, max_version=tls.max_version,
                cipher_suites=tls.cipher_suites,
                prefer_server_cipher_suites=tls.prefer_server_cipher_suites,
                curve_preferences=tls.curve_preferences,
            )
        except TLSSetupError as exc:
            raise WebConfigError(
                [self.source.problem(("tls_server_config", exc.key), exc.message)]
            ) from None

    def middleware(self, public_paths: Collection[str] = ()) -> Middleware:
        """aiohttp middleware: SAN check, rate limit, basic auth (if users are configured)
        and the extra headers. `public_paths` (e.g. the health endpoints for a kubelet) skip
        basic auth; TLS client certificates, their SANs and the rate limit still apply."""
        tls, limit = self.tls, self.model.rate_limit
        return build_middleware(
            users=self.users,
            headers={k: v for k, v in self.model.http_server_config.headers.items() if v},
            allowed_sans=tls.client_allowed_sans if tls is not None else None,
            rate=(limit.interval, limit.burst) if limit.interval > 0 else None,
            public_paths=public_paths,
        )


def load_web_config(path: Path | str) -> WebConfig:
    """Parse and check `path`, including that its certificates and keys load."""
    path = Path(path)
    data, source = _read(path)
    try:
        model = WebConfigFile.model_validate(data)
    except ValidationError as exc:
        raise WebConfigError(
            [source.problem(tuple(e["loc"]), _message(e)) for e in exc.errors()]
        ) from None
    problems = _semantic_problems(model, source)
    if problems:
        raise WebConfigError(problems)
    config = WebConfig(model, path.parent, str(path), source)
    config.ssl_context()  # fail now, naming the file, rather than at the first scrape
    return config


def _read(path: Path) -> tuple[dict[str, Any], SourceMap]:
    try:
        data, source = load_yaml(path)
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except ConfigError as exc:
        raise WebConfigError(exc.problems) from None
    if data is None:
        return {}, source
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise WebConfigError([source.problem((), "must be a mapping")])
    problems: list[str] = []
    out = _textual(node, data, (), source, problems)
    if problems:
        raise WebConfigError(problems)
    return out, source


def _textual(node: yaml.Node, data: Any, loc: Loc, source: SourceMap,
             problems: list[str]) -> Any:
    """`data` as Go's decoder would fill the schema: keys and text-typed scalars as written,
    nulls dropped (the default applies) or empty, duplicate keys refused."""
    if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
        keys = [k.value for k, _ in node.value]
        if len(keys) != len(data):
            dup = next((k for i, k in enumerate(keys) if k in keys[:i]), "<<")
            problems.append(source.problem((*loc, dup), "is defined more than once"))
            return data
        out: dict[str, Any] = {}
        for (key_node, value_node), value in zip(node.value, data.values(), strict=True):
            item = _textual(value_node, value, (*loc, key_node.value), source, problems)
            if item is not None:
                out[key_node.value] = item
        return out
    if isinstance(node, yaml.SequenceNode) and isinstance(data, list):
        return [_textual(n, v, (*loc, i), source, problems)
                for i, (n, v) in enumerate(zip(node.value, data, strict=True))]
    if isinstance(data, str | dict | list) or (loc in _TYPED and data is not None):
        return data
    if data is None:  # a null section, list or setting is absent; a null text is empty
        return None if loc in _CONTAINERS or loc in _TYPED else ""
    text = node.value if isinstance(node, yaml.ScalarNode) else str(data)
    try:
        return expand_env(text) if "${" in text else text
    except MissingEnvironmentError as exc:
        problems.append(source.problem(loc, str(exc)))
        return text


def _user_problems(model: WebConfigFile, source: SourceMap) -> list[str]:
    problems: list[str] = []
    for user, hashed in model.basic_auth_users.items():
        loc: Loc = ("basic_auth_users", user)
        if ":" in user or not user:
            problems.append(source.problem(loc, "user names must be non-empty, without ':'"))
        if (not hashed.startswith(("$2a$", "$2b$", "$2y$")) or len(hashed) != 60
                or not hashed[4:6].isdigit() or not 4 <= int(hashed[4:6]) <= 31):
            problems.append(source.problem(
                loc, "must be a bcrypt hash ($2b$ or $2y$, cost 04 to 31, 60 characters)"))
    return problems


def _tls_problems(tls: TLSServerConfig, source: SourceMap) -> list[str]:
    base: Loc = ("tls_server_config",)
    problems: list[str] = []

    def problem(key: str, message: str) -> None:
        problems.append(source.problem((*base, key), message))

    if not tls.configured:
        for key in sorted(tls.model_fields_set):
            problem(key, "has no effect without a certificate: TLS is off (set cert_file "
                         "and key_file, or cert and key)")
        return problems
    for inline, file in (("cert", "cert_file"), ("key", "key_file"),
                         ("client_ca", "client_ca_file")):
        if getattr(tls, inline) and getattr(tls, file):
            problem(inline, f"give {inline} (inline PEM) or {file}, not both")
    if not (tls.cert or tls.cert_file):
        problem("cert_file", "required when TLS is configured (or cert, inline)")
    if not (tls.key or tls.key_file):
        problem("key_file", "required when TLS is configured (or key, inline)")
    mode = tls.auth_type
    if mode in ("RequireAnyClientCert", "RequireClientCert"):
        problem("client_auth_type",
                f"{mode} (accept any unverified certificate) is not supported: "
                "Python's ssl cannot ask for a certificate without verifying it; use "
                "RequireAndVerifyClientCert with client_ca_file")
    if mode == "NoClientCert" and (tls.client_ca_file or tls.client_ca):
        problem("client_ca_file" if tls.client_ca_file else "client_ca",
                "client CAs are configured without a client_auth_type that verifies them")
    if tls.client_allowed_sans is not None:
        if mode not in VERIFYING:
            problem("client_allowed_sans", "needs client_auth_type RequireAndVerifyClientCert "
                                           "(or VerifyClientCertIfGiven) to see a certificate")
        elif not tls.client_allowed_sans:
            problem("client_allowed_sans", "is empty, which would refuse every client; "
                                           "list the SANs or leave the key out")
    if tls.min_version and tls.max_version and (
        TLS_VERSIONS[tls.min_version] > TLS_VERSIONS[tls.max_version]
    ):
        problem("max_version", "is below min_version")
    return problems


def _header_problems(headers: Mapping[str, str], source: SourceMap) -> list[str]:
    problems: list[str] = []
    for name, text in headers.items():
        loc: Loc = ("http_server_config", "headers", name)
        allowed = HEADERS.get(name)
        if allowed is None:
            problems.append(source.problem(loc, "cannot be configured; exporter-toolkit allows "
                                                f"{', '.join(HEADERS)}"))
        elif text and allowed and text not in allowed:
            problems.append(source.problem(loc, f"must be {' or '.join(allowed)}, not {text!r}"))
        elif "\r" in text or "\n" in text:
            problems.append(source.problem(loc, "must be one line"))
    return problems


def _semantic_problems(model: WebConfigFile, source: SourceMap) -> list[str]:
    problems = _user_problems(model, source)
    problems += _header_problems(model.http_server_config.headers, source)
    problems += _tls_problems(model.tls_server_config, source)
    limit = model.rate_limit
    if limit.interval > 0 and limit.burst < 1:
        problems.append(source.problem(("rate_limit", "burst"), (
            "must be at least 1 when interval is set: with 0, every request is refused")))
    return problems


def _message(error: Any) -> str:
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")
