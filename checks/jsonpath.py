"""A small JSON-path subset (`$.a.b[0]["c-d"]`), enough for assertions and extraction."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[["']([^"']*)["']\]""")
_MISSING = object()


def compile_path(path: str) -> tuple[str | int, ...]:
    """Parse `path`; raises ValueError naming the position of the first bad character."""
    text = path.strip()
    if not text.startswith("$"):
        raise ValueError(f"JSON path {path!r} must start with $")
    pos = 1
    parts: list[str | int] = []
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"JSON path {path!r}: cannot parse at position {pos}")
        name, index, quoted = match.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(name if name is not None else quoted)
        pos = match.end()
    return tuple(parts)


def lookup(document: Any, parts: tuple[str | int, ...]) -> Any:
    """The value at `parts`, or `MISSING`."""
    current = document
    for part in parts:
        if isinstance(part, int):
            if not isinstance(current, list) or part >= len(current):
                return _MISSING
            current = current[part]
        else:
            if not isinstance(current, dict) or part not in current:
                return _MISSING
            current = current[part]
    return current


MISSING = _MISSING
