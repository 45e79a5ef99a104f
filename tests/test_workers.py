"""probe/workers: the split of checks over workers, and lost attempts in a window."""

from __future__ import annotations

import os

import pytest

from probe.config import Config, parse_config
from probe.contracts.rules import parse_down_rule
from probe.model import LOST, Attempt, Role, Verdict
from probe.verdicts import decide
from probe.workers import main_part, worker_count
from probe.workers.split import worker_part
from tests.test_shard import CONFIG


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG)


def _keys(config: Config) -> list[str]:
    return [f"{s.name}/{c.name}" for s in config.services for c in s.checks]


class TestSplit:
    def test_every_check_in_exactly_one_worker_and_no_controls(self, config: Config) -> None:
        parts = [worker_part(config, i, 3) for i in range(3)]
        keys = [k for part in parts for k in _keys(part)]
        assert sorted(keys) == sorted(_keys(config))
        assert all(part.controls == [] for part in parts)
        assert all(part.contracts == config.contracts for part in parts)

    def test_the_main_process_keeps_only_the_controls(self, config: Config) -> None:
        main = main_part(config)
        assert main.services == []
        assert [c.name for c in main.controls] == ["reach"]

    def test_workers_setting(self) -> None:
        auto = parse_config(CONFIG.replace("probe: {vantage: t}",
                                           "probe: {vantage: t, workers: auto}"))
        assert worker_count(auto) == len(os.sched_getaffinity(0))
        two = parse_config(CONFIG.replace("probe: {vantage: t}",
                                          "probe: {vantage: t, workers: 2}"))
        assert worker_count(two) == 2

    @pytest.mark.parametrize("value", ["0", "many", "257"])
    def test_bad_workers_setting_is_refused(self, value: str) -> None:
        with pytest.raises(Exception, match="workers"):
            parse_config(CONFIG.replace("probe: {vantage: t}",
                                        f"probe: {{vantage: t, workers: {value}}}"))


def _attempt(ok: bool, failure: str | None = None) -> Attempt:
    return Attempt(started_at=10.0, service="api", check="h", role=Role.SERVICE, ok=ok,
                   failure_class=failure, latency=0.1)


class TestLost:
    def _decide(self, *attempts: Attempt) -> tuple[Verdict, int, tuple[str, ...]]:
        verdict = decide(contract="c", service="api", start=0, window_seconds=60,
                         rule=parse_down_rule("any"), service_attempts=attempts)
        return verdict.verdict, verdict.failures, verdict.failure_classes

    def test_only_lost_is_no_data_never_up(self) -> None:
        assert self._decide(_attempt(False, LOST)) == (Verdict.NO_DATA, 1, (LOST,))

    def test_lost_beside_measured_shows_and_is_not_held_against_the_vendor(self) -> None:
        assert self._decide(_attempt(True), _attempt(False, LOST)) == (Verdict.UP, 1, (LOST,))

    def test_a_real_failure_still_counts(self) -> None:
        verdict, _, classes = self._decide(_attempt(False, "timeout"), _attempt(False, LOST))
        assert verdict == Verdict.DOWN
        assert classes == (LOST, "timeout")
