"""The notice witnessed (pure core): which time the notice counts from, and the contract's
rules run on the entries imported announcements become."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

from probe.contracts.maintenance import MaintenanceRules, assess
from probe.contracts.vendor import Announcement, Version, judge_notice, maintenance_entry
from tests.contracts.builders import at

DAY = 86400.0
RULES = MaintenanceRules.model_validate({"min_notice": {"min": "8w"}, "max_length": {"max": "8h"}})
INTERVAL, TOLERANCE = 300.0, 120.0


def announcement(start: str, hours: float, created: float | None, **kw: object) -> Announcement:
    s = at(start)
    return Announcement(vendor_id=str(kw.pop("vid", "m1")), kind="maintenance", start=s,
                        end=s + hours * 3600, created_at=created, **kw)  # type: ignore[arg-type]


def judged(*versions: Version) -> tuple[str, list[str], str]:
    entry = maintenance_entry("c", "vendor", versions, ["sign"], poll_interval=INTERVAL,
                              tolerance=TOLERANCE)
    assert entry is not None
    [a] = assess([entry], RULES, ZoneInfo("UTC"), 60)
    return a.status, [v.rule for v in a.violations], entry.note


def test_eight_weeks_ahead_vendor_time_agrees() -> None:
    start = at("2026-04-27 22:00")
    created = start - 57 * DAY
    status, rules, note = judged(Version("vendor", 1, created + 200, announcement(
        "2026-04-27 22:00", 4, created)))
    assert (status, rules) == ("valid", [])
    assert "notice from the vendor's created_at" in note


def test_two_days_ahead_is_invalid_even_when_honest() -> None:
    created = at("2026-03-02 01:00")
    status, rules, _ = judged(Version("vendor", 1, created + 60, announcement(
        "2026-03-04 01:00", 2, created)))
    assert (status, rules) == ("invalid", ["min_notice"])


def test_backdated_created_at_is_judged_from_our_first_sighting() -> None:
    created = at("2026-01-05 10:00")  # 64 days before the start: would pass 8 weeks
    first_seen = at("2026-03-02 00:00")  # but we first saw it 8 days before the start
    status, rules, note = judged(Version("vendor", 1, first_seen, announcement(
        "2026-03-10 01:00", 1, created)))
    assert (status, rules) == ("invalid", ["min_notice"])
    assert "notice from our first sighting" in note
    assert "before we first saw it" in note


def test_first_seen_after_it_started() -> None:
    created = at("2026-01-01 00:00")
    seen = at("2026-03-10 01:30")  # the window began at 01:00
    status, rules, note = judged(Version("vendor", 1, seen, announcement(
        "2026-03-10 01:00", 2, created)))
    assert (status, rules) == ("invalid", ["min_notice"])
    assert "after it had started" in note


def test_rescheduled_counts_from_the_new_schedule() -> None:
    created = at("2026-01-01 00:00")
    first = announcement("2026-03-20 01:00", 2, created)
    moved = dataclasses.replace(first, start=at("2026-03-21 01:00"), end=at("2026-03-21 03:00"))
    status, rules, note = judged(Version("vendor", 1, created + 10, first),
                                 Version("vendor", 2, at("2026-03-15 00:00"), moved))
    assert (status, rules) == ("invalid", ["min_notice"])
    assert "rescheduled (version 2)" in note


def test_cancelled_entry_is_no_maintenance() -> None:
    created = at("2026-01-01 00:00")
    first = announcement("2026-03-20 01:00", 2, created)
    gone = dataclasses.replace(first, cancelled=True, status="cancelled")
    assert maintenance_entry("c", "vendor", [Version("vendor", 1, created, first),
                                             Version("vendor", 2, created + DAY, gone)],
                             ["sign"], poll_interval=INTERVAL, tolerance=TOLERANCE) is None


def test_agreement_window_is_interval_plus_tolerance() -> None:
    created = 1_000_000.0
    assert judge_notice(created, created + 420, created + DAY, 300, 120).basis == "vendor"
    assert judge_notice(created, created + 421, created + DAY, 300, 120).basis == "witness"
    assert judge_notice(created, created - 121, created + DAY, 300, 120).basis == "witness"
    assert judge_notice(None, created, created + DAY, 300, 120).basis == "witness"
