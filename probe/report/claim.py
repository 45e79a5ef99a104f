"""The credit claim letter of one contract's month, as Markdown and as HTML for the PDF.

A claim is disputed on its grounds, so the letter carries them all: the clauses it rests
on, quoted from the config's clause references; the uptime of every objective and the
contract's one credit total under the stated readings; each incident with its first failure,
failure classes and first error (redacted); the contract's claim conditions as a checklist
with the deadline; and the SHA-256 of the evidence pack's signed manifest, which pins every
raw attempt behind the figures (`sla-probe verify` checks it with nothing but the pack).

Both renderings come from one list of blocks, so the Markdown and the PDF cannot disagree.
Secrets are redacted from the finished text before it is written or laid out.
"""

from __future__ import annotations

import dataclasses
from html import escape
from typing import TYPE_CHECKING, Any

from probe.contracts.credits import claim_deadline
from probe.contracts.month import utc_iso
from probe.report.data import ContractReport, build
from probe.report.text import credit_text, uptime_text
from probe.secrets import redact
from probe.support.tickets import ticket_line

if TYPE_CHECKING:
    from probe.config import Config
    from probe.contracts.model import ContractConfig
    from probe.contracts.month import Month
    from probe.store import LedgerReader

Block = tuple[str, Any]  # ("h2", text) | ("p", text) | ("ul", [text]) | ("check", [text])
#                          | ("table", (header, rows))


@dataclasses.dataclass(frozen=True)
class Letter:
    markdown: str
    html: str


def _clauses(contract: ContractConfig, report: ContractReport) -> list[str]:
    """Every clause the figures rest on, once each, in the order they matter."""
    out = [f"{o.account.clause}: target {o.account.target:g} % ({o.account.service})"
           for o in report.objectives]
    credits = contract.credits
    if credits is not None:
        out += [t.clause for t in credits.tiers if t.clause]
        if credits.total.clause:
            out.append(credits.total.clause)
        out += [f"{c.clause}: \u201c{c.quote}\u201d" for c in credits.claim_conditions
                if c.quote]
    for r in report.readings:
        if r.clause:
            out.append(r.clause)
    return list(dict.fromkeys(x for x in out if x))


