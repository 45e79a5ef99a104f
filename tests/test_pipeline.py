"""The whole pipeline on simulated time: scheduler → ledger → decider, window by window."""

from __future__ import annotations

import asyncio
import random
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from probe.clock import LoopClock
from probe.config import Config, parse_config
from probe.model import Reason, Role, Verdict
from probe.pipeline import AttemptWriter, Decider
from probe.scheduler import Job, Scheduler
from probe.store import Ledger, LedgerWorker
from tests.fakes import ScriptedCheck, between

pytestmark = pytest.mark.looptime

EPOCH = 1_800_000_000.0  # a multiple of 60: window k is [EPOCH + 60k, EPOCH + 60(k+1))
W = 60.0


def config(state_dir: Path, window: int = 60, interval: str = "10s",
           timeout: str = "2s") -> Config:
    return parse_config(textwrap.dedent(f"""\
        probe: {{state_dir: {state_dir}, grace: 1s}}
        services:
          - name: api
            checks: [{{name: h, type: http, url: "http://unused/", interval: {interval},
                      timeout: {timeout}}}]
        controls:
          - {{name: reach, type: http, url: "http://unused/", interval: {interval},
             timeout: {timeout}}}
        contracts:
          - {{name: all, window: {window}s, down_rule: all, objectives: [{{service: api, target: 99.9}}]}}
          - {{name: any, window: {window}s, down_rule: any, objectives: [{{service: api, target: 99.9}}]}}
        """))


