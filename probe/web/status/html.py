"""The status page as one self-contained HTML document (inline CSS, no scripts, no
external assets), rendered from `probe.web.status.data.build_status`'s dict.

Kept apart from the data so that the page can change its looks without any risk to the
figures, and so that tests can render hand-made dicts. Every value cell carries a
`data-field` attribute, so the page can be checked against the JSON by machine.
"""

from __future__ import annotations

import html
from typing import Any

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
            + _td("coverage_percent", _num(mtd["coverage_percent"], 2), "num")
            + _td("no_data_minutes", _num(mtd["no_data_minutes"], 1), "num")
            + _td("target_percent", _num(s["target_percent"], 4), "num")
            + _td("down_minutes", _num(mtd["down_minutes"], 1), "num")
            + _td("budget_remaining_minutes", _num(mtd["budget_remaining_minutes"], 1), "num")
            + _td("open_incidents", str(s["open_incidents"]), "num")
            + _td("projected_credit", NONE if credit is None else str(credit["description"]))
            + "</tr>"
        )
    return (
        "<table class=\"services\"><thead><tr><th>Service</th><th>Now</th>"
        "<th>Uptime this month %</th><th title=\"measured minutes out of elapsed minutes\">"
        "Coverage %</th><th>No data min</th><th>Target %</th><th>Down min</th>"
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
        # the status update cadence (issue 15, item 8): owed only while open
        cells.append(_td("next_update_due_local", inc.get("next_update_due_local") or NONE))
        rows.append(f'<tr data-incident="{html.escape(inc["id"])}">{"".join(cells)}</tr>')
    return (
        f"<h3>{title}</h3><table class=\"incidents\"><thead><tr><th>Service</th>"
        "<th>Severity</th><th>Start</th><th>End</th><th>Down min</th><th>Failures</th>"
        f"{head}<th>Next update due</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _vendor_table(rows: list[dict[str, Any]]) -> str:
    """The vendor's word against ours: declared per impact, measured, and the mismatches."""
    if not rows:
        return ""
    body = []
    for r in rows:
        declared = ", ".join(f"{k} {v}" for k, v in r["declared_minutes"].items()) or NONE
        unseen = sum(1 for d in r["declared"] if not d["seen"])
        body.append(
            f'<tr data-service="{html.escape(r["service"])}">'
            f"<th>{html.escape(r['service'])}</th>{_td('declared_minutes', declared)}"
            f"{_td('measured_down_minutes', str(r['measured_down_minutes']), 'num')}"
            f"{_td('undeclared', str(len(r['undeclared'])), 'num')}"
            f"{_td('unseen', str(unseen), 'num')}</tr>")
    return ("<h3>The vendor's status page against our measurement (this month)</h3>"
            '<table class="vendor"><thead><tr><th>Service</th><th>Vendor declared (min, '
            "by impact)</th><th>We measured down (min)</th><th>Ours, undeclared</th>"
            f"<th>Theirs, unseen by us</th></tr></thead><tbody>{''.join(body)}</tbody>"
            "</table>")


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
            f"{_vendor_table(c.get('vendor', []))}"
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
