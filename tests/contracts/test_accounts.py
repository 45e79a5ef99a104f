"""Month figures per objective: golden values from the contract texts, policies, methods."""

from __future__ import annotations

from fractions import Fraction

import pytest

from probe.contracts.month import Month
from probe.ledger import Ledger
from probe.model import Reason, Verdict
from probe.report import month_accounts
from tests.contracts.builders import at, config_with, windows

CONTRACT = """
- name: c
  timezone: {zone}
  denominator: {denominator}
  no_data: {no_data}
  objectives:
    - {{service: api, target: 99.9}}
    - {{service: sign, target: 99, method: requests}}
"""
AFTER = at("2030-01-01 00:00")


def config(zone: str = "UTC", denominator: str = "calendar", no_data: str = "exclude"):  # type: ignore[no-untyped-def]
    return config_with(CONTRACT.format(zone=zone, denominator=denominator, no_data=no_data))


def api(accounts: list) -> object:  # type: ignore[type-arg]
    return next(a for a in accounts if a.service == "api")


class TestMinutesGolden:
    @pytest.mark.parametrize(
        ("down", "percent", "met"),
        [(44, 99.9014, True), (45, 99.8992, False), (0, 100.0, True)],
    )
    def test_thirty_one_day_month(self, ledger: Ledger, down: int, percent: float,
                                  met: bool) -> None:
        ledger.write_verdicts(windows("c", "api", at("2026-10-05 10:00"), down, Verdict.DOWN))
        acc = api(month_accounts(config(), ledger, Month(2026, 10), AFTER))
        assert acc.minutes_in_month == 44640  # type: ignore[attr-defined]
        assert round(acc.uptime_percent, 4) == percent  # type: ignore[attr-defined]
        assert acc.met is met  # type: ignore[attr-defined]
        assert acc.uptime == 1 - Fraction(down, 44640)  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("zone", "month", "minutes"),
        [("America/New_York", Month(2026, 11), 43260), ("America/New_York", Month(2026, 3),
                                                        44580),
         ("UTC", Month(2028, 2), 41760), ("Europe/Zurich", Month(2027, 2), 40320)],
    )
    def test_minutes_in_month_follow_the_contract_zone(
        self, ledger: Ledger, zone: str, month: Month, minutes: int
    ) -> None:
        acc = api(month_accounts(config(zone), ledger, month, AFTER))
        assert acc.minutes_in_month == minutes  # type: ignore[attr-defined]
        assert acc.no_data_minutes == minutes  # type: ignore[attr-defined]

    def test_budget_remaining_is_the_allowance_left(self, ledger: Ledger) -> None:
        ledger.write_verdicts(windows("c", "api", at("2026-10-05 10:00"), 40, Verdict.DOWN))
        acc = api(month_accounts(config(), ledger, Month(2026, 10), AFTER))
        assert acc.budget_remaining_minutes == pytest.approx(44.64 - 40)  # type: ignore[attr-defined]


class TestPolicies:
    def _fill(self, ledger: Ledger) -> None:
        start = at("2026-10-05 10:00")
        ledger.write_verdicts(
            windows("c", "api", start, 60, Verdict.DOWN)
            + windows("c", "api", start + 3600, 600, Verdict.EXCLUDED, Reason.MAINTENANCE)
            + windows("c", "api", start + 40000, 30, Verdict.EXCLUDED, Reason.VANTAGE)
            + windows("c", "api", start + 50000, 10, Verdict.NO_DATA, attempts=0)
        )

    @pytest.mark.parametrize(
        ("denominator", "no_data", "downtime", "denominator_minutes"),
        [
            ("calendar", "exclude", 60, 44640),
            ("calendar", "up", 60, 44640),
            ("eligible", "exclude", 60, 700 - 630 - 10),
            ("eligible", "up", 60, 44640 - 630),
            ("eligible", "down", 60 + 44640 - 700 + 10, 44640 - 630),
        ],
    )
    def test_denominator_and_no_data_policy(
        self, ledger: Ledger, denominator: str, no_data: str, downtime: float,
        denominator_minutes: float,
    ) -> None:
        self._fill(ledger)
        acc = api(month_accounts(config("UTC", denominator, no_data), ledger, Month(2026, 10),
                                 AFTER))
        assert acc.excluded_minutes == {"maintenance": 600, "vantage": 30}  # type: ignore[attr-defined]
        # only 700 windows were decided: the other 43,940 ended unmeasured
        assert acc.no_data_minutes == 44640 - 700 + 10  # type: ignore[attr-defined]
        assert acc.downtime_minutes == downtime  # type: ignore[attr-defined]
        assert acc.denominator_minutes == denominator_minutes  # type: ignore[attr-defined]


class TestRequests:
    @pytest.mark.parametrize(
        ("denominator", "requests", "uptime"),
        [("eligible", 600, Fraction(590, 600)), ("calendar", 660, Fraction(650, 660))],
    )
    def test_failed_requests_over_requests(self, ledger: Ledger, denominator: str,
                                           requests: int, uptime: Fraction) -> None:
        start = at("2026-10-05 10:00")
        ledger.write_verdicts(
            windows("c", "sign", start, 90, Verdict.UP)
            + windows("c", "sign", start + 6000, 10, Verdict.UP, failures=1)
            + windows("c", "sign", start + 9000, 10, Verdict.EXCLUDED, Reason.DEPENDENCY,
                      failures=6)
        )
        [acc] = [a for a in month_accounts(config("UTC", denominator), ledger,
                                           Month(2026, 10), AFTER) if a.service == "sign"]
        assert (acc.requests, acc.failed_requests, acc.uptime) == (requests, 10, uptime)
        assert acc.met is False
        assert acc.credit.status == "missed_no_credit_terms"


class TestProvisional:
    def test_current_month_is_provisional_with_pending_minutes(self, ledger: Ledger) -> None:
        now = at("2026-10-11 00:00") + 30
        ledger.write_verdicts(windows("c", "api", at("2026-10-10 23:00"), 60, Verdict.UP))
        acc = api(month_accounts(config(), ledger, Month(2026, 10), now))
        assert acc.status == "provisional"  # type: ignore[attr-defined]
        assert acc.pending_minutes == 21 * 1440  # type: ignore[attr-defined]
        assert acc.no_data_minutes == 10 * 1440 - 60  # type: ignore[attr-defined]

    def test_support_only_contract_has_no_account(self, ledger: Ledger) -> None:
        cfg = config_with("- {name: support, objectives: []}")
        assert month_accounts(cfg, ledger, Month(2026, 10), AFTER) == []
