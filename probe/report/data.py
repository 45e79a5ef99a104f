"""The facts of one month, gathered once and rendered in every format.

Every renderer reads this structure and nothing else, so text, JSON, CSV, Markdown and HTML
cannot disagree. The figures come from `month_accounts` arithmetic; the window rows are read
here only for what needs them (incidents, heat strip, CSV, the first affected window).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from probe.contracts.accounts import (
    ObjectiveAccount,
    account_objective,
    first_affected,
    interval_outages,
    month_totals,
)
from probe.contracts.composite import composite_rows, composite_timeline, composite_totals
from probe.contracts.credits import ContractCredit, total_credit
from probe.contracts.exclusions import declared_exclusions
from probe.contracts.intervals import Outage
from probe.contracts.maintenance import Assessment
from probe.contracts.model import Declared
from probe.contracts.month import Month, first_window, utc_iso
from probe.contracts.readings import Reading
from probe.feeds.plan import (
    reconciliation,
    reconciliation_json,
    stored_versions,
    with_vendor_maintenance,
)
from probe.model import Verdict, WindowVerdict
from probe.report.evidence import Evidence, first_in, objective_evidence
from probe.report.readings import contract_readings
from probe.support.report import incidents_json
from probe.support.tickets import month_tickets

if TYPE_CHECKING:
    from probe.config import Config
    from probe.contracts.model import Objective
    from probe.store import LedgerReader


@dataclasses.dataclass(frozen=True, slots=True)
class Incident:
    """A run of consecutive down windows."""

    start: int
    end: int
    minutes: float
    failure_classes: tuple[str, ...]
    failures: int
    attempts: int
    evidence: Evidence | None = None
    """The first failure of the run, redacted, and the vantage (issue 16, item 6)."""


class Timeline(Sequence[WindowVerdict]):
    """Every ended window of one objective's month, read from the ledger on first use.

    Only the per-window formats (CSV, the HTML heat strip) need it; the figures, incidents
    and the JSON/text/Markdown formats come from aggregates and the down windows alone.
    """

    def __init__(self, load: Callable[[], list[WindowVerdict]]) -> None:
        self._load: Callable[[], list[WindowVerdict]] | None = load
        self._rows: list[WindowVerdict] = []

    def _get(self) -> list[WindowVerdict]:
        if self._load is not None:
            self._rows, self._load = self._load(), None
        return self._rows

    @overload
    def __getitem__(self, index: int) -> WindowVerdict: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[WindowVerdict]: ...
    def __getitem__(self, index: int | slice) -> WindowVerdict | Sequence[WindowVerdict]:
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator[WindowVerdict]:
        return iter(self._get())


@dataclasses.dataclass(frozen=True, slots=True)
class ObjectiveReport:
    account: ObjectiveAccount
    incidents: list[Incident]
    timeline: Sequence[WindowVerdict]
    pending_from: int
    outages: list[Outage] | None = None
    """Under the `intervals` measurement: the month's outages as counted."""
    evidence: Mapping[int, Evidence] = dataclasses.field(default_factory=dict)
    """Per window start with a failed attempt: its first failure (CSV `evidence` column)."""
    outage_evidence: tuple[Evidence, ...] = ()
    """Beside `outages`, one each."""


@dataclasses.dataclass(frozen=True, slots=True)
class DeclaredView:
    declared: Declared
    minutes: dict[str, float]


@dataclasses.dataclass(frozen=True, slots=True)
class ContractReport:
    name: str
    description: str
    timezone: str
    denominator: str
    no_data_policy: str
    window_seconds: int
    month_start: int
    month_end: int
    final: bool
    objectives: list[ObjectiveReport]
    maintenance: list[Assessment]
    declared: list[DeclaredView]
    support_incidents: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    credit_total: ContractCredit | None = None
    readings: list[Reading] = dataclasses.field(default_factory=list)
    vendor: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # issue 18
    tickets: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # issue 16


@dataclasses.dataclass(frozen=True, slots=True)
class MonthReport:
    month: str
    generated_at: float
    scope: str
    vantage: str
    contracts: list[ContractReport]


