"""Issue 15 item 4: outages between clock minutes, measured as intervals (Securosys §1.1
"Downtime is defined as an interruption of one (1) minute"). Attempts every 10 s, on :00,
:10, ... of each minute; securosys.yaml counts whole minutes (floor), minimum one minute."""

from __future__ import annotations

import functools
from pathlib import Path

from probe.config import Config, load_config
from probe.contracts.accounts import interval_outages, month_accounts
from probe.contracts.month import Month
from probe.contracts.rules import parse_down_rule
from probe.model import Verdict, WindowVerdict
from tests.contracts.builders import at
from tests.fakes import MemoryWindows

EXAMPLES = Path(__file__).parents[2] / "config" / "contracts"
ZRH = "Europe/Zurich"
SERVICE = "securosys-hsmaas-signing"
OCTOBER = Month(2026, 10)
AFTER = at("2026-11-15 00:00", ZRH)


@functools.cache
def example() -> Config:
    return load_config(EXAMPLES / "securosys.yaml")


def run(fail_from: str, fail_seconds: int) -> MemoryWindows:
    """Attempts every 10 s from 07:55 to 08:10 local on 5 Oct 2026, failing in
    [fail_from, fail_from + fail_seconds); windows decided under `all`, as the daemon does."""
    store = MemoryWindows()
    t0, t1 = at("2026-10-05 07:55", ZRH), at("2026-10-05 08:10", ZRH)
    bad = at(fail_from, ZRH)
    samples = [(float(t), not bad <= t < bad + fail_seconds) for t in range(t0, t1, 10)]
    store.record_outcomes(SERVICE, samples)
    rule = parse_down_rule("all")
    for w in range(t0, t1, 60):
        mine = [ok for t, ok in samples if w <= t < w + 60]
        failed = mine.count(False)
        store.write_verdicts([WindowVerdict(
            "securosys", SERVICE, w, 60,
            Verdict.DOWN if rule.is_down(len(mine), failed) else Verdict.UP,
            attempts=len(mine), failures=failed)])
    return store


def down(store: MemoryWindows) -> float:
    [acc] = [a for a in month_accounts(example(), store, OCTOBER, AFTER)
             if a.service == SERVICE]
    return acc.down_minutes


class TestBetweenClockMinutes:
    def test_sixty_seconds_straddling_two_minutes_is_one_minute(self) -> None:
        """08:00:30-08:01:30: attempts at :30 :40 :50 :00 :10 :20 fail, 08:01:30 succeeds.
        Windows: 08:00 and 08:01 each 3 of 6 failed -> neither down under `all` -> 0 min
        (the base figure). Interval: 60 s >= 1 min -> floor(60/60) = 1 minute."""
        store = run("2026-10-05 08:00:30", 60)
        assert [v.verdict for v in store.windows_by_verdict(
            "securosys", Verdict.DOWN, 0, 2**40)] == []
        assert down(store) == 1

    def test_one_hundred_twenty_seconds_straddling_is_two_minutes(self) -> None:
        """08:00:30-08:02:30: windows 08:00 (3/6), 08:01 (6/6 down), 08:02 (3/6) -> 1 min
        by windows; interval 120 s -> 2 minutes."""
        assert down(run("2026-10-05 08:00:30", 120)) == 2

    def test_aligned_sixty_seconds_is_one_minute(self) -> None:
        """08:00:00-08:01:00: 6 of 6 fail in window 08:00; interval 60 s -> 1 minute."""
        assert down(run("2026-10-05 08:00:00", 60)) == 1

    def test_fifty_seconds_is_no_downtime(self) -> None:
        """08:00:30-08:01:20: 5 failures, success at 08:01:20; 50 s < 1 min -> 0."""
        assert down(run("2026-10-05 08:00:30", 50)) == 0

    def test_bounds_of_the_sixty_second_outage(self) -> None:
        """Sampling every 10 s: it began after 08:00:20 (last success) and by 08:00:30
        (first failure); it ended after 08:01:20 (last failure) and by 08:01:30."""
        contract = example().contracts[0]
        objective = contract.objectives[0]
        start, end = OCTOBER.bounds(contract.zone)
        [o] = interval_outages(run("2026-10-05 08:00:30", 60), contract, objective,
                               start=start, end=end, now=AFTER, scope="local") or []
        assert (o.earliest_start, o.start, o.earliest_end, o.end) == (
            at("2026-10-05 08:00:20", ZRH), at("2026-10-05 08:00:30", ZRH),
            at("2026-10-05 08:01:20", ZRH), at("2026-10-05 08:01:30", ZRH))
        assert o.counted_minutes == 1

    def test_ninety_seconds_other_reading_rounds_up(self) -> None:
        """90 s: floor -> 1 minute (taken); ceil -> 2 minutes (the other reading)."""
        contract = example().contracts[0]
        objective = contract.objectives[0]
        start, end = OCTOBER.bounds(contract.zone)
        store = run("2026-10-05 08:00:30", 90)
        taken = interval_outages(store, contract, objective, start=start, end=end, now=AFTER,
                                 scope="local") or []
        other = interval_outages(store, contract, objective, start=start, end=end, now=AFTER,
                                 scope="local", rounding="ceil") or []
        assert ([o.counted_minutes for o in taken], [o.counted_minutes for o in other]) == (
            [1], [2])
