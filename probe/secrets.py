"""Secrets come from the environment or files and never leave the process in clear.

Every secret value resolved from config is registered here; the log processor, attempt
details and report writers pass text through `redact` so a secret echoed by a hostile
endpoint or an exception message is replaced before it is written anywhere.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json
import os
import re
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, SecretStr

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MIN_REDACT_LEN = 4
REDACTED = "[REDACTED]"


class SecretRegistry:
    """The set of secret strings this process knows; thread-safe, append-only."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        """Register `value` and the forms a target may echo it in (see `encoded_forms`)."""
        value = value.strip()
        if len(value) < _MIN_REDACT_LEN:
            return
        forms = {f for f in encoded_forms(value) if len(f) >= _MIN_REDACT_LEN}
        # `Authorization: Bearer TOKEN` is registered whole; a target may echo the token
        # alone, so the credential after an auth scheme word is a secret of its own.
        scheme, sep, credential = value.partition(" ")
        credential = credential.strip()
        if sep and scheme.isalpha() and len(credential) >= _MIN_REDACT_LEN:
            forms |= {f for f in encoded_forms(credential) if len(f) >= _MIN_REDACT_LEN}
        with self._lock:
            if not forms <= self._values:
                self._values |= forms
                self._pattern = None

    def values(self) -> list[str]:
        """Every known secret, to hand to a worker process (probe/workers/)."""
        with self._lock:
            return sorted(self._values)

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None:
            with self._lock:
                if not self._values:
                    return text
                ordered = sorted(self._values, key=len, reverse=True)
                pattern = self._pattern = re.compile("|".join(map(re.escape, ordered)))
        return pattern.sub(REDACTED, text)


def encoded_forms(value: str) -> set[str]:
    """`value` as a hostile or careless target may echo it: raw, percent-encoded (in a
    redirect URL or a query), JSON-escaped (in an error body), base64 and base64url."""
    raw = value.encode()
    b64 = base64.b64encode(raw).decode()
    b64url = base64.urlsafe_b64encode(raw).decode()
    return {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value, safe=""),
        urllib.parse.quote(value),  # `/` kept, as in a path
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        b64, b64.rstrip("="), b64url, b64url.rstrip("="),
    }


REGISTRY = SecretRegistry()


def redact(text: str) -> str:
    """`text` with every known secret value replaced by `[REDACTED]`."""
    return REGISTRY.redact(text)


def _register(value: SecretStr) -> SecretStr:
    REGISTRY.add(value.get_secret_value())
    return value


Secret = Annotated[SecretStr, AfterValidator(_register)]
"""A config field holding a secret: masked in repr and dumps, registered for redaction."""


class MissingEnvironmentError(ValueError):
    pass


def expand_env(text: str) -> str:
    """Replace `${VAR}` / `${VAR:-default}`; an unset variable without default is an error."""

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None:
            if default is None:
                raise MissingEnvironmentError(f"environment variable {name} is not set")
            return default
        return value

    return _ENV_REF.sub(sub, text)


# The directory of the config file being validated: relative paths in it (`state_dir`,
# every `*_file`) are taken relative to it, as Prometheus does, not to the current directory
# (so `sla-probe report` run from elsewhere finds the same ledger).
_CONFIG_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "sla_probe_config_dir", default=None)


@contextlib.contextmanager
def paths_relative_to(directory: Path) -> Iterator[None]:
    """While validating a config read from `directory`, anchor its relative paths there."""
    token = _CONFIG_DIR.set(Path(os.path.abspath(directory)))
    try:
        yield
    finally:
        _CONFIG_DIR.reset(token)


def config_path(value: str | Path) -> Path:
    """`value` anchored at the config file's directory (unchanged when absolute or no file)."""
    path = Path(value)
    base = _CONFIG_DIR.get()
    if base is None or path.is_absolute():
        return path
    return base / path


def read_secret_file(path: str, what: str = "secret file") -> str:
    """The file's content without the trailing newline; errors name the path, never content."""
    full = config_path(path)
    try:
        return full.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"cannot read {what} {full}: {exc.strerror}") from None


def resolve_file_keys(data: Any, fields: set[str], public: frozenset[str] = frozenset()) -> Any:
    """Turn `foo_file: PATH` into `foo: <content>` when `foo` is a declared field.

    `public` names fields whose files are not secrets (a public key): their errors say so.
    """
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key in list(out):
        if key.endswith("_file") and key[: -len("_file")] in fields and key not in fields:
            stem = key[: -len("_file")]
            if stem in out:
                raise ValueError(f"give either {stem} or {key}, not both")
            what = f"{key}" if stem in public else f"secret file ({key})"
            out[stem] = read_secret_file(str(out.pop(key)), what)
    return out


def resolve_secret_map(data: Any) -> Any:
    """A map of secrets (`secret_headers`) where `NAME_file: PATH` reads NAME's value."""
    if not isinstance(data, dict):
        return data
    out: dict[Any, Any] = {}
    for key, value in data.items():
        if isinstance(key, str) and key.endswith("_file") and len(key) > len("_file"):
            stem = key[: -len("_file")]
            if stem in data:
                raise ValueError(f"give either {stem} or {key}, not both")
            out[stem] = read_secret_file(str(value), f"secret file ({key})")
        else:
            out[key] = value
    return out
