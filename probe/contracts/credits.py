"""Service credits: tiers as half-open intervals over a rounded uptime, a cap, a claim window.

Contract tables are written at a stated precision ("98,00 % - 99,00 %", "<95.0 %"). The uptime
is rounded to that precision *before* the tier lookup, with an explicit mode, so a value such
as 97.995 % never falls into the gap between two printed rows. Arithmetic is exact (`Fraction`
in, `Decimal` at the table's precision), never binary floating point.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from probe.durations import Duration
from probe.fields import StrictModel

_NUM = r"\d+(\.\d+)?"
_PRINTED = rf"^$|^\s*(<\s*{_NUM}|{_NUM}\s*-\s*{_NUM})\s*%?\s*$"
_MODES = {"floor": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


class Rounding(StrictModel):
    """How the uptime percentage is rounded before the tiers are looked up."""

    decimals: int = Field(default=2, ge=0, le=6)
    mode: Literal["floor", "half_up", "half_even"] = "floor"

    def apply(self, percent: Fraction) -> Decimal:
        exact = Decimal(percent.numerator) / Decimal(percent.denominator)
        return exact.quantize(Decimal(1).scaleb(-self.decimals), rounding=_MODES[self.mode])


class Tier(StrictModel):
    """`amount` is owed when `min <= rounded uptime < max` (percent)."""

    min: Decimal = Field(default=Decimal(0), ge=0, le=100)
    max: Decimal = Field(gt=0, le=100)
    amount: Decimal = Field(gt=0)
    clause: str = ""
    printed: str = Field(default="", pattern=_PRINTED)
    """The row as printed (`98.00 - 99.00`, `<96.00`): read literally, a closed range of the
    exact uptime (or below a bound). The report shows the credit under that reading beside
    the configured one (issue 15, item 7)."""

    def holds_literally(self, exact: Fraction) -> bool:
        text = self.printed.replace("%", "").replace(" ", "")
        if text.startswith("<"):
            return exact < Fraction(text[1:])
        low, _, high = text.partition("-")
        return Fraction(low) <= exact <= Fraction(high)

    @model_validator(mode="after")
    def _ordered(self) -> Tier:
        if self.min >= self.max:
            raise ValueError(f"min {self.min} must be below max {self.max}")
        return self

    def holds(self, uptime: Decimal) -> bool:
        return self.min <= uptime < self.max

    def label(self, decimals: int | None = None) -> str:
        if decimals is None:
            return f"[{self.min}, {self.max})"
        return f"[{self.min:.{decimals}f}, {self.max:.{decimals}f})"


class TotalRule(StrictModel):
    """How a contract's objectives add up to the month's one credit: the `sum` (or the
    `max`) of the credited objectives' credits, then at most `cap` (Dfns §4 "Service Credits
    for any month will not exceed seven percent (7%)"; SecurEnvoy "maximum service credit of
    10 days in any single calendar month")."""

    combine: Literal["sum", "max"] = "sum"
    cap: Decimal | None = Field(default=None, gt=0)
    clause: str = ""


class ClaimCondition(StrictModel):
    """Something the customer must do or be for a credit to be paid (Dfns §4: a written
    request within 30 days, an account fully paid up). The claim letter lists them as a
    checklist (`sla-probe claim`, issue 16 item 5)."""

    text: str = Field(min_length=1)
    clause: str = ""
    quote: str = ""
    """The contract's words, quoted in the letter."""


class CreditPolicy(StrictModel):
    """What a missed target earns: `percent` of monthly fees or `days` of licence."""

    unit: Literal["percent", "days"]
    total: TotalRule = Field(default_factory=TotalRule)
    rounding: Rounding = Field(default_factory=Rounding)
    tiers: list[Tier] = Field(min_length=1)
    cap: Decimal | None = Field(default=None, gt=0)
    claim_within: Duration = 30 * 86400.0
    claim_from: Literal["month_end", "first_incident"] = "month_end"
    claim_conditions: list[ClaimCondition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self) -> CreditPolicy:
        ordered = sorted(self.tiers, key=lambda t: t.min)
        for low, high in itertools.pairwise(ordered):
            if high.min < low.max:
                raise ValueError(f"tiers {low.label()} and {high.label()} overlap")
        return self


CreditStatus = Literal["met", "due", "missed_no_tier", "missed_no_credit_terms"]


@dataclasses.dataclass(frozen=True, slots=True)
class Credit:
    """The credit one objective earns for one month; `status` says why it is what it is."""

    status: CreditStatus
    unit: str | None = None
    amount: Decimal = Decimal(0)
    tier: str | None = None
    capped: bool = False
    cap: Decimal | None = None
    rounded_uptime: Decimal | None = None
    claim_deadline: float | None = None
    claim_by: str | None = None

    @property
    def no_tier(self) -> bool:
        """Target missed but no tier applies: said explicitly, never a silent 0."""
        return self.status == "missed_no_tier"

    def describe(self) -> str:
        if self.status == "met":
            return "target met, no credit due"
        if self.status == "missed_no_credit_terms":
            return "target missed; the contract states no service credits"
        if self.status == "missed_no_tier":
            return (f"target missed, but no credit tier applies at {self.rounded_uptime} % "
                    "(gap in the contract's table)")
        unit, short = ("% of monthly fees", "%") if self.unit == "percent" else \
            (" days of licence", " days")
        cap = "" if self.cap is None else \
            f"; cap {self.cap}{short}{' reached' if self.capped else ''}"
        return f"{self.amount}{unit} (tier {self.tier}{cap})"


