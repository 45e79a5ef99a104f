"""iCalendar (RFC 5545) maintenance calendars and RSS/Atom history feeds (pure: bytes in).

iCalendar: every VEVENT is maintenance. Recurring events are expanded with
`recurring-ical-events` (RRULE, RDATE, EXDATE and RECURRENCE-ID overrides) over a horizon
around now; each occurrence is one announcement whose id is `UID@start`. `DTEND` or
`DURATION` give the end, `STATUS:CANCELLED` cancels, `CREATED` is the vendor's creation time
(`DTSTAMP` is when the file was generated, so it is not used for notice), `SEQUENCE` and
`LAST-MODIFIED` make a change visible. The components an event touches are the
comma-separated values of `CATEGORIES`, or of the X- property the feed names
(`ical_component_property`, e.g. `X-COMPONENT`).

RSS/Atom (feedparser): incident *notices* only. An entry carries a title, a link and a
publication time, no structured start or end, so it never becomes maintenance or declared
downtime; it is kept, with our first sighting, as what the vendor said and when.
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
from typing import Any

import feedparser
import icalendar
import recurring_ical_events

from probe.contracts.vendor import Announcement
from probe.feeds.formats import FeedFormatError

PAST = dt.timedelta(days=62)
FUTURE = dt.timedelta(days=400)


def _epoch(value: Any, what: str) -> float | None:
    if value is None:
        return None
    when = value.dt if hasattr(value, "dt") else value
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:  # floating time: RFC 5545 leaves it to the reader; UTC here
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()
    if isinstance(when, dt.date):
        return dt.datetime(when.year, when.month, when.day, tzinfo=dt.UTC).timestamp()
    raise FeedFormatError(f"{what}: not a date or time")


def _components(event: Any, prop: str) -> tuple[str, ...]:
    raw = event.get(prop)
    if raw is None:
        return ()
    values: list[str] = []
    for item in raw if isinstance(raw, list) else [raw]:
        cats = getattr(item, "cats", None)
        if cats is not None:
            values.extend(str(c) for c in cats)
        else:
            values.extend(str(item).split(","))
    return tuple(sorted({v.strip() for v in values if v.strip()}))


def ical(body: bytes, now: float, component_property: str = "CATEGORIES") -> list[Announcement]:
    try:
        cal = icalendar.Calendar.from_ical(body)
    except (ValueError, IndexError, KeyError, UnicodeDecodeError) as exc:
        raise FeedFormatError(f"iCalendar: cannot parse ({exc})") from None
    if getattr(cal, "name", "") != "VCALENDAR":
        raise FeedFormatError("iCalendar: no VCALENDAR")
    centre = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    try:
        events = recurring_ical_events.of(cal).between(centre - PAST, centre + FUTURE)
    except Exception as exc:  # the library raises its own types for broken rules
        raise FeedFormatError(f"iCalendar: cannot expand events ({exc})") from None
    out: list[Announcement] = []
    for event in events:
        uid = str(event.get("UID", ""))
        if not uid:
            raise FeedFormatError("iCalendar: a VEVENT without UID")
        what = f"iCalendar event {uid}"
        start = _epoch(event.get("DTSTART"), what)
        end = _epoch(event.get("DTEND"), what)
        if end is None and start is not None and event.get("DURATION") is not None:
            end = start + event["DURATION"].dt.total_seconds()
        if start is None or end is None:
            raise FeedFormatError(f"{what}: DTSTART and DTEND or DURATION are required")
        status = str(event.get("STATUS", "CONFIRMED")).upper()
        sequence = int(event.get("SEQUENCE", 0))
        out.append(Announcement(
            vendor_id=f"{uid}@{dt.datetime.fromtimestamp(start, tz=dt.UTC):%Y%m%dT%H%M%SZ}",
            kind="maintenance", title=str(event.get("SUMMARY", "")),
            status=f"{status} seq {sequence}", created_at=_epoch(event.get("CREATED"), what),
            updated_at=_epoch(event.get("LAST-MODIFIED"), what), start=start, end=end,
            components=_components(event, component_property), impact="maintenance",
            cancelled=status == "CANCELLED", url=str(event.get("URL", "")),
        ))
    return out


def _own(entry: Any, key: str) -> Any:
    """The entry's own `key`, without feedparser's deprecated updated→published fallback."""
    return dict.get(entry, key)


def rss(body: bytes) -> list[Announcement]:
    parsed = feedparser.parse(body)
    if parsed.get("bozo") and not parsed.get("entries"):
        raise FeedFormatError(f"RSS/Atom: cannot parse ({parsed.get('bozo_exception')})")
    if not parsed.get("version") and not parsed.get("entries"):
        raise FeedFormatError("RSS/Atom: not a feed")
    out: list[Announcement] = []
    for entry in parsed.entries:
        key = entry.get("id") or entry.get("link") or entry.get("title")
        if not key:
            raise FeedFormatError("RSS/Atom: an entry with no id, link or title")
        updated = _own(entry, "updated_parsed")
        published = _own(entry, "published_parsed") or updated
        out.append(Announcement(
            vendor_id=str(key), kind="notice", title=str(entry.get("title", "")),
            created_at=None if published is None else float(_cal.timegm(published)),
            updated_at=None if updated is None else float(_cal.timegm(updated)),
            url=str(entry.get("link", "")),
        ))
    return out
