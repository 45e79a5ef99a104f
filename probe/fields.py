"""The building blocks every config model shares: one strict base, one name, one zone.

Each config section (the main file, contracts, support terms, maintenance, checks, quorum,
web config) is a pydantic model built on these, so a rule such as "names are
`[A-Za-z0-9][A-Za-z0-9_.-]*`" is stated once and a typo'd key is refused everywhere alike.
"""

from __future__ import annotations

from typing import Annotated
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
