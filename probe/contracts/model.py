"""The contract part of the config: objectives, period, denominator, rules, credits, and
the exclusions declared in config (`exclusions:`)."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field, field_validator, model_validator

from probe.contracts.credits import CreditPolicy
from probe.contracts.maintenance import MaintenanceRules
from probe.contracts.rules import DownRule, DownRuleField, parse_down_rule
from probe.durations import Duration
from probe.fields import Name, StrictModel, TimeZoneName
from probe.model import WindowVerdict
from probe.support.model import SupportTerms


class Objective(StrictModel):
    """One promised availability: a service, a target in percent, how it is measured.

    With `of`, the objective is one overall figure over several services (Dfns's one "Cloud
    Service" and its one Target Availability): `service` names the whole, and a window of it
    is down when `down_when` of the listed services are down (`any`, by default: the
    contract's users could not do what one of them does). `credited: false` keeps an
    objective in the report against its target without earning a credit of its own (the
    per-service targets beside a contract that credits the overall figure).
    """

    service: str
    target: float = Field(gt=0, le=100)
    method: Literal["minutes", "requests"] = "minutes"
    clause: str = ""
    of: list[str] = Field(default_factory=list)
    down_when: Literal["any", "all"] = "any"
    credited: bool = True

    @model_validator(mode="after")
    def _composite(self) -> Objective:
        if self.of and self.method != "minutes":
            raise ValueError("an objective over several services is measured in minutes")
        if self.service in self.of:
            raise ValueError("the overall objective needs its own name, not a listed service")
        return self

    @property
    def components(self) -> list[str]:
        """The measured services this objective reads."""
        return list(self.of) or [self.service]


class Measurement(StrictModel):
    """How downtime is measured: `windows` (a verdict per aligned window) or `intervals`
    (outages from the first failed attempt to the next success, wherever they fall).

    For `intervals`: an outage shorter than `min_length` is not downtime; a longer one counts
    `rounding` whole minutes (`floor`: each complete minute, `ceil`, `nearest`) or its
    `exact` seconds. `interval_seconds` is the check interval that bounds when an outage
    could have started and ended."""

    method: Literal["windows", "intervals"] = "windows"
    min_length: Duration = 60.0
    rounding: Literal["floor", "ceil", "nearest", "exact"] = "floor"
    clause: str = ""


class ContractConfig(StrictModel):
    name: Name
    timezone: TimeZoneName = "UTC"
    window: Duration = 60.0
    down_rule: DownRuleField = Field(default_factory=lambda: parse_down_rule("all"))
    # Empty for a support-only contract: monitored, reported, no availability promise.
    objectives: list[Objective] = Field(default_factory=list)
    # `calendar`: every minute of the month (contract 000's formula); `eligible`: minus
    # excluded minutes (and minus no_data minutes when those are excluded).
    denominator: Literal["calendar", "eligible"] = "calendar"
    no_data: Literal["exclude", "up", "down"] = "exclude"
    maintenance_rules: MaintenanceRules = Field(default_factory=MaintenanceRules)
    credits: CreditPolicy | None = None
    description: str = ""
    support: SupportTerms | None = None
    measurement: Measurement = Field(default_factory=Measurement)
    # Services observed and decided with no availability target (a support-only contract
    # still gets incidents and support deadlines from them).
    watch: list[str] = Field(default_factory=list)

    @field_validator("window")
    @classmethod
    def _whole_seconds(cls, value: float) -> float:
        if value < 1 or value != int(value):
            raise ValueError("must be a whole number of seconds, at least 1s")
        return value

    @property
    def window_seconds(self) -> int:
        return int(self.window)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def rule(self) -> DownRule:
        return self.down_rule

    def services(self) -> list[str]:
        """Every measured service: the objectives' (their components for an overall
        objective), then the watch-only ones; each once, in order."""
        out = [s for o in self.objectives for s in o.components] + list(self.watch)
        return list(dict.fromkeys(out))


class DeclaredExclusion(StrictModel):
    """A time range the contract excludes for a stated reason (top-level `exclusions:`)."""

    contract: str
    services: list[str] = Field(default_factory=list)
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    reference: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/#-]*$", max_length=128)
    by: str = "config"
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> DeclaredExclusion:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


@dataclasses.dataclass(frozen=True, slots=True)
class Declared:
    """A declared exclusion from config or from the ledger, with who and when."""

    contract: str
    services: tuple[str, ...]
    start: float
    end: float
    reason: str
    reference: str
    by: str
    source: str
    at: float | None = None
    reverted_at: float | None = None
    reverted_by: str | None = None

    @property
    def active(self) -> bool:
        return self.reverted_at is None

    def covers(self, v: WindowVerdict) -> bool:
        return (v.contract == self.contract and self.start <= v.window_start < self.end
                and (not self.services or v.service in self.services))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"services": list(self.services)}
