"""Maintenance and declared exclusions laid on verdicts: at decision time, after, reverted."""

from __future__ import annotations

import pytest

from probe.contracts.exclusions import apply_exclusions, measured, revisions_due
from probe.model import Reason, Verdict, WindowVerdict
from probe.pipeline import write_due_revisions
from tests.contracts.builders import at, config_with, windows
from tests.fakes import MemoryWindows

CONTRACT = """
- name: c
  objectives: [{service: api, target: 99.9}, {service: sign, target: 99.9}]
  maintenance_rules:
    min_notice: {min: 14d}
"""
MAINTENANCE = """
maintenance:
  - contract: c
    services: [api]
    start: 2026-10-10T02:00:00Z
    end: 2026-10-10T03:00:00Z
    announced_at: 2026-09-01T00:00:00Z
    reference: MW-ok
  - contract: c
    start: 2026-10-12T02:00:00Z
    end: 2026-10-12T03:00:00Z
    announced_at: 2026-10-11T00:00:00Z
    reference: MW-late
exclusions:
  - {contract: c, services: [sign], start: 2026-10-14T00:00:00Z, end: 2026-10-14T00:10:00Z,
     reason: force_majeure, reference: FM-1}
"""
NOW = at("2026-10-20 00:00")


def one(service: str, when: str, verdict: Verdict = Verdict.DOWN,
        reason: Reason = Reason.NONE) -> WindowVerdict:
    return windows("c", service, at(when), 1, verdict, reason)[0]


class TestApplyExclusions:
    @pytest.mark.parametrize(
        ("service", "when", "verdict", "reason", "note"),
        [
            ("api", "2026-10-10 02:30", Verdict.DOWN, Reason.MAINTENANCE, "maintenance:MW-ok"),
            ("api", "2026-10-10 02:59", Verdict.UP, Reason.MAINTENANCE, "maintenance:MW-ok"),
            ("api", "2026-10-10 03:00", Verdict.DOWN, Reason.NONE, ""),
            ("sign", "2026-10-10 02:30", Verdict.DOWN, Reason.NONE, ""),
            ("api", "2026-10-12 02:30", Verdict.DOWN, Reason.NONE, ""),  # too little notice
            ("sign", "2026-10-14 00:05", Verdict.DOWN, Reason.DECLARED,
             "declared:force_majeure:FM-1"),
            ("api", "2026-10-14 00:05", Verdict.DOWN, Reason.NONE, ""),
        ],
    )
    def test_fresh_verdict_gets_the_exclusion_that_applies(
        self, service: str, when: str, verdict: Verdict, reason: Reason, note: str
    ) -> None:
        config = config_with(CONTRACT, MAINTENANCE)
        fresh = one(service, when, verdict)
        got = apply_exclusions(config, fresh)
        expected = Verdict.EXCLUDED if reason != Reason.NONE else verdict
        assert (got.verdict, got.reason, got.note.partition("|")[0]) == (expected, reason, note)
        assert (got.attempts, got.failures) == (fresh.attempts, fresh.failures)

    def test_the_measured_verdict_is_kept_and_recovered(self) -> None:
        config = config_with(CONTRACT, MAINTENANCE)
        fresh = one("api", "2026-10-10 02:30", Verdict.EXCLUDED, Reason.VANTAGE)
        got = apply_exclusions(config, fresh)
        assert got.reason == Reason.MAINTENANCE
        assert measured(got) == fresh


class TestRevisionsDue:
    def test_maintenance_entered_late_revises_decided_windows_once(self, ledger: MemoryWindows) -> None:
        ledger.write_verdicts(windows("c", "api", at("2026-10-10 01:30"), 120, Verdict.DOWN))
        config = config_with(CONTRACT, MAINTENANCE)
        due = dict(revisions_due(config, ledger, NOW))
        assert list(due) == ["maintenance:MW-ok"]
        assert len(due["maintenance:MW-ok"]) == 60
        assert write_due_revisions(ledger, config, NOW) == 60
        assert list(revisions_due(config, ledger, NOW)) == []
        [(first, a1), (second, a2)] = ledger.revisions("c", "api", at("2026-10-10 02:00"))
        assert (first.verdict, a1) == (Verdict.DOWN, "decider")
        assert (second.verdict, second.reason, a2) == (Verdict.EXCLUDED, Reason.MAINTENANCE,
                                                       "maintenance:MW-ok")

    def test_removed_maintenance_restores_the_measured_verdicts(self, ledger: MemoryWindows) -> None:
        ledger.write_verdicts(windows("c", "api", at("2026-10-10 01:30"), 120, Verdict.DOWN))
        write_due_revisions(ledger, config_with(CONTRACT, MAINTENANCE), NOW)
        bare = config_with(CONTRACT)
        assert write_due_revisions(ledger, bare, NOW) == 60
        rows = ledger.windows("c", at("2026-10-10 00:00"), at("2026-10-11 00:00"))
        assert {v.verdict for v in rows} == {Verdict.DOWN}
        _, author = ledger.revisions("c", "api", at("2026-10-10 02:00"))[-1]
        assert author == "exclusion:restore"