def blocks(contract: ContractConfig, report: ContractReport, month: str, *, vantage: str,
           pack_sha256: str, pack_name: str, now: float) -> list[Block]:
    """The letter as blocks, from the month report of its contract."""
    out: list[Block] = [
        ("h1", f"Service credit claim: {report.description or report.name}, {month}"),
        ("p", f"Contract `{report.name}`; month {utc_iso(report.month_start)} to "
              f"{utc_iso(report.month_end)} ({report.timezone}); measured by sla-probe at "
              f"vantage {vantage}; prepared {utc_iso(now)}"
              + ("." if report.final else "; the month has NOT ended: figures provisional.")),
        ("h2", "Clauses relied on"), ("ul", _clauses(contract, report)),
        ("h2", "Availability"),
        ("table", (["objective", "target", "uptime", "down min", "credit"],
                   [[o.account.service, f"{o.account.target:g} %", uptime_text(o.account),
                     f"{o.account.down_minutes:g}", credit_text(o.account)]
                    for o in report.objectives])),
    ]
    total = report.credit_total
    out += [("h2", "Credit owed"),
            ("p", "Contract total: " + (total.describe() + (f" [{total.clause}]"
                                                            if total.clause else "")
                                       if total is not None else "the contract states no "
                                       "service credits."))]
    if report.readings:
        out.append(("ul", [f"Reading ({r.topic}, {r.subject}) [{r.clause}]: taken: {r.taken}"
                           f" -> {r.figure_taken}; other: {r.other} -> {r.figure_other}"
                           for r in report.readings]))
    rows = [[o.account.service, utc_iso(i.start), utc_iso(i.end), f"{i.minutes:g}",
             ", ".join(i.failure_classes) or "-",
             i.evidence.text() if i.evidence is not None else "-"]
            for o in report.objectives for i in o.incidents]
    out += [("h2", "Incidents"),
            ("table", (["objective", "start", "end", "min", "failure classes",
                        "first failure and error (vantage)"], rows)) if rows
            else ("p", "No down window this month.")]
    if report.tickets:
        out += [("h2", "Support tickets"), ("ul", [ticket_line(t) for t in report.tickets])]
    conditions = contract.credits.claim_conditions if contract.credits is not None else []
    deadlines = sorted({(o.account.credit.claim_deadline, o.account.credit.claim_by)
                        for o in report.objectives
                        if o.account.credit.claim_deadline is not None})
    out += [("h2", "Claim conditions"),
            ("check", [f"{c.text} ({c.clause})" if c.clause else c.text
                       for c in conditions] or ["The contract states no claim conditions."])]
    if not deadlines and contract.credits is not None:
        # no objective owes a credit: the window to claim still runs (from the first
        # incident, or from the month's end)
        first = min((i.start for o in report.objectives for i in o.incidents), default=None)
        when, day = claim_deadline(contract.credits, report.month_end, first, contract.zone)
        if when is not None:
            deadlines = [(when, day)]
    if deadlines:
        out.append(("p", f"Claim deadline: {deadlines[0][1]} (before "
                         f"{utc_iso(deadlines[0][0])})."))
    else:
        out.append(("p", "Claim deadline: none (the contract states no service credits)."))
    out += [("h2", "Evidence"),
            ("p", f"Evidence pack `{pack_name}`: SHA-256 of its signed manifest "
                  f"`{pack_sha256}`. The manifest lists the SHA-256 of every file (raw "
                  "attempts, verdicts and their revisions, exclusions, chain and signed "
                  "heads); `sla-probe verify DIR` recomputes every figure above from it.")]
    return out


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(items: list[Block]) -> str:
    lines: list[str] = []
    for kind, body in items:
        if kind in ("h1", "h2"):
            lines += [("# " if kind == "h1" else "## ") + body, ""]
        elif kind == "p":
            lines += [body, ""]
        elif kind in ("ul", "check"):
            mark = "- [ ] " if kind == "check" else "- "
            lines += [mark + x for x in body] + [""]
        else:
            header, rows = body
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


_CSS = """
@page { size: A4; margin: 18mm 16mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9.5pt; color: #111; }
h1 { font-size: 15pt; margin: 0 0 6pt; } h2 { font-size: 11.5pt; margin: 12pt 0 4pt; }
table { border-collapse: collapse; width: 100%; } td, th { border: 0.5pt solid #999;
padding: 2pt 4pt; vertical-align: top; text-align: left; } th { background: #eee; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; word-break: break-all; }
ul.check { list-style: none; padding-left: 0; } ul.check li::before { content: "\\2610  "; }
"""


def _inline(text: str) -> str:
    """Escape, then `code` spans as <code> (the only Markdown inline the letter uses)."""
    parts = escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def to_html(items: list[Block]) -> str:
    body: list[str] = []
    for kind, content in items:
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{_inline(content)}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(content)}</p>")
        elif kind in ("ul", "check"):
            cls = ' class="check"' if kind == "check" else ""
            body.append(f"<ul{cls}>" + "".join(f"<li>{_inline(x)}</li>" for x in content)
                        + "</ul>")
        else:
            header, rows = content
            head = "".join(f"<th>{escape(h)}</th>" for h in header)
            cells = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                            for row in rows)
            body.append(f"<table><tr>{head}</tr>{cells}</table>")
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Service credit claim"
            f"</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


def claim_letter(config: Config, reader: LedgerReader, name: str, month: Month, now: float,
                 *, pack_sha256: str, pack_name: str) -> Letter:
    """The letter of contract `name` for `month`, secrets redacted."""
    contract = config.contract(name)
    report = build(config, reader, month, now)
    mine = next(c for c in report.contracts if c.name == name)
    items = blocks(contract, mine, str(month), vantage=report.vantage,
                   pack_sha256=pack_sha256, pack_name=pack_name, now=now)
    return Letter(redact(to_markdown(items)), redact(to_html(items)))


def write_pdf(html: str) -> bytes:
    """Lay the HTML out as PDF (weasyprint: pango and a font such as DejaVu must be
    installed; `.ci/run` installs them)."""
    import weasyprint  # noqa: PLC0415 - heavy; only `sla-probe claim` needs it

    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf
