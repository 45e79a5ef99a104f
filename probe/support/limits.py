"""Time limits of the support terms: how long the vendor has, and how often it must update.

Apart from `probe.support.model` (the whole `support:` block) so that the limits, which
every deadline computation reads, stay small and the block's module under ~400 lines.
`model` re-exports every name here.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from probe.durations import parse_duration
from probe.fields import StrictModel

# -- time limits ----------------------------------------------------------------------------

TimeUnit = Literal["hours", "business_hours", "calendar_days", "business_days"]

_LIMIT = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(business|support|working|calendar)?\s*"
    r"(minutes?|mins?|hours?|hrs?|days?|weeks?)\s*$",
    re.IGNORECASE,
)


def parse_time_limit(text: str) -> dict[str, Any]:
    """`2h`, `24 hours`, `8 business hours`, `2 support hours`, `1 business day`,
    `30 calendar days`, `1 week` -> amount and unit.

    Hours and minutes without a qualifier are elapsed time; days and weeks without one are
    calendar days in the support time zone (same wall-clock time, DST-aware).
    """
    match = _LIMIT.match(text)
    if match is None:
        try:
            seconds = parse_duration(text)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a time limit (e.g. 2h, 24 hours, 8 business hours, "
                "1 business day, 30 calendar days)"
            ) from None
        return {"amount": seconds / 3600.0, "unit": "hours"}
    amount = float(match.group(1))
    qualifier = (match.group(2) or "").lower()
    word = match.group(3).lower()
    if word.startswith(("min", "hour", "hr")):
        hours = amount / 60.0 if word.startswith("min") else amount
        if qualifier == "calendar":
            return {"amount": hours, "unit": "hours"}
        return {"amount": hours, "unit": "hours" if not qualifier else "business_hours"}
    days = amount * 7 if word.startswith("week") else amount
    if qualifier in ("business", "working", "support"):
        return {"amount": days, "unit": "business_days"}
    return {"amount": days, "unit": "calendar_days"}


class TimeLimit(StrictModel):
    """How long the vendor has: elapsed hours, business hours or days on a calendar, or
    calendar days. Written as a string (`8 business hours`) or as a mapping with `within`
    plus `calendar` (which named calendar counts; default the package's) and `best_effort`
    (the contract promises only efforts, not the time)."""

    amount: float = Field(gt=0)
    unit: TimeUnit
    calendar: str | None = None
    best_effort: bool = False
    other_reading: str | None = None
    """Where the text is ambiguous, the limit under the reading not taken (`2 hours` beside
    `2 business hours`); the report shows the deadline under both (issue 15, item 7)."""
    clause: str = ""

    @field_validator("other_reading")
    @classmethod
    def _other(cls, value: str | None) -> str | None:
        if value is not None:
            parse_time_limit(value)
        return value

    def other(self) -> TimeLimit | None:
        if self.other_reading is None:
            return None
        return TimeLimit.model_validate(
            {**parse_time_limit(self.other_reading), "calendar": self.calendar})

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_time_limit(value)
        if isinstance(value, dict) and "within" in value:
            rest = {k: v for k, v in value.items() if k != "within"}
            within = value["within"]
            if not isinstance(within, str):
                raise ValueError("within must be a string such as '8 business hours'")
            return {**parse_time_limit(within), **rest}
        return value

    @model_validator(mode="after")
    def _whole_days(self) -> TimeLimit:
        if self.unit in ("business_days", "calendar_days") and self.amount != int(self.amount):
            raise ValueError("days must be a whole number")
        return self

    def describe(self) -> str:
        amount = f"{self.amount:g}"
        words = {
            "hours": "h",
            "business_hours": " business hours" if self.amount != 1 else " business hour",
            "calendar_days": " calendar days" if self.amount != 1 else " calendar day",
            "business_days": " business days" if self.amount != 1 else " business day",
        }
        text = amount + words[self.unit]
        return f"{text} (best effort)" if self.best_effort else text


class NoticeTerm(TimeLimit):
    """A notification the vendor owes, e.g. an incident notice within 24 h of becoming aware
    of a material incident; `severities` says which incidents are material (default all)."""

    severities: list[str] | None = None


class UpdateCadence(StrictModel):
    """How often the vendor owes a status update while an incident (or ticket) is open.

    SecurEnvoy "Subsequent Updates: P1 Once per day (business day only)" is
    `every: 1 business day`; Thesmios "As status changes" has no `every` (nothing falls
    due; the report says so); "Best effort" sets `best_effort`. Where the text gives no
    figure ("Continuous during business hours", Securosys "at reasonable intervals"), the
    figure taken is written in `every` and the reason in `assumption`, which the report
    shows beside the deadline. Written as a string (`1 business day`) or a mapping."""

    every: TimeLimit | None = None
    """The longest gap between updates; None: no update deadline (as status changes)."""
    until: Literal["resolved", "mitigated"] = "resolved"
    best_effort: bool = False
    assumption: str = ""
    """Why `every` has this figure, where the text states none (a documented assumption)."""
    severities: list[str] | None = None
    """Under `notifications.status_updates`: which severities are owed updates."""
    clause: str = ""

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return {"every": value} if isinstance(value, str) else value

    def describe(self) -> str:
        if self.every is None:
            return "no update deadline" + (" (best effort)" if self.best_effort else "")
        text = f"an update at least every {self.every.describe()} until {self.until}"
        return f"{text} (assumption: {self.assumption})" if self.assumption else text