def claim_deadline(
    policy: CreditPolicy, month_end: int, first_incident: int | None, zone: ZoneInfo
) -> tuple[float | None, str | None]:
    """(exclusive UTC deadline, last local day to claim) under the policy's claim window."""
    if policy.claim_from == "first_incident":
        if first_incident is None:
            return None, None
        origin = first_incident
    else:
        origin = month_end
    local = datetime.fromtimestamp(origin, tz=zone)
    # Whole days are counted on the local calendar, so a DST change keeps midnight midnight.
    days, rest = divmod(policy.claim_within, 86400)
    end_local = (local.replace(tzinfo=None) + timedelta(days=days, seconds=rest))
    deadline = end_local.replace(tzinfo=zone).timestamp()
    last_day = datetime.fromtimestamp(deadline - 1, tz=zone).date().isoformat()
    return deadline, last_day


def credit_for(
    policy: CreditPolicy | None,
    *,
    uptime: Fraction,
    target: Fraction,
    month_end: int,
    first_incident: int | None,
    zone: ZoneInfo,
) -> Credit:
    """The credit owed at `uptime` (a ratio) against `target` (a ratio)."""
    if uptime >= target:
        return Credit(status="met", unit=None if policy is None else policy.unit)
    if policy is None:
        return Credit(status="missed_no_credit_terms")
    rounded = policy.rounding.apply(uptime * 100)
    deadline, last_day = claim_deadline(policy, month_end, first_incident, zone)
    for tier in policy.tiers:
        if tier.holds(rounded):
            amount = tier.amount
            capped = policy.cap is not None and amount >= policy.cap
            if policy.cap is not None:
                amount = min(amount, policy.cap)
            return Credit(
                status="due", unit=policy.unit, amount=amount,
                tier=tier.label(policy.rounding.decimals), capped=capped, cap=policy.cap,
                rounded_uptime=rounded,
                claim_deadline=deadline, claim_by=last_day,
            )
    return Credit(status="missed_no_tier", unit=policy.unit, cap=policy.cap,
                  rounded_uptime=rounded, claim_deadline=deadline, claim_by=last_day)


@dataclasses.dataclass(frozen=True, slots=True)
class ContractCredit:
    """The month's one credit of a contract, beside the per-objective figures it sums."""

    contract: str
    unit: str
    parts: tuple[tuple[str, Decimal], ...]
    combined: Decimal
    amount: Decimal
    cap: Decimal | None
    capped: bool
    rule: str
    clause: str

    def describe(self) -> str:
        short = "%" if self.unit == "percent" else " days"
        parts = " + ".join(f"{name} {amount}{short}" for name, amount in self.parts) or "none"
        capped = f", capped at {self.cap}{short}" if self.capped else ""
        return f"{self.amount}{short} ({self.rule}: {parts} = {self.combined}{short}{capped})"


def total_credit(contract: str, policy: CreditPolicy,
                 credits: Sequence[tuple[str, Credit]]) -> ContractCredit:
    """Combine the credits of the credited objectives under the policy's total rule."""
    total = policy.total
    parts = tuple((name, c.amount) for name, c in credits if c.status == "due")
    amounts = [a for _, a in parts]
    if total.combine == "max":
        combined = max(amounts, default=Decimal(0))
    else:
        combined = sum(amounts, Decimal(0))
    capped = total.cap is not None and combined > total.cap
    amount = min(combined, total.cap) if total.cap is not None else combined
    short = "%" if policy.unit == "percent" else " days"
    rule = f"{total.combine} of the credited objectives"
    if total.cap is not None:
        rule += f", at most {total.cap}{short} a month"
    return ContractCredit(contract, policy.unit, parts, combined, amount, total.cap, capped,
                          rule, total.clause)


def literal_credit(policy: CreditPolicy, uptime: Fraction, target: Fraction) -> str | None:
    """The credit when the printed rows are read literally on the exact uptime; None when
    the policy prints no rows."""
    if not any(t.printed for t in policy.tiers):
        return None
    if uptime >= target:
        return "target met, no credit due"
    exact = uptime * 100
    for tier in policy.tiers:
        if tier.printed and tier.holds_literally(exact):
            unit = "%" if policy.unit == "percent" else " days"
            return f"{tier.amount}{unit} (row {tier.printed.strip()})"
    return f"target missed, no row holds {float(exact):.4f} % exactly: no credit"
