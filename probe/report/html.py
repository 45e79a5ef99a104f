"""One self-contained HTML file (inline CSS and SVG, no external asset) to attach to a claim."""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from probe.contracts.month import utc_iso
from probe.model import Verdict, WindowVerdict
from probe.report.data import ContractReport, MonthReport, ObjectiveReport
from probe.report.text import (
    credit_text,
    credit_total_line,
    declared_line,
    evidence_text,
    excluded_text,
    maintenance_line,
    minutes,
    outage_lines,
    status,
    support_incident_lines,
    uptime_text,
    violation_lines,
)
from probe.report.vendor import vendor_lines
from probe.support.tickets import ticket_line

COLOURS = {
    "up": "#2e9e44", "down": "#d62728", "no_data": "#9e9e9e", "pending": "#eeeeee",
    "excluded:maintenance": "#1f77b4", "excluded:vantage": "#9467bd",
    "excluded:dependency": "#ff7f0e", "excluded:declared": "#17becf",
}
_ROW = 8

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#f4f4f4}.missed{color:#b00;font-weight:bold}
.met{color:#070}.warn{color:#a60}.bad{color:#b00}.badge{padding:.1em .4em;border-radius:3px;
background:#eee}.legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;
width:1em;height:1em;vertical-align:middle;margin-right:.3em}.strip{display:flex;gap:2px}
.strip svg{width:100%;border:1px solid #ccc}.strip svg.days{width:14px;border:none;flex:none}
.axis{font-size:.8em;color:#666;margin:0}
"""


def _key(v: WindowVerdict) -> str:
    return f"excluded:{v.reason.value}" if v.verdict == Verdict.EXCLUDED else v.verdict.value


def _days(start: int, end: int, zone: ZoneInfo) -> list[int]:
    day = datetime.fromtimestamp(start, tz=zone).replace(tzinfo=None)
    out = []
    while (t := int(day.replace(tzinfo=zone).timestamp())) < end:
        out.append(t)
        day += timedelta(days=1)
    return out


def heat_strip(o: ObjectiveReport, c: ContractReport) -> str:
    """SVG: one row per local day, one cell per window, runs of one verdict as one rect."""
    ws = c.window_seconds
    days = _days(c.month_start, c.month_end, ZoneInfo(c.timezone))
    cols = 90000 // ws
    cells: list[tuple[int, int, str, int]] = []  # (row, col, key, start)
    for v in o.timeline:
        row = bisect.bisect_right(days, v.window_start) - 1
        cells.append((row, (v.window_start - days[row]) // ws, _key(v), v.window_start))
    for w in range(o.pending_from, c.month_end, ws):
        row = bisect.bisect_right(days, w) - 1
        cells.append((row, (w - days[row]) // ws, "pending", w))
    rects = []
    i = 0
    while i < len(cells):
        row, col, key, t0 = cells[i]
        j = i + 1
        while (j < len(cells) and cells[j][0] == row and cells[j][2] == key
               and cells[j][1] == cells[j - 1][1] + 1):
            j += 1
        label = f"{key} {utc_iso(t0)} .. {utc_iso(cells[j - 1][3] + ws)} ({(j - i) * ws // 60} min)"
        rects.append(f'<rect x="{col}" y="{row * _ROW}" width="{j - i}" height="{_ROW - 1}" '
                     f'fill="{COLOURS[key]}"><title>{escape(label)}</title></rect>')
        i = j
    height = len(days) * _ROW
    labels = "".join(
        f'<text x="0" y="{row * _ROW + _ROW - 1.5}" font-size="7">'
        f"{datetime.fromtimestamp(t, tz=ZoneInfo(c.timezone)).day:02d}</text>"
        for row, t in enumerate(days))
    return (f'<div class="strip"><svg class="days" viewBox="0 0 12 {height}" '
            f'style="height:{len(days) * 9}px">{labels}</svg>'
            f'<svg viewBox="0 0 {cols} {height}" preserveAspectRatio="none" '
            f'style="height:{len(days) * 9}px" role="img" aria-label="heat strip of '
            f'{escape(o.account.service)}">{"".join(rects)}</svg></div>'
            '<p class="axis">local time 00:00 to 24:00, left to right</p>')


def legend() -> str:
    spans = "".join(f'<span><i style="background:{colour}"></i>{escape(key)}</span>'
                    for key, colour in COLOURS.items())
    return f'<p class="legend">{spans} (one row per local day, one cell per window)</p>'


def _objective(o: ObjectiveReport, c: ContractReport) -> str:
    a = o.account
    cls = "met" if a.met else "missed"
    rows = [
        ("target", f"{a.target:g} % ({a.method})"
                   + (f", {escape(a.clause)}" if a.clause else "")),
        ("achieved uptime", f'<span class="{cls}">{escape(uptime_text(a))}</span>'),
        ("minutes in month", minutes(a.minutes_in_month)),
        ("down minutes", minutes(a.down_minutes)),
        ("excluded minutes (by reason)", escape(excluded_text(a))),
        ("no_data minutes", f"{minutes(a.no_data_minutes)} (counted as {a.no_data_policy})"),
        ("pending minutes", minutes(a.pending_minutes)),
        ("budget remaining", f"{a.budget_remaining_minutes:.2f} min"),
        ("invalid maintenance", str(a.invalid_maintenance)),
        ("credit due", f'<span class="{"bad" if a.credit.no_tier else ""}">'
                       f"{escape(credit_text(a))}</span>"),
        ("claim deadline", escape(a.credit.claim_by or "-")),
        ("month status", a.status),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    incidents = "".join(
        f"<tr><td>{utc_iso(i.start)}</td><td>{utc_iso(i.end)}</td><td>{minutes(i.minutes)}"
        f"</td><td>{escape(', '.join(i.failure_classes) or '-')}</td>"
        f"<td>{escape(evidence_text(i.evidence))}</td></tr>" for i in o.incidents
    ) or '<tr><td colspan="5">no incidents</td></tr>'
    outages = "".join(f"<li>{escape(line)}</li>" for line in outage_lines(o))
    if outages:
        outages = f"<h4>Outages (intervals measurement)</h4><ul>{outages}</ul>"
    return (f"<h3>{escape(a.service)}</h3><table>{table}</table>{heat_strip(o, c)}{outages}"
            f"<h4>Incidents ({len(o.incidents)})</h4><table><tr><th>start (UTC)</th>"
            f"<th>end (UTC)</th><th>minutes</th><th>failure classes</th>"
            f"<th>first error (vantage)</th></tr>{incidents}"
            "</table>")


def _contract(c: ContractReport) -> str:
    parts = [f"<h2>{escape(c.name)} <span class=badge>{escape(status(c))}</span></h2>"]
    if c.description:
        parts.append(f"<p>{escape(c.description)}</p>")
    parts.append(f"<p>Time zone {escape(c.timezone)}; month {utc_iso(c.month_start)} .. "
                 f"{utc_iso(c.month_end)}; denominator <code>{c.denominator}</code>.</p>")
    if not c.objectives:
        parts.append("<p>No availability objective (support-only contract).</p>")
    parts += [_objective(o, c) for o in c.objectives]
    total = credit_total_line(c)
    if total is not None:
        parts.append(f"<h3>Contract credit</h3><p><strong>{escape(total)}</strong></p>")
    if c.maintenance:
        items = []
        for m in c.maintenance:
            cls = "bad" if m.invalid else ("warn" if m.warnings else "met")
            notes = "".join(f"<li>{escape(line)}</li>" for line in violation_lines(m))
            items.append(f'<li class="{cls}">{escape(maintenance_line(m))}<ul>{notes}</ul></li>')
        parts.append(f"<h3>Maintenance</h3><ul>{''.join(items)}</ul>")
    if c.support_incidents:
        items = [f"<li>{escape(line)}</li>" for line in support_incident_lines(c)]
        parts.append(f"<h3>Incidents under the support terms</h3><ul>{''.join(items)}</ul>")
    if c.tickets:
        items = [f"<li>{escape(ticket_line(t))}</li>" for t in c.tickets]
        parts.append(f"<h3>Support tickets</h3><ul>{''.join(items)}</ul>")
    if c.declared:
        items = [f"<li>{escape(declared_line(d))}</li>" for d in c.declared]
        parts.append(f"<h3>Declared exclusions</h3><ul>{''.join(items)}</ul>")
    rows = "".join("<tr>" + "".join(f"<td>{escape(x)}</td>" for x in (
        r.topic, r.subject, r.clause, r.taken, r.figure_taken, r.other, r.figure_other))
        + "</tr>" for r in c.readings) or '<tr><td colspan="7">none</td></tr>'
    parts.append("<h3>Readings</h3><table><tr><th>topic</th><th>subject</th><th>clause</th>"
                 "<th>reading taken</th><th>figure</th><th>other reading</th><th>figure</th>"
                 f"</tr>{rows}</table>")
    if c.vendor:
        items = [f"<li>{escape(line)}</li>" for line in vendor_lines(c.vendor)]
        parts.append(f"<h3>The vendor's word against our measurement</h3>"
                     f"<ul>{''.join(items)}</ul>")
    return "<section>" + "".join(parts) + "</section>"


def render_html(report: MonthReport) -> str:
    title = f"SLA month report {report.month}"
    body = "".join(_contract(c) for c in report.contracts)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}'
            f"</title><style>{CSS}</style></head><body><h1>{title}</h1><p>Scope "
            f"{escape(report.scope)}, vantage {escape(report.vantage)}, generated "
            f"{utc_iso(report.generated_at)} by sla-probe.</p>{legend()}{body}</body></html>\n")
