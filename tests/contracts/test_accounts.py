"""Month figures per objective: golden values from the contract texts, policies, methods."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from probe.config import Config, parse_config
from probe.contracts.accounts import ObjectiveAccount, month_accounts
from probe.contracts.exclusions import apply_exclusions
from probe.contracts.month import Month
from probe.model import Reason, Verdict
from tests.contracts.builders import at, config_with, windows
from tests.fakes import MemoryWindows

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


def config(zone: str = "UTC", denominator: str = "calendar", no_data: str = "exclude") -> Config:
    return config_with(CONTRACT.format(zone=zone, denominator=denominator, no_data=no_data))


def api(accounts: list[ObjectiveAccount]) -> ObjectiveAccount:
    return next(a for a in accounts if a.service == "api")


class TestMinutesGolden:
    @pytest.mark.parametrize(
        ("down", "percent", "met"),
        [(44, 99.9014, True), (45, 99.8992, False), (0, 100.0, True)],
    )
    def test_thirty_one_day_month(self, ledger: MemoryWindows, down: int, percent: float,
                                  met: bool) -> None:
        ledger.write_verdicts(windows("c", "api", at("2026-10-05 10:00"), down, Verdict.DOWN))
        acc = api(month_accounts(config(), ledger, Month(2026, 10), AFTER))
        assert acc.minutes_in_month == 44640
        assert round(acc.uptime_percent, 4) == percent
        assert acc.met is met
        assert acc.uptime == 1 - Fraction(down, 44640)

    @pytest.mark.parametrize(
        ("zone", "month", "minutes"),
        [("America/New_York", Month(2026, 11), 43260), ("America/New_York", Month(2026, 3),
                                                        44580),
         ("UTC", Month(2028, 2), 41760), ("Europe/Zurich", Month(2027, 2), 40320)],
    )
    def test_minutes_in_month_follow_the_contract_zone(
        self, ledger: MemoryWindows, zone: str, month: Month, minutes: int
    ) -> None:
        acc = api(month_accounts(config(zone), ledger, month, AFTER))
        assert acc.minutes_in_month == minutes
        assert acc.no_data_minutes == minutes

    def test_budget_remaining_is_the_allowance_left(self, ledger: MemoryWindows) -> None:
        ledger.write_verdicts(windows("c", "api", at("2026-10-05 10:00"), 40, Verdict.DOWN))
        acc = api(month_accounts(config(), ledger, Month(2026, 10), AFTER))
        assert acc.budget_remaining_minutes == pytest.approx(44.64 - 40)


class TestPolicies:
    def _fill(self, ledger: MemoryWindows) -> None:
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
        self, ledger: MemoryWindows, denominator: str, no_data: str, downtime: float,
        denominator_minutes: float,
    ) -> None:
        self._fill(ledger)
        acc = api(month_accounts(config("UTC", denominator, no_data), ledger, Month(2026, 10),
                                 AFTER))
        assert acc.excluded_minutes == {"maintenance": 600, "vantage": 30}
        # only 700 windows were decided: the other 43,940 ended unmeasured
        assert acc.no_data_minutes == 44640 - 700 + 10
        assert acc.downtime_minutes == downtime
        assert acc.denominator_minutes == denominator_minutes


class TestRequests:
    @pytest.mark.parametrize(
        ("denominator", "requests", "uptime"),
        [("eligible", 600, Fraction(590, 600)), ("calendar", 660, Fraction(650, 660))],
    )
    def test_failed_requests_over_requests(self, ledger: MemoryWindows, denominator: str,
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
    def test_current_month_is_provisional_with_pending_minutes(self, ledger: MemoryWindows) -> None:
        now = at("2026-10-11 00:00") + 30
        ledger.write_verdicts(windows("c", "api", at("2026-10-10 23:00"), 60, Verdict.UP))
        acc = api(month_accounts(config(), ledger, Month(2026, 10), now))
        assert acc.status == "provisional"
        assert acc.pending_minutes == 21 * 1440
        assert acc.no_data_minutes == 10 * 1440 - 60

    def test_support_only_contract_has_no_account(self, ledger: MemoryWindows) -> None:
        cfg = config_with("- {name: support, objectives: []}")
        assert month_accounts(cfg, ledger, Month(2026, 10), AFTER) == []


class TestMaintenanceInTheMonth:
    """Entries judged by the example contracts' rules, end to end: decided, then accounted."""

    @pytest.mark.parametrize(
        ("file", "entries", "down", "maintenance", "invalid"),
        [
            # Securosys: 7 weeks' notice -> invalid, every minute counts
            ("securosys", [("2026-10-10T20:00:00Z", 4, "2026-08-22T20:00:00Z")], 240, 0, 1),
            # Securosys: 9 h -> 8 h excluded, the 9th counts
            ("securosys", [("2026-10-10T20:00:00Z", 9, "2026-08-01T00:00:00Z")], 60, 480, 1),
            # Securosys: a second intervention within 6 months counts entirely
            ("securosys", [("2026-06-10T20:00:00Z", 2, "2026-04-01T00:00:00Z"),
                           ("2026-10-10T20:00:00Z", 2, "2026-08-01T00:00:00Z")], 120, 0, 1),
            # Dfns: two 2 h windows in a month -> 3 h excluded, 1 h counts
            ("dfns", [("2026-10-06T05:00:00Z", 2, "2026-09-01T00:00:00Z"),
                      ("2026-10-20T05:00:00Z", 2, "2026-09-01T00:00:00Z")], 60, 180, 1),
            # Dfns: at 14:00 ET only warns (commercially reasonable efforts)
            ("dfns", [("2026-10-06T18:00:00Z", 1, "2026-09-01T00:00:00Z")], 0, 60, 0),
        ],
    )
    def test_down_minutes_in_maintenance(
        self, ledger: MemoryWindows, file: str, entries: list[tuple[str, float, str]], down: int,
        maintenance: int, invalid: int,
    ) -> None:
        path = Path(__file__).parents[2] / "config" / "contracts" / f"{file}.yaml"
        service = {"securosys": "securosys-hsmaas-signing", "dfns": "dfns-api"}[file]
        lines = ["maintenance:"]
        verdicts = []
        for i, (start, hours, announced) in enumerate(entries):
            begin = datetime.fromisoformat(start)
            end = begin + timedelta(hours=hours)
            lines.append(f"  - {{contract: {file}, start: '{start}', end: '{end.isoformat()}', "
                         f"announced_at: '{announced}', reference: mw{i}}}")
            verdicts += windows(file, service, int(begin.timestamp()), int(hours * 60),
                                Verdict.DOWN)
        config = parse_config(path.read_text() + "\n".join(lines) + "\n")
        ledger.write_verdicts([apply_exclusions(config, v) for v in verdicts])
        month = Month(2026, 10)
        [acc] = [a for a in month_accounts(config, ledger, month, AFTER) if a.service == service]
        assert acc.down_minutes == down
        assert acc.excluded_minutes.get("maintenance", 0) == maintenance
        assert acc.invalid_maintenance == invalid
