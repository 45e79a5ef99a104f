"""Readings: where a contract text is ambiguous, the interpretation taken, the clause it
rests on, and the figure the other reading would give (issue 15, item 7).

A claim on today's figures can be contested on the reading, so the report never hides one:
each `Reading` is computed for the month from the same accounts, entries and incidents the
report shows, once under the configured reading and once under the other. The table of
every reading of the seed contracts is docs/contracts.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from probe.contracts.credits import literal_credit, total_credit

if TYPE_CHECKING:
    from probe.contracts.accounts import ObjectiveAccount
    from probe.contracts.maintenance import Assessment
    from probe.contracts.model import ContractConfig


@dataclasses.dataclass(frozen=True, slots=True)
class Reading:
    topic: str
    clause: str
    subject: str
    taken: str
    figure_taken: str
    other: str
    figure_other: str

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def _pct(x: Fraction) -> str:
    return f"{float(x * 100):.4f} %"


def tier_readings(contract: ContractConfig, accounts: Sequence[ObjectiveAccount]
                  ) -> list[Reading]:
    policy = contract.credits
    out: list[Reading] = []
    if policy is None:
        return out
    for a in accounts:
        if not a.credited:
            continue
        literal = literal_credit(policy, a.uptime, Fraction(str(a.target)) / 100)
        if literal is None:
            continue
        r = policy.rounding
        out.append(Reading(
            "credit tier bounds", "; ".join(t.clause for t in policy.tiers if t.clause),
            a.service,
            f"uptime {r.mode} to {r.decimals} decimals, then the row (the table's precision)",
            f"{_pct(a.uptime)} -> {a.credit.describe()}",
            "the printed rows as closed ranges of the exact uptime", literal))
    return out


def denominator_readings(contract: ContractConfig, accounts: Sequence[ObjectiveAccount]
                         ) -> list[Reading]:
    """`calendar` with no_data not counted down: unmeasured minutes stand as up minutes."""
    if contract.denominator != "calendar" or contract.no_data == "down":
        return []
    out: list[Reading] = []
    for a in accounts:
        if a.method != "minutes":
            continue
        eligible = Fraction(a.denominator_minutes) - Fraction(a.no_data_minutes) - \
            Fraction(a.excluded_total)
        other = Fraction(1) if eligible <= 0 else 1 - Fraction(a.downtime_minutes) / eligible
        out.append(Reading(
            "unmeasured minutes", "denominator: calendar (minutes in the calendar month)",
            a.service,
            f"calendar denominator: {a.no_data_minutes:g} unmeasured min count as up",
            _pct(a.uptime),
            "eligible denominator: unmeasured and excluded minutes left out",
            _pct(other)))
    return out


def notice_readings(contract: ContractConfig, taken: Sequence[Assessment],
                    elapsed: Sequence[Assessment]) -> list[Reading]:
    rule = contract.maintenance_rules.min_notice
    if rule is None or rule.counting != "calendar":
        return []
    other = {a.entry.reference: a for a in elapsed}
    out: list[Reading] = []
    for a in taken:
        b = other.get(a.entry.reference)
        if b is None:
            continue
        out.append(Reading(
            "notice period", rule.clause, a.entry.reference,
            "days and weeks are calendar days in the contract's zone",
            f"{a.status}, {a.counted_minutes:g} min counted",
            "elapsed hours (a DST change shortens the notice by an hour)",
            f"{b.status}, {b.counted_minutes:g} min counted"))
    return out


def overall_readings(contract: ContractConfig, accounts: Sequence[ObjectiveAccount],
                     other_down: Mapping[str, float]) -> list[Reading]:
    """Objectives over several services: `any` vs `all`, and crediting the overall figure
    vs crediting each service on its own."""
    out: list[Reading] = []
    for a in accounts:
        if not a.components or a.service not in other_down:
            continue
        objective = next(o for o in contract.objectives if o.service == a.service)
        flip = "all" if objective.down_when == "any" else "any"
        down = other_down[a.service]
        other = 1 - Fraction(down) / Fraction(a.denominator_minutes)
        out.append(Reading(
            "overall objective", a.clause, a.service,
            f"down when {objective.down_when} listed service is down",
            f"{a.downtime_minutes:g} min down, {_pct(a.uptime)}",
            f"down when {flip} listed service is down",
            f"{down:g} min down, {_pct(other)}"))
    policy = contract.credits
    if policy is not None and any(a.components and a.credited for a in accounts):
        taken = total_credit(contract.name, policy,
                             [(a.service, a.credit) for a in accounts if a.credited])
        per = total_credit(contract.name, policy,
                           [(a.service, a.credit) for a in accounts if not a.components])
        out.append(Reading(
            "what is credited", policy.total.clause or "credits", contract.name,
            "the overall figure is credited; per-service targets are reported only",
            taken.describe(), "each service credited on its own table lookup",
            per.describe()))
    return out


def interval_readings(contract: ContractConfig, service: str, taken: float,
                      other: float, other_rounding: str) -> Reading:
    m = contract.measurement
    return Reading(
        "interruption rounding", m.clause, service,
        f"outages of at least {m.min_length:g} s, {m.rounding} whole minutes",
        f"{taken:g} min down", f"{other_rounding} whole minutes", f"{other:g} min down")


def response_readings(contract: ContractConfig, incidents: Sequence[Mapping[str, Any]]
                      ) -> list[Reading]:
    """Response limits with an `other_reading`: the deadline of each incident under both."""
    support = contract.support
    if support is None:
        return []
    out: list[Reading] = []
    for severity, limit in support.selected.response.items():
        if limit.other_reading is None:
            continue
        mine = [i for i in incidents if i.get("severity") == severity]
        out.extend(Reading(
            "response time", limit.clause, f"{severity} incident {i['start']}",
            limit.describe(), f"response due {i['response_due']}",
            limit.other_reading, f"response due {i.get('response_due_other_reading')}")
            for i in mine)
        if not mine:
            out.append(Reading("response time", limit.clause, severity, limit.describe(),
                               "no incident this month", limit.other_reading,
                               "no incident this month"))
    return out
