"""Window decisions: every down rule, vantage and dependency exclusion, no_data."""

from __future__ import annotations

import pytest

from probe.contracts.rules import parse_down_rule
from probe.model import Attempt, Reason, Role, Verdict
from probe.verdicts import decide, window_start


def att(ok: bool, check: str = "health", role: Role = Role.SERVICE, t: float = 60.0,
        service: str = "api") -> Attempt:
    return Attempt(t, service, check, role, ok, None if ok else "timeout", 0.1)


def run(rule: str, oks: list[bool], controls: list[bool] | None = None,
        deps: list[bool] | None = None):
    return decide(
        contract="c", service="api", start=60, window_seconds=60,
        rule=parse_down_rule(rule),
        service_attempts=[att(o) for o in oks],
        control_attempts=[att(o, "reach", Role.CONTROL, service="_controls")
                          for o in controls or []],
        dependency_attempts=[att(o, "node", Role.DEPENDENCY) for o in deps or []],
    )


class TestDownRules:
    @pytest.mark.parametrize(
        ("rule", "oks", "verdict"),
        [
            ("all", [False] * 6, Verdict.DOWN),
            ("all", [False] * 5 + [True], Verdict.UP),
            ("all", [True] * 6, Verdict.UP),
            ("any", [False] + [True] * 5, Verdict.DOWN),
            ("any", [True] * 6, Verdict.UP),
            ("ratio>=0.5", [False, False, False, True, True, True], Verdict.DOWN),
            ("ratio>=0.5", [False, False, True, True, True, True], Verdict.UP),
            ("ratio>0.5", [False, False, False, True, True, True], Verdict.UP),
            ("ratio>0.5", [False, False, False, False, True, True], Verdict.DOWN),
        ],
    )
    def test_rule_decides_the_window(self, rule: str, oks: list[bool], verdict: Verdict) -> None:
        assert run(rule, oks).verdict == verdict

    def test_counts_and_classes_are_recorded(self) -> None:
        v = run("any", [False, True, False])
        assert (v.attempts, v.failures, v.failure_classes) == (3, 2, ("timeout",))

    @pytest.mark.parametrize("bad", ["some", "ratio>=2", "ratio=0.5", ""])
    def test_unknown_rules_are_refused(self, bad: str) -> None:
        with pytest.raises(ValueError):
            parse_down_rule(bad)


class TestNoData:
    def test_nothing_measured_is_no_data_never_up(self) -> None:
        v = run("all", [])
        assert v.verdict == Verdict.NO_DATA
        assert v.attempts == 0


class TestVantageExclusion:
    def test_all_controls_failing_excludes_the_window(self) -> None:
        v = run("all", [False] * 6, controls=[False, False])
        assert (v.verdict, v.reason) == (Verdict.EXCLUDED, Reason.VANTAGE)

    def test_one_control_succeeding_keeps_the_vendor_accountable(self) -> None:
        assert run("all", [False] * 6, controls=[False, True]).verdict == Verdict.DOWN


class TestDependencyExclusion:
    def test_failed_dependencies_excuse_a_down_window(self) -> None:
        v = run("all", [False] * 3, deps=[False, False])
        assert (v.verdict, v.reason) == (Verdict.EXCLUDED, Reason.DEPENDENCY)

    def test_healthy_dependency_leaves_the_window_down(self) -> None:
        assert run("all", [False] * 3, deps=[True, False]).verdict == Verdict.DOWN


class TestPerCheckRule:
    def test_one_fully_failing_check_makes_the_service_down(self) -> None:
        attempts = [att(True, "status"), att(True, "status"), att(False, "sign"),
                    att(False, "sign")]
        v = decide(contract="c", service="api", start=60, window_seconds=60,
                   rule=parse_down_rule("all"), service_attempts=attempts)
        assert v.verdict == Verdict.DOWN


class TestWindowStart:
    @pytest.mark.parametrize(("t", "w", "start"), [(0, 60, 0), (59.999, 60, 0), (60, 60, 60),
                                                   (125.5, 5, 125), (1e9 + 7, 7, 1_000_000_001)])
    def test_aligned_to_the_epoch(self, t: float, w: int, start: int) -> None:
        assert window_start(t, w) == start
