"""Plain text (terminal, e-mail) and Markdown (tickets, wikis) renderings of the month."""

from __future__ import annotations

from probe.contracts.accounts import ObjectiveAccount
from probe.contracts.maintenance import Assessment
from probe.contracts.month import utc_iso
from probe.report.data import (
    ContractReport,
    DeclaredView,
    MonthReport,
    ObjectiveReport,
    outage_json,
)
from probe.report.evidence import Evidence
from probe.report.vendor import vendor_lines
from probe.support.tickets import ticket_line


def minutes(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.2f}"


def excluded_text(acc: ObjectiveAccount) -> str:
    if not acc.excluded_minutes:
        return "0"
    parts = ", ".join(f"{k} {minutes(v)}" for k, v in acc.excluded_minutes.items())
    return f"{minutes(acc.excluded_total)} ({parts})"


def credit_text(acc: ObjectiveAccount) -> str:
    c = acc.credit
    text = c.describe()
    if not acc.credited:
        text = f"reported only, not credited (the contract credits its overall figure): {text}"
    if not acc.final and c.status != "met":
        text = f"so far (month not ended): {text}"
    if c.claim_by is not None and c.status in ("due", "missed_no_tier"):
        text += f"; claim by {c.claim_by}"
    return text


def uptime_text(acc: ObjectiveAccount) -> str:
    verdict = "met" if acc.met else "MISSED"
    extra = ""
    if acc.method == "requests":
        extra = f" ({acc.failed_requests} of {acc.requests} requests failed)"
    return f"{acc.uptime_percent:.4f} % against {acc.target:g} %: {verdict}{extra}"


def maintenance_line(a: Assessment) -> str:
    e = a.entry
    announced = "not announced" if e.announced_at is None else \
        f"announced {utc_iso(e.announced_at.timestamp())}"
    services = ", ".join(e.services) or "all services"
    return (f"{e.reference} ({e.kind}, {services}) {utc_iso(e.start.timestamp())} .. "
            f"{utc_iso(e.end.timestamp())}, {announced}: {a.status.upper()}, "
            f"excluded {minutes(a.excluded_minutes)} min, counted {minutes(a.counted_minutes)}"
            f" min{f' ({e.note})' if e.note else ''}")


def violation_lines(a: Assessment) -> list[str]:
    out = []
    for v in a.violations:
        kind = "binding" if v.binding else "advisory, warning only"
        counted = f", {minutes(v.counted_minutes)} min count as downtime" if v.binding else ""
        out.append(f"{v.rule} ({kind}): {v.message}{counted}")
    return out


def declared_line(view: DeclaredView) -> str:
    d = view.declared
    state = "active" if d.active else \
        f"REVERTED {utc_iso(d.reverted_at or 0)} by {d.reverted_by}"
    recorded = "" if d.at is None else f" on {utc_iso(d.at)}"
    applied = ", ".join(f"{k} {minutes(v)} min" for k, v in view.minutes.items()) or "none"
    services = ", ".join(d.services) or "all services"
    return (f"{d.reference} ({d.reason}, {services}) {utc_iso(d.start)} .. {utc_iso(d.end)},"
            f" declared by {d.by} via {d.source}{recorded}; {state}; applied: {applied}")


DEADLINES = (("response_due", "vendor response due"), ("notice_due", "incident notice due"),
             ("resolution_due", "resolution due"), ("report_due", "post-incident report due"),
             ("next_update_due", "next status update due"))


def support_incident_lines(c: ContractReport) -> list[str]:
    """Incidents under the contract's support terms: severity and what the vendor owes by when."""
    lines: list[str] = []
    for i in c.support_incidents:
        head = (f"{i['severity'] or '-'} incident {i['service']} {i['start']} .. "
                f"{i['end'] or 'open'} ({i['state']})")
        dues = [f"{label} {i[key]}" for key, label in DEADLINES if i.get(key)]
        if i.get("update_cadence"):
            dues.append(f"updates owed: {i['update_cadence']}")
        lines.append(head + (": " + "; ".join(dues) if dues else ""))
    return lines


def credit_total_line(c: ContractReport) -> str | None:
    """The month's one credit of the contract, with its rule and clause (issue 15, item 2)."""
    t = c.credit_total
    if t is None:
        return None
    clause = f" [{t.clause}]" if t.clause else ""
    prefix = "" if c.final else "so far (month not ended): "
    return f"contract credit total: {prefix}{t.describe()}{clause}"


def outage_lines(o: ObjectiveReport) -> list[str]:
    """Outages under the `intervals` measurement: observed, bounds, counted minutes."""
    lines: list[str] = []
    for n, x in enumerate(o.outages or ()):
        j = outage_json(x)
        lines.append(
            f"outage {j['start']} .. {j['end'] or 'ongoing'} counts {minutes(x.counted_minutes)}"
            f" min (began between {j['earliest_start'] or 'unknown'} and {j['latest_start']},"
            f" ended between {j['earliest_end']} and {j['latest_end'] or 'not yet'}"
            + (f"; {x.excluded_seconds:g} s excluded" if x.excluded_seconds else "") + ")"
            + (f"; first error {o.outage_evidence[n].text()}"
               if n < len(o.outage_evidence) else ""))
    return lines


def evidence_text(e: Evidence | None) -> str:
    """The first error of a down run, redacted, with its vantage (issue 16, item 6)."""
    return "-" if e is None else e.text()


def reading_lines(c: ContractReport) -> list[str]:
    """Readings: the interpretation taken, its clause, and the figure under the other."""
    return [f"{r.topic} ({r.subject}) [{r.clause or 'no clause'}]: taken: {r.taken} -> "
            f"{r.figure_taken}; other reading: {r.other} -> {r.figure_other}"
            for r in c.readings]


