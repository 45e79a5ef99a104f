"""The status page's data: each contract's services now, this month, the last 90 days,
and their incidents, read from the ledger.

Apart from the HTML (`probe.web.status.html`) and the routes (`probe.web.status.routes`)
because the same dict is also the JSON of `/api/v1/status`: what the page shows and what a
script reads can then never disagree. Month figures come from `probe.contracts.accounts`
and incidents from `probe.support.incidents`, the same sources as the month report.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from probe.clock import Clock
from probe.config import Config
from probe.contracts.accounts import ObjectiveAccount, month_accounts
from probe.contracts.model import ContractConfig
from probe.contracts.month import Month, utc_iso
from probe.feeds.plan import reconciliation, reconciliation_json, stored_versions
from probe.model import Verdict
from probe.report.data import account_json
from probe.store import LedgerReader
from probe.support.incidents import Incident, read_incidents
from probe.support.report import incidents_json

SCOPES = ("local", "quorum")
STRIP_DAYS = 90
RECENT_DAYS = 30
RECENT_LIMIT = 50

def _month_to_date(acc: ObjectiveAccount, now: float) -> dict[str, Any]:
    """The report's account of the month so far (probe.contracts.accounts, the single source
    of month figures), plus the downtime budget and the uptime over the elapsed part."""
    figures = account_json(acc)
    for key in ("service", "method", "target_percent", "credit"):
        figures.pop(key)
    elapsed = max(0.0, (min(now, acc.month_end) - acc.month_start) / 60)
    budget = acc.budget_minutes
    # Uptime is computed over measured minutes only: 100 % of a month that was half
    # unmeasured must not read as a perfect month, so coverage stands beside it.
    # (pending minutes include the rest of the month: only the elapsed part counts here)
    pending = max(0.0, acc.pending_minutes - (acc.minutes_in_month - elapsed))
    measured = max(0.0, elapsed - acc.no_data_minutes - pending)
    figures.update({
        "target_met": acc.met,
        "minutes_elapsed": elapsed,
        "measured_minutes": measured,
        "coverage_percent": 100.0 * measured / elapsed if elapsed > 0 else None,
        "elapsed_uptime_percent": (100.0 * (1 - acc.downtime_minutes / elapsed)
                                   if elapsed > 0 else None),
        "budget_minutes": budget,
        "budget_remaining_minutes": acc.budget_remaining_minutes,
        "budget_remaining_percent": (100.0 * acc.budget_remaining_minutes / budget
                                     if budget > 0 else None),
    })
    return figures


DayCounts = dict[str, Counter[tuple[str, str]]]  # service -> (verdict, reason) -> windows


class DailyCounts:
    """Verdict counts per contract and local day, kept for days that have ended.

    A past day's figures change only through a new decision about one of its windows, and
    every decision is a row in the ledger's `window_revisions`: each call asks the ledger
    which windows were decided since the last call and recounts only their days (and today).
    The first call counts all 90 days; later ones cost two small queries.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._days: dict[tuple[str, str, str, dt.date], DayCounts] = {}
        self._cursor: dict[tuple[str, str], int] = {}

    def counts(self, contract: ContractConfig, reader: LedgerReader, days: list[dt.date],
               now: float, scope: str = "local") -> dict[dt.date, DayCounts]:
        zone = contract.zone
        key = (contract.name, scope, contract.timezone)
        with self._lock:
            cursor = reader.revision_cursor()  # before counting: later decisions show next time
            previous = self._cursor.get((contract.name, scope))
            if previous is not None:
                for t in reader.revised_since(contract.name, previous, scope):
                    day = dt.datetime.fromtimestamp(t, tz=zone).date()
                    self._days.pop((*key, day), None)
            self._cursor[(contract.name, scope)] = cursor
            out: dict[dt.date, DayCounts] = {}
            for day in days:
                cached = self._days.get((*key, day))
                if cached is None:
                    start, end = _midnight(day, zone), _midnight(day + _ONE_DAY, zone)
                    cached = reader.month_counts(contract.name, int(start), int(end), scope)
                    if end <= now:
                        self._days[(*key, day)] = cached
                out[day] = cached
            wanted = {(*key, day) for day in days}
            for stale in [k for k in self._days if k[:3] == key and k not in wanted]:
                del self._days[stale]
            return out


_ONE_DAY = dt.timedelta(days=1)


def _midnight(day: dt.date, zone: ZoneInfo) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def _daily(contract: ContractConfig, reader: LedgerReader, now: float,
           target: dict[str, float], cache: DailyCounts, *,
           scope: str) -> dict[str, list[dict[str, Any]]]:
    """Per service, one entry per local day of the last `STRIP_DAYS` days, today last."""
    zone = contract.zone
    today = dt.datetime.fromtimestamp(now, tz=zone).date()
    days = [today - dt.timedelta(days=n) for n in range(STRIP_DAYS - 1, -1, -1)]
    counts = cache.counts(contract, reader, days, now, scope)
    per = contract.window_seconds / 60.0
    out: dict[str, list[dict[str, Any]]] = {}
    for service in contract.services():
        strip: list[dict[str, Any]] = []
        for day in days:
            start = _midnight(day, zone)
            end = min(_midnight(day + _ONE_DAY, zone), now)
            day_minutes = max(0.0, (end - start) / 60)
            m: Counter[str] = Counter()
            for (verdict, _reason), n in counts[day].get(service, Counter()).items():
                m[verdict] += n
            down = m[Verdict.DOWN.value] * per
            measured = (m[Verdict.UP.value] + m[Verdict.DOWN.value]
                        + m[Verdict.EXCLUDED.value]) * per
            availability = (100.0 * (1 - down / day_minutes)
                            if measured > 0 and day_minutes > 0 else None)
            if availability is None:
                status = "none"
            elif down == 0:
                status = "up"
            elif availability >= target[service]:
                status = "degraded"
            else:
                status = "down"
            strip.append({
                "date": day.isoformat(), "availability_percent": availability,
                "status": status, "minutes": day_minutes, "down_minutes": down,
                "measured_minutes": measured,
            })
        out[service] = strip
    return out


def _state(contract: ContractConfig, reader: LedgerReader, service: str,
           now: float, scope: str) -> dict[str, Any]:
    latest = reader.latest_window(contract.name, service, scope)
    if latest is None:
        return {"state": "unknown", "state_reason": "", "state_window_start": None,
                "state_age_seconds": None}
    end = latest.window_start + latest.window_seconds
    return {
        "state": latest.verdict.value,
        "state_reason": latest.reason.value,
        "state_window_start": utc_iso(latest.window_start),
        "state_age_seconds": max(0.0, now - end),
    }


def _contract_status(config: Config, contract: ContractConfig, reader: LedgerReader,
                     now: float, *, cache: DailyCounts, scope: str) -> dict[str, Any]:
    zone = contract.zone
    month = Month.containing(now, zone)
    start, end = month.bounds(zone)
    accounts = {a.service: a for a in month_accounts(_only(config, contract), reader, month,
                                                     now, scope)}
    support_zone = contract.support.zone if contract.support is not None else zone
    incidents = read_incidents(contract, reader, now - RECENT_DAYS * 86400, now + 1, now,
                               scope=scope)
    open_incidents = [i for i in incidents if i.open]
    recent = sorted((i for i in incidents if not i.open), key=lambda i: -i.start)[:RECENT_LIMIT]
    targets = {o.service: o.target for o in contract.objectives}
    daily = _daily(contract, reader, now, targets, cache, scope=scope)
    services: list[dict[str, Any]] = []
    for objective in contract.objectives:
        acc = accounts[objective.service]
        services.append({
            "service": objective.service,
            "target_percent": objective.target,
            "method": objective.method,
            **_state(contract, reader, objective.service, now, scope),
            "month_to_date": _month_to_date(acc, now),
            # the credit the month earns if it ended now (contract credit tiers)
            "projected_credit": account_json(acc)["credit"],
            "open_incidents": sum(1 for i in open_incidents if i.service == objective.service),
            "daily": daily[objective.service],
        })

    def dump(incident: Incident) -> dict[str, Any]:
        return incident.to_dict(now, support_zone)

    support = contract.support
    return {
        "name": contract.name,
        "timezone": contract.timezone,
        "month": str(month),
        "month_start": utc_iso(start),
        "month_end": utc_iso(end),
        "window_seconds": contract.window_seconds,
        "support": None if support is None else {
            "package": support.package, "timezone": support.timezone,
            "calendar": support.selected.calendar,
        },
        "services": services,
        "incidents": {
            "open": [dump(i) for i in open_incidents],
            "recent": [dump(i) for i in recent],
        },
    } | _vendor(config, contract, reader, now, start=start, end=end, scope=scope)


