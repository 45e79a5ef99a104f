"""The month of every objective: one aggregate per contract, then exact arithmetic.

This is the single source of the month figures (reports and the metrics collector). The
uptime is computed as a `Fraction`, so "44 down minutes in 44,640 meets 99.9 %" is decided
exactly, and the credit tiers see the same number the report prints.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from probe.contracts.composite import composite_rows, composite_totals
from probe.contracts.credits import ContractCredit, Credit, credit_for, total_credit
from probe.contracts.intervals import Outage, counted, outages
from probe.contracts.month import Month, first_window
from probe.model import Reason, Verdict, WindowVerdict

if TYPE_CHECKING:
    from probe.contracts.model import ContractConfig, Objective
    from probe.contracts.source import ContractTerms, WindowSource

Totals = dict[tuple[str, str], tuple[int, int, int]]


@dataclasses.dataclass(frozen=True, slots=True)
class ObjectiveAccount:
    """One objective's month against its target, with the credit it earns."""

    contract: str
    service: str
    month: str
    timezone: str
    method: str
    target: float
    clause: str
    denominator: str
    no_data_policy: str
    window_seconds: int
    minutes_in_month: float
    up_minutes: float
    down_minutes: float
    excluded_minutes: dict[str, float]
    no_data_minutes: float
    pending_minutes: float
    downtime_minutes: float
    denominator_minutes: float
    requests: int | None
    failed_requests: int | None
    uptime: Fraction
    credit: Credit
    invalid_maintenance: int
    maintenance_warnings: int
    final: bool
    month_start: int
    month_end: int
    credited: bool = True
    components: tuple[str, ...] = ()

    @property
    def uptime_ratio(self) -> float:
        return float(self.uptime)

    @property
    def uptime_percent(self) -> float:
        return float(self.uptime * 100)

    @property
    def excluded_total(self) -> float:
        return sum(self.excluded_minutes.values())

    @property
    def met(self) -> bool:
        return self.uptime >= Fraction(str(self.target)) / 100

    @property
    def status(self) -> str:
        return "final" if self.final else "provisional"

    @property
    def budget_minutes(self) -> float:
        return float((1 - Fraction(str(self.target)) / 100) * Fraction(self.denominator_minutes))

    @property
    def budget_remaining_minutes(self) -> float:
        """(uptime - target) * denominator; for `requests`, the minute-equivalent."""
        gap = self.uptime - Fraction(str(self.target)) / 100
        return float(gap * Fraction(self.denominator_minutes))