def incidents(timeline: list[WindowVerdict]) -> list[Incident]:
    """Runs of down windows; a gap or any other verdict ends a run."""
    out: list[Incident] = []
    run: list[WindowVerdict] = []

    def close() -> None:
        if run:
            classes = sorted({c for v in run for c in v.failure_classes})
            ws = run[0].window_seconds
            out.append(Incident(run[0].window_start, run[-1].window_start + ws,
                                len(run) * ws / 60, tuple(classes),
                                sum(v.failures for v in run), sum(v.attempts for v in run)))
            run.clear()

    for v in timeline:
        if v.verdict == Verdict.DOWN and (
            not run or v.window_start == run[-1].window_start + v.window_seconds
        ):
            run.append(v)
            continue
        close()
        if v.verdict == Verdict.DOWN:
            run.append(v)
    close()
    return out


def _lazy_timeline(reader: LedgerReader, contract: str, objective: Objective, *, start: int,
                   end: int, ws: int, now: float, scope: str) -> Timeline:
    service = objective.service

    def load() -> list[WindowVerdict]:
        rows = (composite_timeline(reader, contract, objective, start=start, end=end,
                                   scope=scope)
                if objective.of else reader.windows(contract, start, end, scope, service))
        return timeline(rows, contract=contract, service=service, start=start, end=end,
                        ws=ws, now=now)[0]
    return Timeline(load)


