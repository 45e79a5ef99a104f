"""Issue 15 items 2 and 3: the contract's one credit under its monthly cap, and one overall
objective over several services (Dfns's "Cloud Service"). Figures worked by hand below."""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path

from probe.config import Config, load_config, parse_config
from probe.contracts.accounts import ObjectiveAccount, contract_credits, month_accounts
from probe.contracts.month import Month
from probe.model import Reason, Verdict
from tests.contracts.builders import at, windows
from tests.fakes import MemoryWindows

EXAMPLES = Path(__file__).parents[2] / "config" / "contracts"
ET = "America/New_York"
OCTOBER = Month(2026, 10)
AFTER = at("2026-11-15 00:00", ET)


@functools.cache
def example(name: str) -> Config:
    return load_config(EXAMPLES / f"{name}.yaml")


def by_service(accounts: list[ObjectiveAccount]) -> dict[str, ObjectiveAccount]:
    return {a.service: a for a in accounts}


THREE = """
services:
  - {name: a, checks: [{name: g, type: http, url: "https://a.example.invalid/"}]}
  - {name: b, checks: [{name: g, type: http, url: "https://b.example.invalid/"}]}
  - {name: c, checks: [{name: g, type: http, url: "https://c.example.invalid/"}]}
contracts:
  - name: dfns
    timezone: America/New_York
    objectives:
      - {service: a, target: 99.9}
      - {service: b, target: 99.9}
      - {service: c, target: 99.9}
    credits:
      unit: percent
      rounding: {decimals: 2, mode: floor}
      tiers:
        - {min: 98.00, max: 99.01, amount: 3}
        - {min: 96.00, max: 98.00, amount: 5}
        - {min: 0, max: 96.00, amount: 7}
      cap: 7
      total: {combine: sum, cap: 7, clause: "§4 will not exceed seven percent (7%)"}
"""


class TestContractWideCap:
    def test_three_dfns_services_missing_pay_seven_percent_not_seventeen(self) -> None:
        """Dfns §4 "Service Credits for any month will not exceed seven percent (7%)".
        October 2026 in ET has 31 * 1440 = 44,640 minutes.
        a: 1,000 down -> 1 - 1000/44640 = 97.7599 % -> floor 97.75 -> 96.00-97.99 -> 5 %;
        b: the same, 5 %; c: 2,000 down -> 95.5197 % -> <96,00 % -> 7 %.
        Per objective 5 + 5 + 7 = 17 %; the contract's one credit is min(17, 7) = 7 %."""
        config = parse_config(THREE)
        store = MemoryWindows()
        t = at("2026-10-05 00:00", ET)
        store.write_verdicts(windows("dfns", "a", t, 1000, Verdict.DOWN)
                             + windows("dfns", "b", t, 1000, Verdict.DOWN)
                             + windows("dfns", "c", t, 2000, Verdict.DOWN))
        accounts = month_accounts(config, store, OCTOBER, AFTER)
        assert [a.credit.amount for a in accounts] == [5, 5, 7]
        [total] = contract_credits(config, accounts)
        assert (total.combined, total.amount, total.capped) == (17, 7, True)
        assert total.unit == "percent"
        assert "capped at 7%" in total.describe()

    def test_securenvoy_two_portals_pay_ten_days_not_fifteen(self) -> None:
        """SecurEnvoy "maximum service credit of 10 days in any single calendar month";
        requests method, eligible denominator, 100 windows of 10 requests each.
        admin: 80 failed of 1,000 -> 92.0 % -> "<95.0% - <90.0%" -> 5 days;
        auth: 150 failed of 1,000 -> 85.0 % -> "<90.0%" -> 10 days.
        Sum 15 days, capped at 10."""
        config = example("securenvoy")
        store = MemoryWindows()
        t = at("2026-10-05 00:00", "Europe/London")
        store.write_verdicts(
            windows("securenvoy", "securenvoy-admin-portal", t, 80, Verdict.UP, attempts=10,
                    failures=1)
            + windows("securenvoy", "securenvoy-admin-portal", t + 80 * 60, 20, Verdict.UP,
                      attempts=10, failures=0)
            + windows("securenvoy", "securenvoy-auth-portal", t, 50, Verdict.UP,
                      attempts=10, failures=3)
            + windows("securenvoy", "securenvoy-auth-portal", t + 50 * 60, 50, Verdict.UP,
                      attempts=10, failures=0))
        accounts = month_accounts(config, store, OCTOBER, at("2026-11-15 00:00"))
        assert [(a.uptime_percent, a.credit.amount) for a in accounts] == [
            (92.0, 5), (85.0, 10)]
        [total] = contract_credits(config, accounts)
        assert (total.combined, total.amount, total.capped, total.unit) == (
            15, 10, True, "days")


