"""Human durations (`500ms`, `10s`, `1m`, `8h`, `14d`) as float seconds.

A pydantic type so every config field that holds a duration parses and reports the same way.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


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


Duration = Annotated[float, BeforeValidator(parse_duration)]
