"""Secrets come from the environment or files and never leave the process in clear.

Every secret value resolved from config is registered here; the log processor, attempt
details and report writers pass text through `redact` so a secret echoed by a hostile
endpoint or an exception message is replaced before it is written anywhere.
"""

from __future__ import annotations

import os
import re
import threading
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
        value = value.strip()
        if len(value) < _MIN_REDACT_LEN:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
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


def read_secret_file(path: str) -> str:
    """The file's content without the trailing newline; errors name the path, never content."""
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None


def resolve_file_keys(data: Any, fields: set[str]) -> Any:
    """Turn `foo_file: PATH` into `foo: <content>` when `foo` is a declared field."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key in list(out):
        if key.endswith("_file") and key[: -len("_file")] in fields and key not in fields:
            stem = key[: -len("_file")]
            if stem in out:
                raise ValueError(f"give either {stem} or {key}, not both")
            out[stem] = read_secret_file(str(out.pop(key)))
    return out