class TestOverallObjective:
    """Dfns §1 "make the Cloud Service available with an uptime of at least 99.90%",
    §2 "time, in minutes, that Users can connect to the Cloud Service"; dfns.yaml encodes the
    Cloud Service as down when any of the three services is down, credited, with the
    per-service targets beside it, not credited."""

    def scenario(self) -> MemoryWindows:
        store = MemoryWindows()
        store.write_verdicts(
            windows("dfns", "dfns-api", at("2026-10-05 00:00", ET), 300, Verdict.DOWN)
            + windows("dfns", "dfns-signature", at("2026-10-05 03:00", ET), 240, Verdict.DOWN)
            + windows("dfns", "dfns-broadcast", at("2026-10-06 00:00", ET), 60, Verdict.DOWN))
        return store

    def test_cloud_service_is_the_union(self) -> None:
        """api down 00:00-05:00 (300), signature 03:00-07:00 (240), overlap 120, broadcast
        down 60 min another day. Cloud Service down = 300 + 240 - 120 + 60 = 480 min;
        uptime 1 - 480/44640 = 98.9247 % -> floor 98.92 -> "98,00% - 99,00%" -> 3 %.
        Per service: api 99.3280 %, signature 99.4624 %, broadcast 99.8656 %: each misses,
        each in the table's gap (no tier) and none credited. Contract total 3 %."""
        config = example("dfns")
        accounts = month_accounts(config, self.scenario(), OCTOBER, AFTER)
        acc = by_service(accounts)
        cloud = acc["dfns-cloud-service"]
        assert cloud.down_minutes == 480
        assert round(cloud.uptime_percent, 4) == 98.9247
        assert (cloud.credit.status, cloud.credit.amount) == ("due", Decimal(3))
        assert cloud.components == ("dfns-api", "dfns-signature", "dfns-broadcast")
        assert [round(acc[s].uptime_percent, 4) for s in
                ("dfns-api", "dfns-signature", "dfns-broadcast")] == [99.3280, 99.4624, 99.8656]
        assert not any(acc[s].credited for s in ("dfns-api", "dfns-signature",
                                                 "dfns-broadcast"))
        [total] = contract_credits(config, accounts)
        assert (total.amount, total.parts) == (3, (("dfns-cloud-service", Decimal(3)),))

    def test_all_reading_counts_only_common_minutes(self) -> None:
        """Under `down_when: all` the Cloud Service is down only when all three are: never
        here, so 0 down minutes and 100 %."""
        base = example("dfns")
        contract = base.contracts[0]
        objectives = [o.model_copy(update={"down_when": "all"}) if o.of else o
                      for o in contract.objectives]
        config = base.model_copy(update={"contracts": [
            contract.model_copy(update={"objectives": objectives})]})
        acc = by_service(month_accounts(config, self.scenario(), OCTOBER, AFTER))
        assert acc["dfns-cloud-service"].down_minutes == 0

    def test_excluded_part_excludes_the_whole(self) -> None:
        """A broadcast window excluded (dependency) while the others are up: the Cloud
        Service window is excluded, not up: 60 excluded minutes, 0 down."""
        store = MemoryWindows()
        store.write_verdicts(windows("dfns", "dfns-broadcast", at("2026-10-06 00:00", ET), 60,
                                     Verdict.EXCLUDED, Reason.DEPENDENCY))
        acc = by_service(month_accounts(example("dfns"), store, OCTOBER, AFTER))
        assert acc["dfns-cloud-service"].excluded_minutes == {"dependency": 60}
        assert acc["dfns-cloud-service"].down_minutes == 0
