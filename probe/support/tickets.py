"""Support tickets and how they fare against the support terms (issue 16, item 7).

The probe sees outages; only the customer sees what the vendor said. A ticket is recorded
as events (`open`, `update`, `resolve`), each a ledger row chained like an exclusion, so a
ticket's history cannot be rewritten after the fact. The first vendor `update` is the first
response. `judge` compares a ticket with the contract: the first response against the
severity's response time, each later update against the update cadence
(`probe.support.cadence`), the resolution against the resolution time, each met or missed
and by how much. Pure: events in, judgements out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Literal

from probe.contracts.model import ContractConfig
from probe.contracts.month import utc_iso
from probe.contracts.source import WindowSource
from probe.secrets import redact
from probe.support.cadence import update_cadence, update_due_after
from probe.support.deadlines import resolution_due, response_due
from probe.support.incidents import read_incidents
from probe.support.model import SupportTerms

CHANNELS = ("phone", "portal", "email")
ACTIONS = ("open", "update", "resolve")
Action = Literal["open", "update", "resolve"]


@dataclasses.dataclass(frozen=True, slots=True)
class TicketEvent:
    """One recorded fact about a ticket; `data` holds the action's fields."""

    contract: str
    reference: str
    action: str
    at: float
    """When it happened (opened, vendor answered, resolved), as the customer states it."""
    data: dict[str, Any]
    by: str
    recorded_at: float

    def to_json(self) -> dict[str, Any]:
        return {"contract": self.contract, "reference": self.reference, "action": self.action,
                "at": utc_iso(self.at), "data": self.data, "by": self.by,
                "recorded_at": utc_iso(self.recorded_at)}


@dataclasses.dataclass(frozen=True, slots=True)
class Ticket:
    contract: str
    reference: str
    severity: str
    channel: str
    opened: float
    incident: str | None
    updates: tuple[tuple[float, str], ...] = ()
    """Vendor communications (at, note), oldest first; the first is the first response."""
    resolved: float | None = None
    resolution: str = ""

    @property
    def first_response(self) -> float | None:
        return self.updates[0][0] if self.updates else None


def tickets_from(events: Iterable[TicketEvent]) -> list[Ticket]:
    """Fold events (any order) into tickets, oldest opened first. An update or resolve
    before its open is ignored: the store refuses to record one."""
    out: dict[tuple[str, str], Ticket] = {}
    for e in sorted(events, key=lambda e: (e.recorded_at, e.at)):
        key = (e.contract, e.reference)
        if e.action == "open":
            out[key] = Ticket(e.contract, e.reference, str(e.data["severity"]),
                              str(e.data["channel"]), e.at, e.data.get("incident"))
        elif key in out and e.action == "update":
            t = out[key]
            ups = tuple(sorted((*t.updates, (e.at, str(e.data.get("note", ""))))))
            out[key] = dataclasses.replace(t, updates=ups)
        elif key in out and e.action == "resolve":
            out[key] = dataclasses.replace(out[key], resolved=e.at,
                                           resolution=str(e.data.get("resolution", "")))
    return sorted(out.values(), key=lambda t: (t.opened, t.reference))


@dataclasses.dataclass(frozen=True, slots=True)
class Judged:
    """One deadline of a ticket: met, missed (by `late_seconds`), or still `open`."""

    what: str
    due: float
    at: float | None
    state: Literal["met", "missed", "open"]
    late_seconds: float
    """Positive: late by; negative: early by (the margin); while open and past due, how
    far past it `now` is."""
    clause: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "due": utc_iso(self.due),
                "at": None if self.at is None else utc_iso(self.at), "state": self.state,
                "late_seconds": round(self.late_seconds, 3), "clause": self.clause}

    def text(self) -> str:
        if self.state == "open":
            return f"{self.what} due {utc_iso(self.due)}: not yet" + (
                f" (overdue by {_span(self.late_seconds)})" if self.late_seconds > 0 else "")
        how = (f"missed by {_span(self.late_seconds)}" if self.state == "missed"
               else f"met with {_span(-self.late_seconds)} to spare")
        return f"{self.what} due {utc_iso(self.due)}, at {utc_iso(self.at)}: {how}"


