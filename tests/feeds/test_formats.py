"""Each format parsed from files written after its public documentation (tests/feeds/files)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from probe.feeds import calendar, formats
from probe.feeds.formats import FeedFormatError

FILES = Path(__file__).parent / "files"
NOW = datetime(2026, 3, 2, tzinfo=UTC).timestamp()


def t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def read(name: str) -> bytes:
    return (FILES / name).read_bytes()


def test_statuspage_incidents_and_maintenance() -> None:
    got = {a.vendor_id: a for a in formats.statuspage(
        read("sp/api/v2/incidents.json"), read("sp/api/v2/scheduled-maintenances.json"))}
    short = got["incshort0001"]
    assert (short.kind, short.impact, short.start, short.end) == (
        "incident", "major", t("2026-02-20 10:00"), t("2026-02-20 10:12"))
    assert "cmpapi000001" in short.components
    assert "REST API" in short.components
    # components only named in incident_updates[].affected_components count too
    assert "cmpsign00001" in got["incunseen001"].components
    m = got["mnt8weeks001"]
    assert (m.kind, m.start, m.end, m.created_at) == (
        "maintenance", t("2026-04-27 22:00"), t("2026-04-28 02:00"), t("2026-03-01 23:58"))
    components = formats.statuspage_components(read("sp/api/v2/components.json"))
    assert components["cmpsign00001"] == "Signing API"


def test_instatus_summary() -> None:
    incident, maintenance = formats.instatus(read("instatus-summary.json"))
    assert (incident.kind, incident.impact, incident.end) == ("incident", "minor", None)
    assert maintenance.end - maintenance.start == 90 * 60
    assert maintenance.created_at is None


def test_betterstack_index() -> None:
    incident, maintenance = formats.betterstack(read("betterstack-index.json"))
    assert (incident.kind, incident.impact, incident.end) == ("incident", "downtime", None)
    assert "Signing API" in incident.components
    assert (maintenance.kind, maintenance.components) == ("maintenance", ("102", "Admin portal"))


def test_ical_recurrence_exception_cancel_and_duration() -> None:
    events = calendar.ical(read("maintenance.ics"), NOW)
    weekly = sorted(a.start for a in events if a.vendor_id.startswith("weekly-patch@"))
    # COUNT=4 from 7 March, with 14 March excepted (EXDATE)
    assert weekly == [t("2026-03-07 01:00"), t("2026-03-21 01:00"), t("2026-03-28 01:00")]
    weekly_event = next(a for a in events if a.vendor_id.startswith("weekly-patch@"))
    assert weekly_event.components == ("REST API", "Signing API")
    assert weekly_event.created_at == t("2026-03-01 23:58")
    cancelled = next(a for a in events if a.vendor_id.startswith("cancelled-move@"))
    assert cancelled.cancelled
    portal = next(a for a in events if a.vendor_id.startswith("portal-upgrade@"))
    assert portal.end - portal.start == 2 * 3600
    assert portal.components == ()
    by_x = calendar.ical(read("maintenance.ics"), NOW, "X-COMPONENT")
    assert next(a for a in by_x if a.vendor_id.startswith("portal-upgrade@")).components == (
        "Admin portal",)


def test_rss_entries_are_notices() -> None:
    entries = calendar.rss(read("history.rss"))
    assert [(a.kind, a.vendor_id) for a in entries] == [
        ("notice", "incident-2"), ("notice", "incident-1")]
    assert entries[1].created_at == t("2026-02-20 10:02")
    assert entries[1].start is None


@pytest.mark.parametrize("parse", [
    lambda b: formats.statuspage(b, b), formats.instatus, formats.betterstack,
    lambda b: calendar.ical(b, NOW), calendar.rss,
])
@pytest.mark.parametrize("body", [b"<html>oops</html>", b"\x00\xff garbage", b'{"page": {}}'])
def test_garbage_and_format_changes_are_refused(parse: object, body: bytes) -> None:
    with pytest.raises(FeedFormatError):
        parse(body)  # type: ignore[operator]
