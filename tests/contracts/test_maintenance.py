"""Maintenance entries judged against the rules of contracts 000 (Securosys) and 001 (Dfns)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.config import load_config
from probe.contracts.maintenance import (
    Assessment,
    MaintenanceEntry,
    MaintenanceRules,
    assess,
    entry_windows,
    months_before,
)
from probe.contracts.model import ContractConfig

EXAMPLES = Path(__file__).parents[2] / "config" / "contracts"


@functools.cache
def contract(name: str) -> ContractConfig:
    return load_config(EXAMPLES / f"{name}.yaml").contracts[0]


def entry(start: str, hours: float, announced_days_before: float | None, ref: str = "m1",
          kind: str = "scheduled", zone: str = "UTC") -> MaintenanceEntry:
    begin = datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(zone))
    announced = None if announced_days_before is None else \
        begin - timedelta(days=announced_days_before)
    return MaintenanceEntry(contract="c", start=begin, end=begin + timedelta(hours=hours),
                            announced_at=announced, kind=kind,
                            reference=ref)


def judge(name: str, *entries: MaintenanceEntry) -> list[Assessment]:
    c = contract(name)
    return assess(entries, c.maintenance_rules, c.zone, c.window_seconds)


def summary(a: Assessment) -> tuple[str, float, float, list[str]]:
    return a.status, a.excluded_minutes, a.counted_minutes, [v.rule for v in a.violations]


class TestSecurosysScheduledDowntime:
    def test_announced_eight_weeks_ahead_is_valid(self) -> None:
        [a] = judge("securosys", entry("2026-10-10 22:00", 4, 56))
        assert summary(a) == ("valid", 240, 0, [])

    def test_announced_seven_weeks_ahead_counts_every_minute(self) -> None:
        [a] = judge("securosys", entry("2026-10-10 22:00", 4, 49))
        assert summary(a) == ("invalid", 0, 240, ["min_notice"])
        assert a.violations[0].message == "announced 49d ahead, needs 56d"

    def test_without_announcement_date_is_invalid(self) -> None:
        [a] = judge("securosys", entry("2026-10-10 22:00", 1, None))
        assert summary(a) == ("invalid", 0, 60, ["min_notice"])

    def test_nine_hours_exclude_eight_and_count_the_ninth(self) -> None:
        [a] = judge("securosys", entry("2026-10-10 20:00", 9, 60))
        assert summary(a) == ("partly valid", 480, 60, ["max_length"])
        assert min(a.counted) == int(datetime(2026, 10, 11, 4, tzinfo=UTC).timestamp())

    @pytest.mark.parametrize(
        ("second", "status"),
        [("2027-03-01 22:00", "invalid"), ("2027-04-11 22:00", "valid")],
    )
    def test_one_intervention_per_six_months(self, second: str, status: str) -> None:
        first, later = judge("securosys", entry("2026-10-10 22:00", 2, 60, "a"),
                             entry(second, 2, 60, "b"))
        assert first.status == "valid"
        assert later.status == status
        if status == "invalid":
            assert [v.rule for v in later.violations] == ["max_count"]

    def test_a_rejected_intervention_does_not_use_up_the_count(self) -> None:
        late, ok = judge("securosys", entry("2026-10-10 22:00", 2, 10, "late"),
                         entry("2026-12-10 22:00", 2, 60, "ok"))
        assert (late.status, ok.status) == ("invalid", "valid")

    def test_emergency_patch_needs_no_notice(self) -> None:
        [a] = judge("securosys", entry("2026-10-10 22:00", 1, 0, kind="emergency"))
        assert summary(a) == ("valid", 60, 0, [])


class TestDfnsScheduledMaintenance:
    def test_two_windows_of_two_hours_exclude_three_and_count_one(self) -> None:
        first, second = judge(
            "dfns",
            entry("2026-10-06 01:00", 2, 20, "a", zone="America/New_York"),
            entry("2026-10-20 01:00", 2, 20, "b", zone="America/New_York"),
        )
        assert summary(first) == ("valid", 120, 0, [])
        assert summary(second) == ("partly valid", 60, 60, ["max_per_month"])

    def test_the_monthly_budget_starts_again_next_month(self) -> None:
        a, b = judge("dfns", entry("2026-10-06 01:00", 2, 20, "a", zone="America/New_York"),
                     entry("2026-11-03 01:00", 2, 20, "b", zone="America/New_York"))
        assert (a.status, b.status) == ("valid", "valid")

    @pytest.mark.parametrize(
        ("start", "hours", "rules"),
        [("2026-10-06 14:00", 1, ["allowed_hours"]),
         ("2026-10-06 01:00", 2.5, ["max_length"]),
         ("2026-10-06 05:00", 2, ["allowed_hours"])],
    )
    def test_commercially_reasonable_efforts_only_warn(
        self, start: str, hours: float, rules: list[str]
    ) -> None:
        [a] = judge("dfns", entry(start, hours, 20, zone="America/New_York"))
        assert summary(a) == ("valid", hours * 60, 0, rules)
        assert [v.binding for v in a.violations] == [False] * len(rules)
        assert not a.invalid
        assert a.warnings

    def test_thirteen_days_notice_is_not_enough(self) -> None:
        [a] = judge("dfns", entry("2026-10-06 01:00", 1, 13, zone="America/New_York"))
        assert summary(a) == ("invalid", 0, 60, ["min_notice"])


class TestRuleShapes:
    def test_kind_the_contract_does_not_exclude_counts(self) -> None:
        rules = MaintenanceRules(excluded_kinds=["scheduled"])
        [a] = assess([entry("2026-10-06 01:00", 1, None, kind="emergency")], rules,
                     ZoneInfo("UTC"), 60)
        assert summary(a) == ("invalid", 0, 60, ["kind"])

    def test_binding_hours_count_only_the_minutes_outside(self) -> None:
        rules = MaintenanceRules.model_validate(
            {"allowed_hours": {"start": "22:00", "end": "02:00"}})
        [a] = assess([entry("2026-10-06 01:00", 2, 1)], rules, ZoneInfo("UTC"), 60)
        assert summary(a) == ("partly valid", 60, 60, ["allowed_hours"])

    @pytest.mark.parametrize(
        ("local", "months", "expected"),
        [("2026-08-31 12:00", 6, "2026-02-28 12:00"), ("2026-03-15 00:00", 6,
                                                      "2025-09-15 00:00"),
         ("2028-08-29 08:00", 6, "2028-02-29 08:00")],
    )
    def test_months_before_clamps_to_month_end(self, local: str, months: int,
                                               expected: str) -> None:
        zone = ZoneInfo("Europe/Zurich")
        t = datetime.fromisoformat(local).replace(tzinfo=zone).timestamp()
        want = datetime.fromisoformat(expected).replace(tzinfo=zone).timestamp()
        assert months_before(t, months, zone) == want


class TestMaintenanceProperties:
    @given(st.lists(st.tuples(st.integers(0, 60 * 24 * 60), st.integers(1, 600),
                              st.integers(0, 30)), min_size=1, max_size=6))
    @settings(deadline=None, max_examples=60)
    def test_every_window_is_excluded_or_counted_and_budgets_hold(
        self, specs: list[tuple[int, int, int]]
    ) -> None:
        """Dfns rules: no window lost or doubled, never more than 3 h excluded a month (the
        union of the entries' windows: an overlap is charged once, issue 15 item 1)."""
        c = contract("dfns")
        base = datetime(2026, 9, 1, tzinfo=UTC)
        entries = [
            MaintenanceEntry(contract="dfns", start=base + timedelta(minutes=m),
                             end=base + timedelta(minutes=m + n),
                             announced_at=base + timedelta(minutes=m) - timedelta(days=d),
                             reference=f"m{i}")
            for i, (m, n, d) in enumerate(specs)
        ]
        judged = assess(entries, c.maintenance_rules, c.zone, c.window_seconds)
        per_month: dict[tuple[int, int], set[int]] = {}
        for a in judged:
            windows = entry_windows(a.entry, 60)
            assert sorted([*a.excluded, *a.counted]) == windows
            for w in a.excluded:
                local = datetime.fromtimestamp(w, tz=c.zone)
                per_month.setdefault((local.year, local.month), set()).add(w)
        assert all(len(n) <= 180 for n in per_month.values())
