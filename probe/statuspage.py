"""The status page: each contract's services now, this month, the last 90 days, incidents.

`build_status` is the data (also served as JSON at `/api/v1/status`); `render_status_page`
turns it into one self-contained HTML page (inline CSS, no scripts, no external assets);
`add_status_routes` serves both and `/api/v1/incidents` from an aiohttp application.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import html
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from probe.clock import Clock
from probe.config import Config
from probe.contracts.accounts import ObjectiveAccount, month_accounts
from probe.contracts.model import ContractConfig
from probe.contracts.month import Month, utc_iso
from probe.model import Verdict
from probe.report.data import account_json
from probe.store import LedgerReader
from probe.support.incidents import Incident, read_incidents
from probe.support.report import incidents_json

SCOPES = ("local", "quorum")
STRIP_DAYS = 90
RECENT_DAYS = 30
RECENT_LIMIT = 50

# -- data -----------------------------------------------------------------------------------


def _month_to_date(acc: ObjectiveAccount, now: float) -> dict[str, Any]:
    """The report's account of the month so far (probe.contracts.accounts, the single source
    of month figures), plus the downtime budget and the uptime over the elapsed part."""
    figures = account_json(acc)
    for key in ("service", "method", "target_percent", "credit"):
        figures.pop(key)
    elapsed = max(0.0, (min(now, acc.month_end) - acc.month_start) / 60)
    budget = acc.budget_minutes
    figures.update({
        "target_met": acc.met,
        "minutes_elapsed": elapsed,
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
    }


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


# -- HTML -----------------------------------------------------------------------------------

CSS = """
:root { color-scheme: light; --up:#2e7d32; --down:#c62828; --degraded:#f9a825;
        --none:#cfd8dc; --excluded:#5c6bc0; --ink:#1b1f23; --muted:#5f6b76; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1100px; padding: 24px; background: #fafbfc; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 32px 0 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; background: #fff; margin: 8px 0; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e5e8eb;
         vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
         font-size: 13px; background: var(--none); }
.state-up { background: var(--up); } .state-down { background: var(--down); }
.state-excluded { background: var(--excluded); } .state-no_data, .state-unknown {
  background: var(--muted); }
.strip { display: flex; gap: 1px; margin: 4px 0 2px; }
.day { flex: 1 1 0; height: 28px; border-radius: 2px; background: var(--none); }
.day-up { background: var(--up); } .day-down { background: var(--down); }
.day-degraded { background: var(--degraded); }
.legend { display: flex; justify-content: space-between; font-size: 12px;
          color: var(--muted); }
.met-no { color: var(--down); font-weight: 600; } .passed { color: var(--down); }
"""


NONE = "\u2013"  # an en dash for "no value"


def _num(value: float | None, digits: int) -> str:
    return NONE if value is None else f"{value:.{digits}f}"


def _td(field: str, text: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<td{klass} data-field="{field}">{html.escape(text)}</td>'


def _strip(service: dict[str, Any]) -> str:
    days = []
    for day in service["daily"]:
        availability = day["availability_percent"]
        label = (f"{day['date']}: no data" if availability is None else
                 f"{day['date']}: {availability:.3f} %, {day['down_minutes']:g} min down")
        days.append(
            f'<span class="day day-{day["status"]}" data-date="{day["date"]}" '
            f'data-availability="{_num(availability, 3)}" title="{html.escape(label)}">'
            "</span>"
        )
    first, last = service["daily"][0]["date"], service["daily"][-1]["date"]
    return (f'<div class="strip" data-service="{html.escape(service["service"])}" '
            f'role="img" aria-label="daily availability {first} to {last}">{"".join(days)}'
            f'</div><div class="legend"><span>{first}</span><span>{last}</span></div>')


def _services_table(contract: dict[str, Any]) -> str:
    rows = []
    for s in contract["services"]:
        mtd = s["month_to_date"]
        met = "met-yes" if mtd["target_met"] else "met-no"
        credit = s["projected_credit"]
        rows.append(
            f'<tr data-contract="{html.escape(contract["name"])}" '
            f'data-service="{html.escape(s["service"])}">'
            f"<th>{html.escape(s['service'])}</th>"
            f'<td data-field="state"><span class="state state-{html.escape(s["state"])}">'
            f"{html.escape(s['state'])}</span> {html.escape(s['state_reason'])}</td>"
            + _td("uptime_percent", _num(mtd["uptime_percent"], 4), f"num {met}")
            + _td("target_percent", _num(s["target_percent"], 4), "num")
            + _td("down_minutes", _num(mtd["down_minutes"], 1), "num")
            + _td("budget_remaining_minutes", _num(mtd["budget_remaining_minutes"], 1), "num")
            + _td("open_incidents", str(s["open_incidents"]), "num")
            + _td("projected_credit", NONE if credit is None else str(credit["description"]))
            + "</tr>"
        )
    return (
        "<table class=\"services\"><thead><tr><th>Service</th><th>Now</th>"
        "<th>Uptime this month %</th><th>Target %</th><th>Down min</th>"
        "<th>Budget left min</th><th>Open incidents</th><th>Projected credit</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


_DEADLINES = (("response_due", "Response due"), ("resolution_due", "Resolution due"),
              ("notice_due", "Notice due"), ("report_due", "Report due"))


def _incident_table(incidents: list[dict[str, Any]], title: str) -> str:
    if not incidents:
        return f'<h3>{title}</h3><p class="muted">None.</p>'
    head = "".join(f"<th>{label}</th>" for _, label in _DEADLINES)
    rows = []
    for inc in incidents:
        cells = [
            f"<th>{html.escape(inc['service'])}</th>",
            _td("severity", f"{inc['severity'] or NONE} {inc['severity_label']}".strip()),
            _td("start_local", inc["start_local"] or ""),
            _td("end_local", inc["end_local"] or "open"),
            _td("down_minutes", _num(inc["down_minutes"], 1), "num"),
            _td("failure_classes", ", ".join(inc["failure_classes"])),
        ]
        for name, _ in _DEADLINES:
            # a passed response time matters while the incident is open; notices are owed
            # either way
            owing = inc["state"] == "open" or name in ("notice_due", "report_due")
            passed = " passed" if inc[f"{name}_passed"] and owing else ""
            cells.append(_td(name + "_local", inc[f"{name}_local"] or NONE, passed.strip()))
        rows.append(f'<tr data-incident="{html.escape(inc["id"])}">{"".join(cells)}</tr>')
    return (
        f"<h3>{title}</h3><table class=\"incidents\"><thead><tr><th>Service</th>"
        "<th>Severity</th><th>Start</th><th>End</th><th>Down min</th><th>Failures</th>"
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def render_status_page(status: dict[str, Any]) -> str:
    """One self-contained HTML document for `build_status`'s result."""
    sections = []
    for c in status["contracts"]:
        support = c["support"]
        terms = ("" if support is None else
                 f" · support package {html.escape(support['package'])} "
                 f"({html.escape(support['timezone'])})")
        strips = "".join(
            f"<h3>{html.escape(s['service'])}: last {len(s['daily'])} days</h3>{_strip(s)}"
            for s in c["services"]
        )
        sections.append(
            f'<section class="contract" data-contract="{html.escape(c["name"])}">'
            f"<h2>{html.escape(c['name'])}</h2>"
            f'<p class="muted">Month {c["month"]} ({html.escape(c["timezone"])}), '
            f"{c['window_seconds']} s windows{terms}</p>"
            f"{_services_table(c)}{strips}"
            f"{_incident_table(c['incidents']['open'], 'Open incidents')}"
            f"{_incident_table(c['incidents']['recent'], 'Recent incidents')}"
            "</section>"
        )
    body = "".join(sections) or '<p class="muted">No contracts configured.</p>'
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>sla-probe status</title>"
        f"<style>{CSS}</style></head><body><header><h1>Service level status</h1>"
        f'<p class="muted">Witnessed by sla-probe · generated '
        f'<time data-field="generated_at" datetime="{status["generated_at"]}">'
        f"{status['generated_at']}</time></p></header>{body}</body></html>\n"
    )


