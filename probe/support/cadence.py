"""When the vendor's next status update is due (issue 15, item 8).

A first response is rarely the end of it: SecurEnvoy owes a P1 "Subsequent Update" once per
business day, Thesmios a P1 update "Continuous during business hours until mitigated",
Securosys "Status updates at reasonable intervals". Tickets are judged against these gaps
(`probe.support.tickets`), and each open incident shows when the next one falls due.

Updates are counted from the first response: while the vendor's real answer is unknown (an
incident without a ticket), from the response deadline, since a vendor that answers on time
owes its first update one cadence later; failing a response term, from the incident notice
deadline, else from the report.
"""

from __future__ import annotations

from probe.support.deadlines import due
from probe.support.model import SupportTerms, UpdateCadence

MAX_STEPS = 10_000  # a cadence of one business hour over a year is ~2,000 steps


def update_cadence(terms: SupportTerms, severity: str) -> UpdateCadence | None:
    """The cadence owed for `severity`: the selected package's, else the contract-wide
    `notifications.status_updates` when it covers the severity; None when neither does."""
    own = terms.selected.updates.get(severity)
    if own is not None:
        return own
    status = terms.notifications.status_updates
    if status is not None and (status.severities is None or severity in status.severities):
        return status
    return None


def update_due_after(terms: SupportTerms, cadence: UpdateCadence, since: float) -> float | None:
    """When an update is owed after one given (or a response) at `since`."""
    if cadence.every is None:
        return None
    return due(cadence.every, since, terms, terms.selected.calendar)


def next_update_due(terms: SupportTerms, cadence: UpdateCadence, since: float,
                    now: float) -> float | None:
    """The first deadline of the series since, since + cadence, ... that is after `now`:
    what a dashboard shows while no update has been recorded since `since`."""
    t = update_due_after(terms, cadence, since)
    steps = 0
    while t is not None and t <= now and steps < MAX_STEPS:
        t = update_due_after(terms, cadence, t)
        steps += 1
    return t
