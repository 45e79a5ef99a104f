"""The building blocks every config model shares: one strict base, one name, one zone.

Each config section (the main file, contracts, support terms, maintenance, checks, quorum,
web config) is a pydantic model built on these, so a rule such as "names are
`[A-Za-z0-9][A-Za-z0-9_.-]*`" is stated once and a typo'd key is refused everywhere alike.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class StrictModel(BaseModel):
    """Unknown keys are refused, and a loaded config never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_zone(value: str) -> str:
    """An IANA time zone name that this machine's tz database knows."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
TimeZoneName = Annotated[str, AfterValidator(check_zone)]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through lists, dicts, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def known_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> set[str]:
    """The keys the mapping at `loc` (relative to `model`) accepts: fields and aliases.

    Follows field annotations; an index or dict key in `loc` steps into the item type.
    Where a union offers several models, their keys are pooled (a suggestion, not a verdict).
    """
    models = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        nested: list[type[BaseModel]] = []
        for current in models:
            field = current.model_fields.get(part) or next(
                (f for f in current.model_fields.values() if f.alias == part), None)
            if field is not None:
                nested += _models_in(field.annotation)
        if nested:
            models = nested
    keys: set[str] = set()
    for current in models:
        for name, field in current.model_fields.items():
            keys.add(field.alias or name)
    return keys


def did_you_mean(key: str, keys: set[str]) -> str:
    """' (did you mean `timeout`?)' for a close known key, else ''."""
    close = difflib.get_close_matches(key, sorted(keys), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""
