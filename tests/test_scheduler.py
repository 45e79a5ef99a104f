"""The scheduler on simulated time: grid, spread, timeouts, confirmation, concurrency."""

from __future__ import annotations

import asyncio
import random

import pytest

from checks.base import AttemptContext, CheckFailure, Result
from probe.clock import LoopClock
from probe.model import Attempt, Role
from probe.scheduler import Job, Scheduler, spread_offset
from tests.fakes import ScriptedCheck

pytestmark = pytest.mark.looptime

EPOCH = 1_800_000_000.0


def make(jobs: list[Job], clock: LoopClock, **kw: object) -> tuple[Scheduler, list[Attempt]]:
    out: list[Attempt] = []
    kw.setdefault("jitter", 0.0)
    sched = Scheduler(jobs, clock, out.append, rng=random.Random(1), **kw)  # type: ignore[arg-type]
    return sched, out


async def run_for(sched: Scheduler, seconds: float) -> None:
    task = asyncio.create_task(sched.run())
    await asyncio.sleep(seconds)
    sched.stop()
    await task
    await sched.drain(5)


class TestGrid:
    async def test_attempts_follow_the_interval_without_drift(self) -> None:
        clock = LoopClock(EPOCH)
        check = ScriptedCheck(clock, lambda _t: False)
        sched, out = make([Job("api", "h", Role.SERVICE, check, 10, 2)], clock, spread=False)
        await run_for(sched, 95)
        starts = [a.started_at - EPOCH for a in out]
        assert starts == pytest.approx([0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
        assert all(a.ok for a in out)

    async def test_spread_places_checks_at_stable_offsets(self) -> None:
        clock = LoopClock(EPOCH)
        jobs = [Job("api", f"c{i}", Role.SERVICE, ScriptedCheck(clock, lambda _t: False), 10, 1)
                for i in range(5)]
        sched, out = make(jobs, clock, spread=True)
        await run_for(sched, 9.99)
        firsts = {a.check: a.started_at - EPOCH for a in out}
        expected = {f"c{i}": spread_offset(f"api/c{i}", 10) for i in range(5)}
        assert firsts == pytest.approx(expected, abs=1e-5)
        assert len(set(firsts.values())) == 5

    async def test_jitter_moves_starts_but_not_the_grid(self) -> None:
        clock = LoopClock(EPOCH)
        check = ScriptedCheck(clock, lambda _t: False)
        sched, out = make([Job("api", "h", Role.SERVICE, check, 10, 2)], clock, spread=False,
                          jitter=0.2)
        await run_for(sched, 200)
        for k, a in enumerate(out):
            assert 10 * k <= a.started_at - EPOCH <= 10 * k + 2


class TestTimeouts:
    async def test_slow_answer_is_a_timeout_at_the_configured_limit(self) -> None:
        clock = LoopClock(EPOCH)
        check = ScriptedCheck(clock, lambda _t: False, delay=lambda _t: 5)
        sched, out = make([Job("api", "h", Role.SERVICE, check, 10, 2)], clock, spread=False)
        await run_for(sched, 5)
        assert [(a.ok, a.failure_class, a.latency) for a in out] == [(False, "timeout", 2)]

    async def test_exceptions_become_classified_failures(self) -> None:
        clock = LoopClock(EPOCH)

        class Raising:
            async def run(self, ctx: AttemptContext) -> Result:
                raise CheckFailure("bad_signature", "signature does not verify")

        class Buggy:
            async def run(self, ctx: AttemptContext) -> Result:
                raise KeyError("oops")

        jobs = [Job("api", "sig", Role.SERVICE, Raising(), 10, 2),
                Job("api", "bug", Role.SERVICE, Buggy(), 10, 2)]
        sched, out = make(jobs, clock, spread=False)
        await run_for(sched, 5)
        classes = {a.check: (a.failure_class, a.detail) for a in out}
        assert classes["sig"] == ("bad_signature", "signature does not verify")
        assert classes["bug"] == ("error", "KeyError: 'oops'")


class TestConfirmRetry:
    @pytest.mark.parametrize(
        ("fail_first_only", "ok"), [(True, True), (False, False)]
    )
    async def test_a_failure_counts_only_if_the_retry_fails_too(
        self, fail_first_only: bool, ok: bool
    ) -> None:
        clock = LoopClock(EPOCH)
        calls = {"n": 0}

        class Flaky:
            async def run(self, ctx: AttemptContext) -> Result:
                calls["n"] += 1
                if calls["n"] == 1 or not fail_first_only:
                    return Result.failure("connect", "refused")
                return Result.success()

        sched, out = make([Job("api", "h", Role.SERVICE, Flaky(), 10, 2, True)], clock,
                          spread=False)
        await run_for(sched, 5)
        assert len(out) == 1
        assert (out[0].ok, out[0].retried) == (ok, True)
        assert calls["n"] == 2
        assert out[0].started_at == EPOCH


class TestConcurrency:
    async def test_bound_delays_starts_and_records_lag(self) -> None:
        clock = LoopClock(EPOCH)
        jobs = [Job("api", f"c{i}", Role.SERVICE,
                    ScriptedCheck(clock, lambda _t: False, delay=lambda _t: 1), 10, 5)
                for i in range(4)]
        sched, out = make(jobs, clock, spread=False, max_concurrency=2)
        await run_for(sched, 5)
        starts = sorted(round(a.started_at - EPOCH, 6) for a in out)
        assert starts == [0, 0, 1, 1]
        assert sorted(round(a.lag, 6) for a in out) == [0, 0, 1, 1]
        assert sched.lag.count == 4
