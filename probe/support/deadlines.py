"""When something is owed: a time limit of the contract applied to an instant."""

from __future__ import annotations

from probe.support.calendar import add_calendar_days
from probe.support.model import NoticeTerm, SupportTerms, TimeLimit


def due(limit: TimeLimit, start: float, terms: SupportTerms,
        default_calendar: str | None = None) -> float:
    """The instant by which `limit` has run out when it starts at `start`.

    Elapsed hours are elapsed time; calendar days keep the wall-clock time in the support
    time zone; business hours and days count on `limit.calendar`, else `default_calendar`,
    else the selected package's Support Service Time.
    """
    if limit.unit == "hours":
        return start + limit.amount * 3600.0
    if limit.unit == "calendar_days":
        return add_calendar_days(start, int(limit.amount), terms.zone)
    calendar = terms.calendar(limit.calendar or default_calendar)
    if limit.unit == "business_hours":
        return calendar.add_business_hours(start, limit.amount)
    return calendar.add_business_days(start, int(limit.amount))


def response_due(terms: SupportTerms, severity: str, reported_at: float) -> float | None:
    """When the selected package owes a first response to a report of `severity`."""
    limit = terms.selected.response.get(severity)
    return None if limit is None else due(limit, terms.clock_starts(reported_at), terms)


def resolution_due(terms: SupportTerms, severity: str, reported_at: float) -> float | None:
    limit = terms.selected.resolution.get(severity)
    return None if limit is None else due(limit, terms.clock_starts(reported_at), terms)


def notice_applies(notice: NoticeTerm, severity: str) -> bool:
    return notice.severities is None or severity in notice.severities


def notice_due(terms: SupportTerms, severity: str, aware_at: float) -> float | None:
    """When the incident notice is owed, counted from the vendor becoming aware."""
    notice = terms.notifications.incident_notice
    if notice is None or not notice_applies(notice, severity):
        return None
    return due(notice, aware_at, terms)


def report_due(terms: SupportTerms, severity: str, resolved_at: float) -> float | None:
    """When the written post-incident report is owed, counted from resolution."""
    report = terms.notifications.post_incident_report
    if report is None or not notice_applies(report, severity):
        return None
    return due(report, resolved_at, terms)
