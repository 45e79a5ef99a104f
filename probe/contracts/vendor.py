"""The vendor's own word, as the pure core sees it: announcements from its status page or
calendar, the versions we witnessed, and the maintenance entry each one becomes.

Why a witness: the contract's notice rule ("announced ≥ 8 weeks ahead") is about when the
vendor *told* the customer, and the only timestamp a status page offers is its own
`created_at`, which the vendor can set to anything. We keep the time we first saw each
version. The vendor's `created_at` is trusted only when our first sighting agrees with it
within one poll interval plus a tolerance (we cannot see an announcement sooner than our next
poll); otherwise the notice counts from our first sighting, and the entry's note says so.
That covers a backdated `created_at` and an announcement we first saw after it began.

No store, no config: the poller and the store hand versions in, entries come out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from probe.contracts.maintenance import MaintenanceEntry
from probe.durations import format_duration

Kind = Literal["maintenance", "incident", "notice"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True, slots=True)
class Announcement:
    """One announcement as the vendor's feed states it now (times in epoch seconds).

    `components` are the vendor's component names (or ids) it touches; `impact` is the
    vendor's own word for incidents (Statuspage `none|minor|major|critical`, Instatus
    `MINOROUTAGE|MAJOROUTAGE|…`, Better Stack `degraded|downtime`), normalised by the parser.
    """

    vendor_id: str
    kind: Kind
    title: str = ""
    status: str = ""
    created_at: float | None = None
    updated_at: float | None = None
    start: float | None = None
    end: float | None = None
    components: tuple[str, ...] = ()
    impact: str = ""
    cancelled: bool = False
    url: str = ""

    def digest(self) -> str:
        """What makes a new version: any change of what the vendor says (not `updated_at`,
        which a vendor may bump without changing anything the contract cares about)."""
        fields = dataclasses.asdict(self)
        fields.pop("updated_at")
        fields["components"] = sorted(self.components)
        blob = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Version:
    """One version of an announcement as we witnessed it: `first_seen` is our clock."""

    feed: str
    number: int
    first_seen: float
    announcement: Announcement


@dataclasses.dataclass(frozen=True, slots=True)
class Notice:
    """When the notice counts from, and why."""

    announced_at: float
    basis: Literal["vendor", "witness"]
    note: str


def judge_notice(created_at: float | None, first_seen: float, start: float,
                 poll_interval: float, tolerance: float) -> Notice:
    """The vendor's `created_at` if our first sighting agrees with it, else our sighting.

    Agreement: `created_at - tolerance <= first_seen <= created_at + interval + tolerance`.
    A `created_at` after our first sighting by more than the tolerance is a clock problem on
    one side and is not trusted either.
    """
    seen = f"first seen by us {iso(first_seen)}"
    if created_at is None:
        return Notice(first_seen, "witness", f"notice from our first sighting ({seen}; the "
                      "vendor gives no creation time)")
    lag = first_seen - created_at
    if -tolerance <= lag <= poll_interval + tolerance:
        return Notice(created_at, "vendor", f"notice from the vendor's created_at "
                      f"{iso(created_at)} ({seen}, within poll interval + tolerance)")
    why = (f"{format_duration(round(lag))} before we first saw it, more than poll interval "
           f"+ tolerance ({format_duration(round(poll_interval + tolerance))})"
           if lag > 0 else f"{format_duration(round(-lag))} after we first saw it")
    late = " — we first saw it after it had started" if first_seen >= start else ""
    return Notice(first_seen, "witness", f"notice from our first sighting ({seen}): the "
                  f"vendor's created_at {iso(created_at)} is {why}{late}")


def reference(feed: str, vendor_id: str) -> str:
    """A config-safe reference (NAME_PATTERN, ≤ 128) naming the feed and the vendor's id."""
    tail = _UNSAFE.sub("-", vendor_id).strip("-.") or hashlib.sha256(
        vendor_id.encode()).hexdigest()[:16]
    ref = f"{feed}.{tail}"
    if len(ref) > 128:
        ref = f"{feed}.{hashlib.sha256(vendor_id.encode()).hexdigest()[:24]}"
    return ref


def maintenance_entry(
    contract: str, feed: str, versions: Sequence[Version], services: Sequence[str],
    *, poll_interval: float, tolerance: float,
) -> MaintenanceEntry | None:
    """The maintenance entry of one announcement's versions (oldest first), or None when it
    is cancelled, has no times, or touches none of our services.

    A rescheduled entry's notice counts from when we first saw its current schedule: the
    vendor's `created_at` dates the original schedule, not the change.
    """
    if not versions:
        return None
    latest = versions[-1].announcement
    if latest.kind != "maintenance" or latest.cancelled or latest.start is None \
            or latest.end is None or latest.end <= latest.start or not services:
        return None
    schedule = (latest.start, latest.end)
    since = next(v for v in versions
                 if (v.announcement.start, v.announcement.end) == schedule)
    rescheduled = since is not versions[0]
    if rescheduled:
        notice = judge_notice(None, since.first_seen, latest.start, poll_interval, tolerance)
        note = (f"rescheduled (version {since.number}); notice from our first sighting of "
                f"the current schedule, {iso(since.first_seen)}")
    else:
        notice = judge_notice(latest.created_at, versions[0].first_seen, latest.start,
                              poll_interval, tolerance)
        note = notice.note
    title = f" “{latest.title}”" if latest.title else ""
    return MaintenanceEntry(
        contract=contract, services=list(services),
        start=datetime.fromtimestamp(latest.start, tz=UTC),
        end=datetime.fromtimestamp(latest.end, tz=UTC),
        announced_at=datetime.fromtimestamp(notice.announced_at, tz=UTC),
        kind="scheduled", reference=reference(feed, latest.vendor_id),
        note=f"vendor feed {feed}{title}: {note}",
    )


def map_services(components: Sequence[str], mapping: dict[str, list[str]],
                 all_services: Sequence[str]) -> list[str]:
    """Our services touched by the vendor's components. An announcement naming no component
    touches the whole contract only when the mapping says so with the key `*`."""
    if not components:
        return sorted(set(mapping.get("*", [])) & set(all_services)) if "*" in mapping else []
    out: set[str] = set()
    for component in components:
        out.update(mapping.get(component, ()))
    return sorted(out & set(all_services))