def _windows(month: Month, contract: ContractConfig, now: float) -> tuple[int, int]:
    """(windows in the month, windows of it that have ended by `now`)."""
    ws = contract.window_seconds
    start, end = month.bounds(contract.zone)
    first = first_window(start, ws)
    total = max(0, -(-(end - first) // ws))
    ended = 0 if now <= first else min(total, int((min(now, end) - first) // ws))
    return total, ended


def account_objective(
    terms: ContractTerms, contract: ContractConfig, objective: Objective, month: Month,
    totals: Totals, *, now: float, first_incident: int | None = None,
    interval_minutes: float | None = None,
) -> ObjectiveAccount:
    """Fold one objective's (verdict, reason) totals into its month account.

    `interval_minutes` is the downtime counted by the `intervals` measurement; it replaces
    the down windows (the other window counts still give exclusions and no_data)."""
    ws = contract.window_seconds
    per = Fraction(ws, 60)
    start, end = month.bounds(contract.zone)
    total_windows, ended = _windows(month, contract, now)
    windows: Counter[str] = Counter()
    excluded: Counter[str] = Counter()
    attempts = failures = all_attempts = 0
    for (verdict, reason), (n, tried, failed) in totals.items():
        all_attempts += tried
        if verdict == Verdict.EXCLUDED:
            excluded[reason or Reason.DECLARED.value] += n
            continue
        windows[verdict] += n
        attempts += tried
        failures += failed
    decided = sum(windows.values()) + sum(excluded.values())
    no_data = windows[Verdict.NO_DATA] + max(0, ended - decided)
    pending = max(0, total_windows - max(decided, ended))
    minutes = Fraction(end - start, 60)
    excluded_min = per * sum(excluded.values())
    measured_down = per * windows[Verdict.DOWN] if interval_minutes is None else \
        Fraction(interval_minutes)
    down_time = measured_down + (per * no_data if contract.no_data == "down" else 0)
    denominator = minutes
    if contract.denominator == "eligible":
        denominator -= excluded_min + (per * no_data if contract.no_data == "exclude" else 0)
    if objective.method == "requests":
        base = all_attempts if contract.denominator == "calendar" else attempts
        uptime = Fraction(1) if base == 0 else 1 - Fraction(failures, base)
    else:
        uptime = Fraction(1) if denominator <= 0 else 1 - down_time / denominator
    target = Fraction(str(objective.target)) / 100
    judged = [a for a in terms.maintenance_plan.get(contract.name, ())
              if any(a.entry.covers(s) for s in objective.components)
              and start <= a.entry.start.timestamp() < end]
    return ObjectiveAccount(
        contract=contract.name, service=objective.service, month=str(month),
        timezone=contract.timezone, method=objective.method, target=objective.target,
        clause=objective.clause,
        denominator=contract.denominator, no_data_policy=contract.no_data,
        window_seconds=ws, minutes_in_month=float(minutes),
        up_minutes=float(per * windows[Verdict.UP]),
        down_minutes=float(measured_down),
        excluded_minutes={k: float(per * v) for k, v in sorted(excluded.items())},
        no_data_minutes=float(per * no_data), pending_minutes=float(per * pending),
        downtime_minutes=float(down_time), denominator_minutes=float(denominator),
        requests=None if objective.method == "minutes" else
        (attempts if contract.denominator == "eligible" else all_attempts),
        failed_requests=None if objective.method == "minutes" else failures, uptime=uptime,
        credit=credit_for(contract.credits, uptime=uptime, target=target, month_end=end,
                          first_incident=first_incident, zone=contract.zone),
        invalid_maintenance=sum(1 for a in judged if a.invalid),
        maintenance_warnings=sum(1 for a in judged if a.warnings),
        final=now >= end, month_start=start, month_end=end,
        credited=objective.credited, components=tuple(objective.of),
    )


def month_accounts(
    terms: ContractTerms, source: WindowSource, month: Month, now: float, scope: str = "local",
    *, first_incidents: dict[tuple[str, str], int] | None = None,
) -> list[ObjectiveAccount]:
    """Every objective of every contract for `month` (each in its contract's time zone)."""
    out: list[ObjectiveAccount] = []
    for contract in terms.contracts:
        if not contract.objectives:
            continue
        start, end = month.bounds(contract.zone)
        totals = month_totals(source, contract, start, end, scope)
        for objective in contract.objectives:
            mine = objective_totals(source, contract, objective, totals, start=start,
                                    end=end, scope=scope)
            first = (first_incidents or {}).get((contract.name, objective.service))
            found = interval_outages(source, contract, objective, start=start, end=end,
                                     now=now, scope=scope)
            late = None if found is None else sum(o.counted_minutes for o in found)
            acc = account_objective(terms, contract, objective, month, mine, now=now,
                                    first_incident=first, interval_minutes=late)
            policy = contract.credits
            if (first is None and acc.credit.status != "met" and policy is not None
                    and policy.claim_from == "first_incident"):
                # Only a missed month needs the rows: when was the service first affected?
                rows = (composite_rows(source, contract.name, objective, start=start,
                                       end=end, scope=scope)
                        if objective.of else
                        source.windows(contract.name, start, end, scope, objective.service))
                first = first_affected(rows, objective.method)
                acc = account_objective(terms, contract, objective, month, mine, now=now,
                                        first_incident=first, interval_minutes=late)
            out.append(acc)
    return out


def interval_outages(
    source: WindowSource, contract: ContractConfig, objective: Objective, *, start: int,
    end: int, now: float, scope: str, rounding: str | None = None,
) -> list[Outage] | None:
    """The month's outages of an objective under the `intervals` measurement, counted; None
    when the contract measures windows, for an objective over several services, for the
    quorum scope (votes are per window), or when no attempt of the month is kept any more
    (pruned after `attempt_retention`): then the windows decide."""
    m = contract.measurement
    if m.method != "intervals" or objective.of or scope != "local":
        return None
    samples = source.outage_samples(objective.service, start - 3600, min(end, now) + 3600)
    if not samples and source.windows_by_verdict(contract.name, Verdict.DOWN, start, end,
                                                 scope=scope, service=objective.service,
                                                 limit=1):
        return None  # down windows but no attempt kept: pruned, the windows decide
    excluded = [v.window_start for v in source.windows_by_verdict(
        contract.name, Verdict.EXCLUDED, start, end, scope=scope, service=objective.service)]
    return counted(outages(objective.service, samples), m, start=start, end=end, now=now,
                   excluded=excluded, window_seconds=contract.window_seconds,
                   rounding=rounding)


def objective_totals(source: WindowSource, contract: ContractConfig, objective: Objective,
                     totals: dict[str, Totals], *, start: int, end: int, scope: str) -> Totals:
    """One objective's (verdict, reason) totals: its service's, or the whole's when it is an
    objective over several services."""
    if not objective.of:
        return totals.get(objective.service, {})
    rows = composite_rows(source, contract.name, objective, start=start, end=end,
                          scope=scope)
    return composite_totals(rows, objective, totals)


def contract_credits(terms: ContractTerms, accounts: Sequence[ObjectiveAccount]
                     ) -> list[ContractCredit]:
    """Per contract with credit terms, the month's one credit from its credited objectives."""
    out: list[ContractCredit] = []
    for contract in terms.contracts:
        mine = [a for a in accounts if a.contract == contract.name]
        if contract.credits is None or not mine:
            continue
        out.append(total_credit(contract.name, contract.credits,
                                [(a.service, a.credit) for a in mine if a.credited]))
    return out


def month_totals(source: WindowSource, contract: ContractConfig, start: int, end: int,
                 scope: str) -> dict[str, Totals]:
    """Window counts per service; attempt sums only when an objective counts requests.

    Counting alone is served by the ledger's covering index and is about twice as fast,
    which matters because the metrics collector calls this at every scrape.
    """
    if any(o.method == "requests" for o in contract.objectives):
        return source.window_totals(contract.name, start, end, scope)
    counts = source.month_counts(contract.name, start, end, scope)
    return {service: {key: (n, 0, 0) for key, n in c.items()}
            for service, c in counts.items()}


def first_affected(rows: Sequence[WindowVerdict], method: str) -> int | None:
    """The first window that counted against the vendor (down, or failed requests)."""
    for v in rows:
        if v.verdict == Verdict.DOWN or (
            method == "requests" and v.verdict == Verdict.UP and v.failures
        ):
            return v.window_start
    return None