def _span(seconds: float) -> str:
    s = round(abs(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    return " ".join(p for p in (f"{d}d" if d else "", f"{h}h" if h else "",
                                f"{m}m" if m or not (d or h) else "") if p)


def _judge(what: str, due: float, at: float | None, now: float, clause: str) -> Judged:
    if at is None:
        return Judged(what, due, None, "missed" if now > due else "open", now - due, clause)
    return Judged(what, due, at, "met" if at <= due else "missed", at - due, clause)


def judge(ticket: Ticket, terms: SupportTerms | None, now: float) -> list[Judged]:
    """Every deadline of the ticket under `terms`, oldest first. An unanswered ticket past
    its response time is `missed` (the vendor can no longer meet it); an open ticket whose
    next update is late is `missed` too, by how long it has been late so far."""
    if terms is None:
        return []
    out: list[Judged] = []
    limit = terms.selected.response.get(ticket.severity)
    answer = response_due(terms, ticket.severity, ticket.opened)
    if answer is not None:
        out.append(_judge("first response", answer, ticket.first_response, now,
                          limit.clause if limit else ""))
    cadence = update_cadence(terms, ticket.severity)
    if cadence is not None and ticket.first_response is not None:
        end = ticket.resolved if ticket.resolved is not None else now
        prev = ticket.first_response
        for at, _ in ticket.updates[1:]:
            due = update_due_after(terms, cadence, prev)
            if due is None:
                break
            out.append(_judge("status update", due, at, now, cadence.clause))
            prev = at
        due = update_due_after(terms, cadence, prev)
        # the next update: pending while the ticket is open; missed if the ticket was
        # resolved after it fell due with no update in between
        if due is not None and (ticket.resolved is None or due < end):
            out.append(_judge("status update", due, ticket.resolved, now, cadence.clause))
    fix = resolution_due(terms, ticket.severity, ticket.opened)
    if fix is not None:
        rule = terms.selected.resolution[ticket.severity]
        out.append(_judge("resolution" + (" (best effort)" if rule.best_effort else ""), fix,
                          ticket.resolved, now, rule.clause))
    return out


def ticket_json(ticket: Ticket, terms: SupportTerms | None, now: float) -> dict[str, Any]:
    """A ticket with its judgements, as the report and the evidence pack show it."""
    judged = judge(ticket, terms, now)
    return {
        "contract": ticket.contract, "reference": ticket.reference,
        "severity": ticket.severity, "channel": ticket.channel,
        "opened": utc_iso(ticket.opened), "incident": ticket.incident,
        "first_response": None if ticket.first_response is None
        else utc_iso(ticket.first_response),
        "updates": [{"at": utc_iso(t), "note": note} for t, note in ticket.updates],
        "resolved": None if ticket.resolved is None else utc_iso(ticket.resolved),
        "resolution": ticket.resolution,
        "judged": [j.to_json() for j in judged],
        "missed": sum(1 for j in judged if j.state == "missed"),
    }


def ticket_line(item: dict[str, Any]) -> str:
    """One line per ticket for the human formats, from `ticket_json`."""
    head = (f"ticket {item['reference']} ({item['severity']}, {item['channel']}) opened "
            f"{item['opened']}" + (f" for incident {item['incident']}" if item['incident']
                                   else "") + (f", resolved {item['resolved']}"
                                               if item['resolved'] else ", open"))
    parts = []
    for j in item["judged"]:
        late = j["late_seconds"]
        if j["state"] == "open":
            parts.append(f"{j['what']} due {j['due']}: not yet")
        else:
            how = (f"missed by {_span(late)}" if j["state"] == "missed"
                   else f"met, {_span(-late)} to spare")
            parts.append(f"{j['what']} due {j['due']}: {how}")
    return head + (": " + "; ".join(parts) if parts else ": no support term applies")


LINK_WITHIN = 86400.0  # a ticket opened this long after an incident ended still concerns it


def link_incident(contract: ContractConfig, reader: WindowSource, opened: float,
                  now: float) -> str | None:
    """The incident a ticket opened at `opened` concerns: the one under way then, else the
    latest that ended within `LINK_WITHIN` before; None (an enquiry) when there is none."""
    found = read_incidents(contract, reader, opened - 7 * 86400, opened + 1, now)
    during = [i for i in found if i.start <= opened and (i.end is None or i.end >= opened)]
    if during:
        return during[0].key
    before = [i for i in found if i.end is not None and opened - LINK_WITHIN <= i.end < opened]
    return max(before, key=lambda i: i.end or 0).key if before else None


def make_event(contract: ContractConfig, action: str, reference: str, *, at: float,
               fields: dict[str, Any], by: str, now: float) -> TicketEvent:
    """A checked event, from the CLI or `POST /api/v1/tickets`; ValueError names the field."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    if not reference or len(reference) > 100:
        raise ValueError("reference: 1 to 100 characters")
    if at > now + 300:
        raise ValueError("at: in the future")
    data: dict[str, Any] = {}
    if action == "open":
        terms = contract.support
        known = [s.name for s in terms.severities] if terms is not None else []
        severity = str(fields.get("severity") or "")
        if known and severity not in known:
            raise ValueError(f"severity: {severity!r} is not one of {known}")
        channel = str(fields.get("channel") or "")
        if channel not in CHANNELS:
            raise ValueError(f"channel: must be one of {', '.join(CHANNELS)}")
        data = {"severity": severity, "channel": channel,
                "incident": fields.get("incident") or None}
    elif action == "update":
        data = {"note": redact(str(fields.get("note") or ""))[:2000]}
    else:
        data = {"resolution": redact(str(fields.get("resolution") or ""))[:2000]}
    return TicketEvent(contract.name, reference, action, at, data, by, now)


def month_tickets(contract: ContractConfig, events: Iterable[TicketEvent], start: float,
                  end: float, now: float) -> list[dict[str, Any]]:
    """The contract's tickets open at some point of `[start, end)`, judged as of `now`."""
    return [ticket_json(t, contract.support, now) for t in tickets_from(events)
            if t.contract == contract.name and t.opened < end
            and (t.resolved is None or t.resolved >= start)]