# -- HTTP -----------------------------------------------------------------------------------


def _incidents_payload(config: Config, reader: LedgerReader, now: float,
                       contract_name: str | None, month_text: str | None, *,
                       scope: str) -> dict[str, Any]:
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


def add_status_routes(
    app: web.Application,
    config_getter: Callable[[], Config],
    reader_getter: Callable[[], LedgerReader | None],
    clock: Clock,
) -> None:
    """Serve `/` (HTML), `/api/v1/status` and `/api/v1/incidents` (JSON) on `app`.

    All take `scope=local|quorum` (default local: this vantage's verdicts);
    `/api/v1/incidents` also `month=YYYY-MM` (default: each contract's current month, in its
    own time zone) and `contract=NAME`. The ledger is read on a worker thread.
    """
    headers = {"Cache-Control": "no-store"}
    daily = DailyCounts()

    def unavailable() -> web.Response:
        return web.json_response({"error": "ledger not open yet"}, status=503,
                                 headers=headers)

    def bad_scope(request: web.Request) -> web.Response | None:
        if request.query.get("scope", "local") in SCOPES:
            return None
        return web.json_response({"error": f"scope must be one of {', '.join(SCOPES)}"},
                                 status=400, headers=headers)

    async def status_data(request: web.Request) -> dict[str, Any] | None:
        reader = reader_getter()
        if reader is None:
            return None
        return await asyncio.to_thread(functools.partial(
            build_status, config_getter(), reader, clock.wall(), cache=daily,
            scope=request.query.get("scope", "local")))

    async def page(request: web.Request) -> web.StreamResponse:
        refused = bad_scope(request)
        if refused is not None:
            return refused
        status = await status_data(request)
        if status is None:
            return unavailable()
        return web.Response(text=render_status_page(status), content_type="text/html",
                            charset="utf-8", headers=headers)

    async def status_json(request: web.Request) -> web.StreamResponse:
        refused = bad_scope(request)
        if refused is not None:
            return refused
        status = await status_data(request)
        if status is None:
            return unavailable()
        return web.json_response(status, headers=headers)

    async def incidents(request: web.Request) -> web.StreamResponse:
        refused = bad_scope(request)
        if refused is not None:
            return refused
        reader = reader_getter()
        if reader is None:
            return unavailable()
        month = request.query.get("month")
        contract = request.query.get("contract")
        try:
            payload = await asyncio.to_thread(functools.partial(
                _incidents_payload, config_getter(), reader, clock.wall(), contract, month,
                scope=request.query.get("scope", "local")))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400, headers=headers)
        except KeyError:
            return web.json_response({"error": f"unknown contract {contract!r}"},
                                     status=404, headers=headers)
        return web.json_response(payload, headers=headers)

    app.router.add_get("/", page)
    app.router.add_get("/api/v1/status", status_json)
    app.router.add_get("/api/v1/incidents", incidents)

