"""Issue 15 items 1 and 5: overlapping maintenance is charged once; notice in calendar weeks.

Golden figures are worked by hand in each docstring from the quoted clause.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from probe.config import load_config
from probe.contracts.maintenance import Assessment, MaintenanceEntry, NoticeRule, assess
from probe.contracts.model import ContractConfig

EXAMPLES = Path(__file__).parents[2] / "config" / "contracts"
ET = "America/New_York"


@functools.cache
def contract(name: str) -> ContractConfig:
    return load_config(EXAMPLES / f"{name}.yaml").contracts[0]


def entry(ref: str, start: str, end: str, announced: str, zone: str = ET,
          services: tuple[str, ...] = ()) -> MaintenanceEntry:
    z = ZoneInfo(zone)
    return MaintenanceEntry(
        contract="c", services=list(services), reference=ref,
        start=datetime.fromisoformat(start).replace(tzinfo=z),
        end=datetime.fromisoformat(end).replace(tzinfo=z),
        announced_at=datetime.fromisoformat(announced).replace(tzinfo=z))


def judge(name: str, *entries: MaintenanceEntry) -> list[Assessment]:
    c = contract(name)
    return assess(entries, c.maintenance_rules, c.zone, c.window_seconds)


def counted(found: list[Assessment]) -> float:
    return sum(a.counted_minutes for a in found)


class TestOverlapsChargedOnce:
    """Dfns §3: "Scheduled Maintenance will not exceed 3 hours per month", notified "at
    least fourteen (14) days in advance". Entries announced 20 days ahead."""

    def test_overlapping_entries_use_their_union(self) -> None:
        """01:00-03:00 and 02:00-04:00 ET: union 01:00-04:00 = 180 min <= 3 h budget, so
        0 minutes count (the base charged 120 + 120 = 240 min and counted 60)."""
        found = judge("dfns", entry("a", "2026-10-07 01:00", "2026-10-07 03:00", "2026-09-17"),
                      entry("b", "2026-10-07 02:00", "2026-10-07 04:00", "2026-09-17"))
        assert counted(found) == 0
        assert [a.status for a in found] == ["valid", "valid"]

    def test_nested_entry_is_free(self) -> None:
        """01:00-04:00 (180 min, the whole budget) and 02:00-03:00 inside it: union 180 min,
        0 count (the base counted the nested 60)."""
        found = judge("dfns", entry("a", "2026-10-07 01:00", "2026-10-07 04:00", "2026-09-17"),
                      entry("b", "2026-10-07 02:00", "2026-10-07 03:00", "2026-09-17"))
        assert counted(found) == 0

    def test_touching_entries_add_up(self) -> None:
        """01:00-03:00 and 03:00-05:00: disjoint, union 240 min; 180 fit, the last 60 of
        the second entry (04:00-05:00) count."""
        found = judge("dfns", entry("a", "2026-10-07 01:00", "2026-10-07 03:00", "2026-09-17"),
                      entry("b", "2026-10-07 03:00", "2026-10-07 05:00", "2026-09-17"))
        assert [a.counted_minutes for a in found] == [0, 60]

    def test_union_is_per_service(self) -> None:
        """Entry a on dfns-api 01:00-03:00, entry b on dfns-signature 02:00-04:00: each
        service lost 120 min (< 180), nothing counts; then an all-services entry 05:00-06:00
        adds 60 min to each: api 180, signature 180, still within 3 h, 0 count."""
        found = judge(
            "dfns",
            entry("a", "2026-10-07 01:00", "2026-10-07 03:00", "2026-09-17",
                  services=("dfns-api",)),
            entry("b", "2026-10-07 02:00", "2026-10-07 04:00", "2026-09-17",
                  services=("dfns-signature",)),
            entry("c", "2026-10-07 05:00", "2026-10-07 06:00", "2026-09-17"))
        assert counted(found) == 0


class TestNoticeInCalendarWeeks:
    """Securosys §1.1: "Scheduled Downtime is announced at least 8 weeks in advance"."""

    def test_eight_calendar_weeks_across_dst(self) -> None:
        """Announced Tue 17 Mar 2026 22:00 CET for Tue 12 May 2026 22:00 CEST: 56 calendar
        days = 8 weeks, valid; elapsed it is 56 * 24 - 1 = 1,343 h < 1,344 h (the clocks
        went forward on 29 March), which the base judged invalid (240 min counted)."""
        z = "Europe/Zurich"
        [a] = judge("securosys",
                    entry("m", "2026-05-12 22:00", "2026-05-13 02:00", "2026-03-17 22:00", z))
        assert (a.status, a.counted_minutes) == ("valid", 0)

    def test_one_minute_late_is_late(self) -> None:
        """Announced 17 Mar 22:01 CET: one minute short of 8 calendar weeks, invalid, all
        240 min count."""
        z = "Europe/Zurich"
        [a] = judge("securosys",
                    entry("m", "2026-05-12 22:00", "2026-05-13 02:00", "2026-03-17 22:01", z))
        assert (a.status, a.counted_minutes) == ("invalid", 240)

    def test_elapsed_reading_is_available(self) -> None:
        """The other reading (elapsed hours) gives 1,343 h < 1,344 h: invalid, 240 min."""
        z = "Europe/Zurich"
        c = contract("securosys")
        [a] = assess([entry("m", "2026-05-12 22:00", "2026-05-13 02:00", "2026-03-17 22:00",
                            z)], c.maintenance_rules, c.zone, 60, notice_counting="elapsed")
        assert (a.status, a.counted_minutes) == ("invalid", 240)

    def test_hours_stay_elapsed(self) -> None:
        """A notice written in hours (`48h`) is elapsed time."""
        assert NoticeRule(min="48h").counting == "elapsed"  # type: ignore[arg-type]
        assert NoticeRule(min="8w").counting == "calendar"  # type: ignore[arg-type]
