"""Human durations (`500ms`, `10s`, `1m`, `8h`, `14d`) as float seconds.

A pydantic type so every config field that holds a duration parses and reports the same way.
A config file must write the unit: `interval: 2000` could mean seconds or milliseconds, so a
bare number other than 0 is refused there with both readings suggested. Python callers
(tests, the demo) validate without the `STRICT_DURATIONS` context and may pass seconds.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, SerializationInfo, ValidationInfo, WrapSerializer

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_BARE = re.compile(r"[+-]?\d+(?:\.\d+)?")
STRICT_DURATIONS = "strict_durations"  # validation context key: bare numbers are refused
AS_TEXT = "durations_as_text"  # serialisation context key: dump `60s`, not 60.0


def _needs_unit(text: str) -> ValueError:
    return ValueError(f"{text} needs a unit: {text}s? {text}ms? (e.g. 500ms, 10s, 1m, 8h, 14d)")


def parse_duration(value: Any) -> float:
    """Seconds from `1h30m`, `500ms`, `10s`, or a bare number of seconds; never negative."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 500ms, 10s, 1m, 8h or 14d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text:
            raise ValueError("must be a duration such as 500ms, 10s, 1m, 8h or 14d")
        if _BARE.fullmatch(text):
            if float(text) != 0:
                raise _needs_unit(text)
            text = "0s"
        pos = 0
        seconds = 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(text):
            raise ValueError(
                f"{value!r} is not a duration (use e.g. 500ms, 10s, 1m, 8h, 14d)"
            )
    else:
        raise ValueError("must be a duration such as 500ms, 10s, 1m, 8h or 14d")
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact spelling, for messages and reports."""
    if seconds < 1 and seconds != 0:
        return f"{round(seconds * 1000)}ms"
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _validate(value: Any, info: ValidationInfo) -> float:
    strict = bool(info.context and info.context.get(STRICT_DURATIONS))
    if strict and isinstance(value, int | float) and not isinstance(value, bool) and value != 0:
        raise _needs_unit(f"{value:g}")
    return parse_duration(value)


def parse_positive_duration(value: str, option: str) -> float:
    """A command-line duration that must be above zero (`--window`, `--duration`)."""
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"{option} must be positive (e.g. 10s, 1m)")
    return seconds


def _serialize(value: float, handler: Any, info: SerializationInfo) -> Any:
    """Seconds as a number (canonical: the quorum fingerprints dumps), or as config text."""
    if info.context and info.context.get(AS_TEXT):
        return format_duration(value)
    return handler(value)


Duration = Annotated[float, BeforeValidator(_validate), WrapSerializer(_serialize)]