def status(c: ContractReport) -> str:
    return "final" if c.final else "PROVISIONAL (month not ended)"


def render_text(report: MonthReport) -> str:
    out = [f"sla-probe month report {report.month} (scope {report.scope}, vantage "
           f"{report.vantage}), generated {utc_iso(report.generated_at)}"]
    for c in report.contracts:
        out += ["", f"== {c.name} ({c.timezone}): {status(c)} ==",
                f"month {utc_iso(c.month_start)} .. {utc_iso(c.month_end)}; denominator "
                f"{c.denominator}; no_data counts as {c.no_data_policy}"]
        if not c.objectives:
            out.append("no availability objective (support-only contract)")
        for o in c.objectives:
            a = o.account
            of = f" (over {', '.join(a.components)})" if a.components else ""
            out += [f"  {a.service}{of} [{a.method}]: {uptime_text(a)}",
                    f"    minutes in month {minutes(a.minutes_in_month)}; down "
                    f"{minutes(a.down_minutes)}; excluded {excluded_text(a)}; no_data "
                    f"{minutes(a.no_data_minutes)}; pending {minutes(a.pending_minutes)}",
                    f"    budget remaining {a.budget_remaining_minutes:.2f} min; invalid "
                    f"maintenance {a.invalid_maintenance}",
                    f"    credit: {credit_text(a)}"]
            for i in o.incidents:
                out.append(f"    incident {utc_iso(i.start)} .. {utc_iso(i.end)} "
                           f"{minutes(i.minutes)} min: {', '.join(i.failure_classes) or '-'}"
                           f"; first error {evidence_text(i.evidence)}")
            out += [f"    {line}" for line in outage_lines(o)]
        total = credit_total_line(c)
        if total is not None:
            out.append(f"  {total}")
        for m in c.maintenance:
            out.append(f"  maintenance {maintenance_line(m)}")
            out += [f"    ! {line}" for line in violation_lines(m)]
        for d in c.declared:
            out.append(f"  declared exclusion {declared_line(d)}")
        out += [f"  {line}" for line in support_incident_lines(c)]
        out += [f"  {ticket_line(t)}" for t in c.tickets]
        out.append("  readings:" if c.readings else "  readings: none")
        out += [f"    {line}" for line in reading_lines(c)]
        out += [f"  vendor: {line}" for line in vendor_lines(c.vendor)]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: MonthReport) -> str:
    out = [f"# SLA month report {report.month}", "",
           f"Scope `{report.scope}`, vantage `{report.vantage}`, generated "
           f"{utc_iso(report.generated_at)}."]
    for c in report.contracts:
        out += ["", f"## {c.name}: {status(c)}", "",
                f"Time zone {c.timezone}; month {utc_iso(c.month_start)} .. "
                f"{utc_iso(c.month_end)}; denominator `{c.denominator}`; no_data counts as "
                f"`{c.no_data_policy}`."]
        if not c.objectives:
            out += ["", "No availability objective (support-only contract)."]
        else:
            out += ["", "| service | target | uptime | down min | excluded min | no_data min "
                    "| credit | claim by |", "|---|---|---|---|---|---|---|---|"]
            for o in c.objectives:
                a = o.account
                claim = a.credit.claim_by if a.credit.status != "met" else ""
                out.append("| " + " | ".join(_cell(x) for x in (
                    a.service, f"{a.target:g} %", uptime_text(a), minutes(a.down_minutes),
                    excluded_text(a), minutes(a.no_data_minutes), a.credit.describe(),
                    claim or "-")) + " |")
            total = credit_total_line(c)
            if total is not None:
                out += ["", f"**{_cell(total)}**"]
        incidents = [(o.account.service, i) for o in c.objectives for i in o.incidents]
        if incidents:
            out += ["", "### Incidents", "", "| service | start | end | minutes | failure "
                    "classes | first error (vantage) |", "|---|---|---|---|---|---|"]
            out += [f"| {s} | {utc_iso(i.start)} | {utc_iso(i.end)} | {minutes(i.minutes)} | "
                    f"{', '.join(i.failure_classes) or '-'} | {_cell(evidence_text(i.evidence))} |"
                    for s, i in incidents]
        if c.support_incidents:
            out += ["", "### Incidents under the support terms", ""]
            out += [f"- {_cell(line)}" for line in support_incident_lines(c)]
        if c.tickets:
            out += ["", "### Support tickets", ""]
            out += [f"- {_cell(ticket_line(t))}" for t in c.tickets]
        outages = [(o.account.service, line) for o in c.objectives for line in outage_lines(o)]
        if outages:
            out += ["", "### Outages (intervals measurement)", ""]
            out += [f"- {s}: {_cell(line)}" for s, line in outages]
        if c.maintenance:
            out += ["", "### Maintenance", ""]
            for m in c.maintenance:
                out.append(f"- {_cell(maintenance_line(m))}")
                out += [f"  - {_cell(line)}" for line in violation_lines(m)]
        if c.declared:
            out += ["", "### Declared exclusions", ""]
            out += [f"- {_cell(declared_line(d))}" for d in c.declared]
        out += ["", "### Readings", ""]
        if not c.readings:
            out.append("None: no ambiguous clause applies this month.")
        else:
            out += ["| topic | subject | clause | reading taken | figure | other reading "
                    "| figure |", "|---|---|---|---|---|---|---|"]
            out += ["| " + " | ".join(_cell(x) for x in (
                r.topic, r.subject, r.clause, r.taken, r.figure_taken, r.other,
                r.figure_other)) + " |" for r in c.readings]
        if c.vendor:
            out += ["", "### The vendor's word against our measurement", ""]
            out += [f"- {_cell(line)}" for line in vendor_lines(c.vendor)]
    return "\n".join(out) + "\n"