def timeline(rows: list[WindowVerdict], *, contract: str, service: str, start: int,
             end: int, ws: int, now: float, fill: bool = True
             ) -> tuple[list[WindowVerdict], int]:
    """Every ended window of the month (unmeasured: `no_data`), and where pending starts.

    With `fill=False` only the given rows come back, in the same order (grid, then extras).
    """
    by_start = {v.window_start: v for v in rows}
    first = first_window(start, ws)
    stop = min(end, int(now // ws) * ws)
    if not fill:
        grid = sorted(w for w in by_start if first <= w < max(first, stop) and
                      (w - first) % ws == 0)
        out = [by_start.pop(w) for w in grid]
        out.extend(sorted(by_start.values(), key=lambda v: v.window_start))
        return out, max(first, stop)
    out = []
    for w in range(first, max(first, stop), ws):
        v = by_start.pop(w, None)
        out.append(v if v is not None else WindowVerdict(contract, service, w, ws,
                                                         Verdict.NO_DATA))
    out.extend(sorted(by_start.values(), key=lambda v: v.window_start))
    return out, max(first, stop)


def _declared_minutes(rows: list[WindowVerdict], d: Declared) -> dict[str, float]:
    tag = f"declared:{d.reason}:{d.reference}|"
    minutes: defaultdict[str, float] = defaultdict(float)
    for v in rows:
        if v.note.startswith(tag):
            minutes[v.service] += v.window_seconds / 60
    return dict(sorted(minutes.items()))


def build(config: Config, reader: LedgerReader, month: Month, now: float,
          scope: str = "local") -> MonthReport:
    contracts: list[ContractReport] = []
    config = with_vendor_maintenance(config, reader)  # vendor feeds' maintenance joins
    versions = stored_versions(config, reader)
    judged = config.maintenance_plan
    declared = declared_exclusions(config, reader)
    for contract in config.contracts:
        start, end = month.bounds(contract.zone)
        ws = contract.window_seconds
        # Only the windows that matter to the figures are read here (down, failed
        # requests, declared-exclusion notes); the full per-window timeline is lazy.
        rows = reader.notable_windows(
            contract.name, start, end, scope,
            failed_up=any(o.method == "requests" for o in contract.objectives))
        totals = month_totals(reader, contract, start, end, scope)
        by_service: defaultdict[str, list[WindowVerdict]] = defaultdict(list)
        for v in rows:
            by_service[v.service].append(v)
        objectives: list[ObjectiveReport] = []
        for objective in contract.objectives:
            if objective.of:
                mine = composite_rows(reader, contract.name, objective, start=start,
                                      end=end, scope=scope)
                own = composite_totals(mine, objective, totals)
            else:
                mine = by_service.get(objective.service, [])
                own = totals.get(objective.service, {})
            downs, pending_from = timeline(
                [v for v in mine if v.verdict == Verdict.DOWN], contract=contract.name,
                service=objective.service, start=start, end=end, ws=ws, now=now, fill=False)
            found = interval_outages(reader, contract, objective, start=start, end=end,
                                     now=now, scope=scope)
            acc = account_objective(
                config, contract, objective, month, own, now=now,
                first_incident=first_affected(mine, objective.method),
                interval_minutes=None if found is None else
                sum(o.counted_minutes for o in found))
            seen = (objective_evidence(reader, objective, config.probe.vantage, start=start,
                                       end=end, window_seconds=ws) if mine or found else {})
            runs = [dataclasses.replace(i, evidence=first_in(
                seen, i.start, i.end, config.probe.vantage, ws)) for i in incidents(downs)]
            objectives.append(ObjectiveReport(
                acc, runs, _lazy_timeline(reader, contract.name, objective,
                                          start=start, end=end, ws=ws, now=now,
                                          scope=scope),
                pending_from, found, seen,
                tuple(first_in(seen, x.start, x.end if x.end is not None else end,
                               config.probe.vantage, ws) for x in found or ())))
        credit_total = None if contract.credits is None or not objectives else total_credit(
            contract.name, contract.credits,
            [(o.account.service, o.account.credit) for o in objectives if o.account.credited])
        in_month = [a for a in judged.get(contract.name, ())
                    if a.entry.start.timestamp() < end and a.entry.end.timestamp() > start]
        views = [DeclaredView(d, _declared_minutes(rows, d)) for d in declared
                 if d.contract == contract.name and d.start < end and d.end > start]
        support = (incidents_json(contract, reader, start, end, now, scope=scope)
                   if contract.support is not None else [])
        readings = contract_readings(
            config, contract, reader, accounts=[o.account for o in objectives],
            maintenance=in_month, incidents=support, start=start, end=end, now=now,
            scope=scope)
        contracts.append(ContractReport(
            name=contract.name, description=contract.description, timezone=contract.timezone,
            denominator=contract.denominator, no_data_policy=contract.no_data,
            window_seconds=ws, month_start=start, month_end=end, final=now >= end,
            objectives=objectives, maintenance=in_month, declared=views,
            support_incidents=support, credit_total=credit_total, readings=readings,
            vendor=reconciliation_json(reconciliation(
                config, reader, versions, contract.name, start=start, end=end, now=now,
                scope=scope)),
            tickets=month_tickets(contract, reader.ticket_events(contract.name), start, end,
                                  now),
        ))
    return MonthReport(str(month), now, scope, config.probe.vantage, contracts)


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 6)


def account_json(acc: ObjectiveAccount) -> dict[str, Any]:
    c = acc.credit
    return {
        "service": acc.service, "method": acc.method, "target_percent": acc.target,
        "clause": acc.clause,
        "uptime_percent": round(acc.uptime_percent, 4), "uptime_ratio": acc.uptime_ratio,
        "met": acc.met, "status": acc.status,
        "minutes_in_month": _num(acc.minutes_in_month), "up_minutes": _num(acc.up_minutes),
        "down_minutes": _num(acc.down_minutes),
        "downtime_minutes": _num(acc.downtime_minutes),
        "excluded_minutes": {k: _num(v) for k, v in acc.excluded_minutes.items()},
        "no_data_minutes": _num(acc.no_data_minutes),
        "pending_minutes": _num(acc.pending_minutes),
        "denominator_minutes": _num(acc.denominator_minutes),
        "requests": acc.requests, "failed_requests": acc.failed_requests,
        "budget_remaining_minutes": _num(round(acc.budget_remaining_minutes, 4)),
        "invalid_maintenance": acc.invalid_maintenance,
        "of": list(acc.components), "credited": acc.credited,
        "credit": {
            "status": c.status, "unit": c.unit, "amount": _num(float(c.amount)),
            "tier": c.tier, "capped": c.capped,
            "cap": None if c.cap is None else _num(float(c.cap)),
            "target_missed_no_tier": c.no_tier,
            "rounded_uptime_percent": None if c.rounded_uptime is None else str(c.rounded_uptime),
            "claim_deadline": None if c.claim_deadline is None else utc_iso(c.claim_deadline),
            "claim_by": c.claim_by, "description": c.describe(),
        },
    }


def credit_total_json(t: ContractCredit) -> dict[str, Any]:
    return {"unit": t.unit, "amount": _num(float(t.amount)),
            "combined": _num(float(t.combined)),
            "cap": None if t.cap is None else _num(float(t.cap)), "capped": t.capped,
            "rule": t.rule, "clause": t.clause,
            "objectives": {name: _num(float(a)) for name, a in t.parts},
            "description": t.describe()}


def assessment_json(a: Assessment) -> dict[str, Any]:
    e = a.entry
    return {
        "reference": e.reference, "kind": e.kind, "services": list(e.services),
        "start": utc_iso(e.start.timestamp()), "end": utc_iso(e.end.timestamp()),
        "announced_at": None if e.announced_at is None else utc_iso(e.announced_at.timestamp()),
        "status": a.status, "excluded_minutes": _num(a.excluded_minutes),
        "counted_minutes": _num(a.counted_minutes), "note": e.note,
        "violations": [{"rule": v.rule, "binding": v.binding, "message": v.message,
                        "counted_minutes": _num(v.counted_minutes)} for v in a.violations],
    }


def declared_json(view: DeclaredView) -> dict[str, Any]:
    d = view.declared
    return {
        "reference": d.reference, "reason": d.reason, "services": list(d.services),
        "start": utc_iso(d.start), "end": utc_iso(d.end), "by": d.by, "source": d.source,
        "recorded_at": None if d.at is None else utc_iso(d.at),
        "active": d.active,
        "reverted_at": None if d.reverted_at is None else utc_iso(d.reverted_at),
        "reverted_by": d.reverted_by,
        "applied_minutes": {k: _num(v) for k, v in view.minutes.items()},
    }


def incident_json(i: Incident) -> dict[str, Any]:
    return {"start": utc_iso(i.start), "end": utc_iso(i.end), "minutes": _num(i.minutes),
            "failure_classes": list(i.failure_classes), "failures": i.failures,
            "attempts": i.attempts} | ({} if i.evidence is None else i.evidence.to_json())


def outage_json(o: Outage) -> dict[str, Any]:
    """One outage: observed (first failure, next success) and the bounds the sampling
    leaves (it began after the last success before it, ended after its last failure)."""
    return {"start": _iso(o.start), "end": _iso(o.end),
            "earliest_start": _iso(o.earliest_start), "latest_start": _iso(o.start),
            "earliest_end": _iso(o.earliest_end), "latest_end": _iso(o.end),
            "excluded_seconds": _num(o.excluded_seconds),
            "counted_minutes": _num(o.counted_minutes)}


def _iso(t: float | None) -> str | None:
    """Like `utc_iso`, with the milliseconds an attempt's start has."""
    if t is None:
        return None
    whole = utc_iso(int(t))
    frac = round(t - int(t), 3)
    return whole if not frac else whole[:-1] + f"{frac:.3f}"[1:] + "Z"


def report_json(report: MonthReport) -> dict[str, Any]:
    """The machine-readable truth: every fact the human formats show."""
    return {
        "month": report.month, "generated_at": utc_iso(report.generated_at),
        "scope": report.scope, "vantage": report.vantage,
        "contracts": [{
            "contract": c.name, "description": c.description, "timezone": c.timezone,
            "status": "final" if c.final else "provisional",
            "month_start": utc_iso(c.month_start), "month_end": utc_iso(c.month_end),
            "window_seconds": c.window_seconds, "denominator": c.denominator,
            "no_data_policy": c.no_data_policy,
            "objectives": [account_json(o.account)
                           | {"incidents": [incident_json(i) for i in o.incidents]}
                           | ({} if o.outages is None else
                              {"outages": [outage_json(x) | e.to_json() for x, e in
                                           zip(o.outages, o.outage_evidence, strict=True)]})
                           for o in c.objectives],
            "maintenance": [assessment_json(a) for a in c.maintenance],
            "declared_exclusions": [declared_json(d) for d in c.declared],
            "support_incidents": c.support_incidents,
            "credit_total": None if c.credit_total is None else credit_total_json(c.credit_total),
            "readings": [r.to_json() for r in c.readings],
            "tickets": c.tickets,
            # only for contracts with a vendor feed: other reports keep their shape
            **({"vendor_reconciliation": c.vendor} if c.vendor else {}),
        } for c in report.contracts],
    }