class Pipeline:
    """The daemon's data path without the listener, on a LoopClock."""

    def __init__(self, cfg: Config, clock: LoopClock, service_failing: Callable[[float], bool],
                 control_failing: Callable[[float], bool] = lambda _t: False, *,
                 early: bool = False, delay: Callable[[float], float] = lambda _t: 0.0,
                 ) -> None:
        self.ledger = Ledger(cfg.probe.state_dir)
        self.worker = LedgerWorker(self.ledger)
        self.writer = AttemptWriter(self.worker, clock)
        jobs = [Job("api", "h", Role.SERVICE, ScriptedCheck(clock, service_failing, delay),
                    10, 2),
                Job("_controls", "reach", Role.CONTROL, ScriptedCheck(clock, control_failing),
                    10, 2)]
        self.scheduler = Scheduler(jobs, clock, self.writer.put, jitter=0.05,
                                   rng=random.Random(7))
        self.decider = Decider(cfg, self.worker, self.writer, clock,
                               inflight_oldest=self.scheduler.oldest_inflight if early else None)
        self.stop = asyncio.Event()

    async def run_for(self, seconds: float) -> None:
        await self.decider.start()
        await self.decider.decide_ready()
        tasks = [asyncio.create_task(self.scheduler.run()),
                 asyncio.create_task(self.writer.run(self.stop)),
                 asyncio.create_task(self.decider.run(self.stop))]
        await asyncio.sleep(seconds)
        self.scheduler.stop()
        await self.scheduler.drain(5)
        self.stop.set()
        await asyncio.gather(*tasks)
        await self.decider.decide_ready(final=True)
        self.worker.close()

    @staticmethod
    def verdicts(state_dir: Path, contract: str) -> list[tuple[int, str, str]]:
        reader = Ledger.reader(state_dir)
        try:
            rows = reader.windows(contract, 0, 2**40)
        finally:
            reader.close()
        return [(int((v.window_start - EPOCH) // W), v.verdict.value, v.reason.value)
                for v in rows]


class TestWholeWindows:
    async def test_two_aligned_failing_windows_are_exactly_two_down(
        self, state_dir: Path
    ) -> None:
        clock = LoopClock(EPOCH)
        failing = between((EPOCH + 120, EPOCH + 240))
        await Pipeline(config(state_dir), clock, failing).run_for(6 * W)
        got = Pipeline.verdicts(state_dir, "all")
        assert [k for k, verdict, _ in got if verdict == "down"] == [2, 3]
        assert [k for k, verdict, _ in got if verdict == "up"] == [0, 1, 4, 5]


class TestPartialWindows:
    async def test_partial_failure_is_up_under_all_and_down_under_any(
        self, state_dir: Path
    ) -> None:
        clock = LoopClock(EPOCH)
        failing = between((EPOCH + 120, EPOCH + 150))  # first half of window 2
        await Pipeline(config(state_dir), clock, failing).run_for(4 * W)
        assert {k: v for k, v, _ in Pipeline.verdicts(state_dir, "all")}[2] == "up"
        assert {k: v for k, v, _ in Pipeline.verdicts(state_dir, "any")}[2] == "down"


class TestVantage:
    async def test_failing_controls_exclude_instead_of_down(self, state_dir: Path) -> None:
        clock = LoopClock(EPOCH)
        outage = between((EPOCH + 60, EPOCH + 120))
        await Pipeline(config(state_dir), clock, outage, control_failing=outage).run_for(3 * W)
        assert (1, "excluded", "vantage") in Pipeline.verdicts(state_dir, "all")


class TestGaps:
    async def test_windows_while_stopped_are_no_data_and_decided_windows_stay(
        self, state_dir: Path
    ) -> None:
        clock = LoopClock(EPOCH)
        cfg = config(state_dir)
        await Pipeline(cfg, clock, lambda _t: False).run_for(3 * W)
        before = Pipeline.verdicts(state_dir, "all")
        assert before == [(0, "up", ""), (1, "up", ""), (2, "up", "")]
        await asyncio.sleep(5 * W)  # the daemon is not running for windows 3..7
        await Pipeline(cfg, clock, lambda _t: False).run_for(3 * W)
        after = Pipeline.verdicts(state_dir, "all")
        assert after[:3] == before
        assert [(k, v) for k, v, _ in after[3:]] == [
            (3, "no_data"), (4, "no_data"), (5, "no_data"), (6, "no_data"), (7, "no_data"),
            (8, "up"), (9, "up"), (10, "up"),
        ]


class TestShortWindows:
    @pytest.mark.parametrize("window", [1, 7, 30])
    async def test_any_whole_number_of_seconds_is_a_window(
        self, state_dir: Path, window: int
    ) -> None:
        clock = LoopClock(EPOCH)
        # an interval longer than the window is refused (issue 13): probe once per window
        cfg = config(state_dir, window, interval=f"{min(window, 10)}s", timeout="500ms")
        await Pipeline(cfg, clock, lambda _t: False).run_for(60)
        reader = Ledger.reader(state_dir)
        rows = reader.windows("all", 0, 2**40)
        reader.close()
        starts = [v.window_start for v in rows]
        assert all(s % window == 0 for s in starts)
        assert starts == sorted(set(starts))
        assert {v.verdict for v in rows} <= {Verdict.UP, Verdict.NO_DATA}
        assert all(v.reason == Reason.NONE for v in rows)


class TestEarlyDecision:
    async def test_deciding_when_attempts_are_in_gives_the_same_verdicts_sooner(
        self, tmp_path: Path
    ) -> None:
        """With the scheduler's view of attempts in flight, windows are decided right after
        their last attempt ends, not timeout + grace after the window: same verdicts."""
        failing = between((EPOCH + 60, EPOCH + 120), (EPOCH + 180, EPOCH + 200))
        slow = between((EPOCH + 170, EPOCH + 240))  # answers that take 1.5 s (timeout 2 s)
        results = {}
        for early in (False, True):
            state = tmp_path / str(early)
            state.mkdir()
            cfg = config(state)
            await Pipeline(cfg, LoopClock(EPOCH), failing, early=early,
                           delay=lambda t: 1.5 if slow(t) else 0.0).run_for(5 * W)
            reader = Ledger.reader(state)
            try:
                results[early] = {v.window_start: v for v in reader.windows("any", 0, 2**40)}
            finally:
                reader.close()
        settled, early = results[False], results[True]
        assert {w: (v.verdict, v.attempts, v.failures) for w, v in early.items()} == \
            {w: (v.verdict, v.attempts, v.failures) for w, v in settled.items()}
        assert early[EPOCH + 180].verdict == Verdict.DOWN
        for w, v in early.items():
            if w + W <= EPOCH + 4 * W:  # decided by the running decider, not at the stop
                assert v.decided_at - (w + W) < 1.6  # at most the slow attempt's 1.5 s
                assert settled[w].decided_at - (w + W) >= 3.0  # timeout 2 s + grace 1 s