def _vendor(config: Config, contract: ContractConfig, reader: LedgerReader, now: float, *,
            start: int, end: int, scope: str) -> dict[str, Any]:
    """The vendor's own status page against our measurement this month (issue 18); only
    for a contract with a vendor feed, so other pages keep their shape."""
    if not any(f.contract == contract.name for f in config.vendor_feeds):
        return {}
    return {"vendor": reconciliation_json(reconciliation(
        config, reader, stored_versions(config, reader), contract.name, start=start,
        end=end, now=now, scope=scope))}


def _only(config: Config, contract: ContractConfig) -> Config:
    """`config` narrowed to one contract (month accounts are per calendar month, and each
    contract's current month depends on its own time zone)."""
    return config.model_copy(update={"contracts": [contract]})


def build_status(config: Config, reader: LedgerReader, now: float, *,
                 cache: DailyCounts | None = None, scope: str = "local") -> dict[str, Any]:
    """Everything the status page shows, JSON-ready.

    Per contract and service: the current state (latest verdict), month-to-date uptime
    against the target (contract 000's formula: 1 - down / minutes in the whole month, so
    it only falls as the month goes on) with the downtime budget left, a 90-day strip of
    daily availability, and open and recent incidents with their deadlines.
    `projected_credit` is the credit the month would earn if it ended now. Pass the same
    `cache` to repeated calls to count past days only once.
    """
    cache = cache if cache is not None else DailyCounts()
    return {
        "generated_at": utc_iso(now),
        "generated_at_epoch": now,
        "scope": scope,
        "contracts": [_contract_status(config, c, reader, now, cache=cache, scope=scope)
                      for c in config.contracts],
    }



def incidents_payload(config: Config, reader: LedgerReader, now: float,
                       contract_name: str | None, month_text: str | None, *,
                       scope: str) -> dict[str, Any]:
    """`/api/v1/incidents`: the incidents of `month_text` (default: each contract's current
    month, in its own time zone) of one contract or all; KeyError for an unknown contract,
    ValueError for a malformed month."""
    contracts = [c for c in config.contracts
                 if contract_name is None or c.name == contract_name]
    if contract_name is not None and not contracts:
        raise KeyError(contract_name)
    items: list[dict[str, Any]] = []
    for contract in contracts:
        month = (Month.parse(month_text) if month_text
                 else Month.containing(now, contract.zone))
        start, end = month.bounds(contract.zone)
        items += incidents_json(contract, reader, start, end, now, scope=scope)
    return {"generated_at": utc_iso(now), "month": month_text, "incidents": items}


class StatusSource:
    """Where the page and `/api/v1/status` get their data: the live config, the ledger
    reader (None until the daemon has opened it) and one `DailyCounts` cache shared by
    both, so that past days are counted once whichever is asked first."""

    def __init__(self, config: Callable[[], Config],
                 reader: Callable[[], LedgerReader | None], clock: Clock) -> None:
        self.config = config
        self.reader = reader
        self.clock = clock
        self.daily = DailyCounts()

    async def status(self, scope: str) -> dict[str, Any] | None:
        """`build_status` now, on a worker thread; None while the ledger is not open."""
        reader = self.reader()
        if reader is None:
            return None
        return await asyncio.to_thread(functools.partial(
            build_status, self.config(), reader, self.clock.wall(), cache=self.daily,
            scope=scope))
