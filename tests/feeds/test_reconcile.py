"""Declared against measured (pure core, on the in-memory window store)."""

from __future__ import annotations

from probe.contracts.reconcile import DeclaredIncident, reconcile_service
from probe.model import Reason, Verdict
from tests.contracts.builders import at, windows
from tests.fakes import MemoryWindows

START, END = at("2026-02-01 00:00"), at("2026-03-01 00:00")


def test_shorter_declared_undeclared_and_unseen_with_coverage() -> None:
    ledger = MemoryWindows()
    t0 = at("2026-02-20 10:00")
    ledger.write_verdicts(windows("c", "api", t0 - 3600, 60, Verdict.UP))
    ledger.write_verdicts(windows("c", "api", t0, 47, Verdict.DOWN))  # we measured 47 min
    ledger.write_verdicts(windows("c", "api", at("2026-02-25 14:00"), 20, Verdict.DOWN))
    # during the unseen incident: half measured up, half the vantage was blind
    t1 = at("2026-02-22 03:00")
    ledger.write_verdicts(windows("c", "api", t1, 15, Verdict.UP))
    ledger.write_verdicts(windows("c", "api", t1 + 900, 15, Verdict.EXCLUDED, Reason.VANTAGE))
    declared = [
        DeclaredIncident("api", t0, t0 + 12 * 60, "major", "vendor.incshort0001"),
        DeclaredIncident("api", t1, t1 + 30 * 60, "minor", "vendor.incunseen001"),
        DeclaredIncident("sign", t1, t1 + 60, "minor", "vendor.other"),
    ]
    r = reconcile_service(ledger, "c", "api", declared, start=START, end=END,
                          window_seconds=60)
    assert r.declared_minutes == {"major": 12.0, "minor": 30.0}
    assert r.measured_minutes == 67.0
    short, unseen = r.matches
    assert (short.declared.minutes, short.measured_minutes) == (12.0, 47.0)
    assert r.unseen == (unseen,)
    assert unseen.coverage == 0.5
    [undeclared] = r.undeclared
    assert (undeclared.start, undeclared.minutes) == (at("2026-02-25 14:00"), 20.0)
