"""Credit tiers, rounding, caps and claim deadlines, from the contract tables."""

from __future__ import annotations

import functools
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from probe.config import load_config
from probe.contracts.credits import CreditPolicy, Rounding, credit_for
from probe.contracts.month import Month

EXAMPLES = Path(__file__).parents[2] / "config" / "contracts"
NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


@functools.cache
def policy(name: str) -> CreditPolicy | None:
    return load_config(EXAMPLES / f"{name}.yaml").contracts[0].credits


def pct(text: str) -> Fraction:
    return Fraction(text) / 100


class TestDfnsTiers:
    @pytest.mark.parametrize(
        ("uptime", "status", "amount", "capped"),
        [
            ("99.95", "met", "0", False),
            ("99.90", "met", "0", False),
            ("99.5", "missed_no_tier", "0", False),
            ("99.01", "missed_no_tier", "0", False),
            ("99.009", "due", "3", False),
            ("99.00", "due", "3", False),
            ("98.5", "due", "3", False),
            ("98.00", "due", "3", False),
            ("97.995", "due", "5", False),
            ("96.00", "due", "5", False),
            ("95", "due", "7", True),
            ("10", "due", "7", True),
        ],
    )
    def test_signature_uptime_earns_the_tier_of_the_table(
        self, uptime: str, status: str, amount: str, capped: bool
    ) -> None:
        end = Month(2026, 10).bounds(NY)[1]
        credit = credit_for(policy("dfns"), uptime=pct(uptime), target=pct("99.90"),
                            month_end=end, first_incident=None, zone=NY)
        assert (credit.status, credit.amount, credit.capped) == (status, Decimal(amount), capped)
        assert credit.no_tier == (status == "missed_no_tier")

    def test_missed_without_tier_is_said_explicitly(self) -> None:
        end = Month(2026, 10).bounds(NY)[1]
        credit = credit_for(policy("dfns"), uptime=pct("99.5"), target=pct("99.90"),
                            month_end=end, first_incident=None, zone=NY)
        assert "no credit tier applies at 99.50 %" in credit.describe()

    def test_claim_window_is_thirty_days_after_the_month_ends(self) -> None:
        end = Month(2026, 10).bounds(NY)[1]
        credit = credit_for(policy("dfns"), uptime=pct("98.5"), target=pct("99.90"),
                            month_end=end, first_incident=None, zone=NY)
        assert credit.claim_by == "2026-11-30"


class TestSecurEnvoyTiers:
    @pytest.mark.parametrize(
        ("uptime", "days", "capped"),
        [("99.0", None, False), ("98.99", 3, False), ("98", 3, False), ("95.0", 3, False),
         ("94.99", 5, False), ("94", 5, False), ("90.0", 5, False), ("89.99", 10, True),
         ("85", 10, True)],
    )
    def test_uptime_earns_licence_days(self, uptime: str, days: int | None,
                                       capped: bool) -> None:
        credit = credit_for(policy("securenvoy"), uptime=pct(uptime), target=pct("99"),
                            month_end=0, first_incident=0, zone=LONDON)
        if days is None:
            assert credit.status == "met"
        else:
            assert (credit.unit, credit.amount, credit.capped) == ("days", Decimal(days), capped)

    @pytest.mark.parametrize(
        ("uptime", "text"),
        [("94", "5 days of licence (tier [90.0, 95.0); cap 10 days)"),
         ("85", "10 days of licence (tier [0.0, 90.0); cap 10 days reached)")],
    )
    def test_description_names_tier_and_cap(self, uptime: str, text: str) -> None:
        credit = credit_for(policy("securenvoy"), uptime=pct(uptime), target=pct("99"),
                            month_end=0, first_incident=0, zone=LONDON)
        assert credit.describe() == text

    def test_claim_window_runs_from_the_first_affected_window(self) -> None:
        first = 1_791_194_400  # 2026-10-05T10:00:00Z
        credit = credit_for(policy("securenvoy"), uptime=pct("98"), target=pct("99"),
                            month_end=0, first_incident=first, zone=LONDON)
        assert credit.claim_by == "2026-11-04"


class TestNoCreditTerms:
    def test_securosys_miss_says_the_contract_has_no_credits(self) -> None:
        assert policy("securosys") is None
        credit = credit_for(None, uptime=pct("99"), target=pct("99.9"), month_end=0,
                            first_incident=None, zone=ZoneInfo("UTC"))
        assert credit.status == "missed_no_credit_terms"
        assert "no service credits" in credit.describe()


class TestRounding:
    @pytest.mark.parametrize(
        ("mode", "decimals", "value", "expected"),
        [("floor", 2, "97.999", "97.99"), ("half_up", 2, "97.995", "98.00"),
         ("half_even", 2, "97.985", "97.98"), ("floor", 1, "94.99", "94.9")],
    )
    def test_rounds_exactly(self, mode: str, decimals: int, value: str, expected: str) -> None:
        rounding = Rounding(mode=mode, decimals=decimals)
        assert rounding.apply(Fraction(value)) == Decimal(expected)


class TestPolicyValidation:
    @pytest.mark.parametrize(
        ("tiers", "message"),
        [([{"min": 96, "max": 99, "amount": 3}, {"min": 90, "max": 97, "amount": 5}],
          "overlap"),
         ([{"min": 99, "max": 98, "amount": 3}], "must be below")],
    )
    def test_rejects_bad_tables(self, tiers: list[dict[str, float]], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            CreditPolicy.model_validate({"unit": "percent", "tiers": tiers})


class TestCreditProperties:
    @pytest.mark.parametrize(("name", "target"), [("dfns", "99.90"), ("securenvoy", "99")])
    @given(a=st.fractions(0, 1), b=st.fractions(0, 1))
    def test_less_uptime_never_earns_less_and_never_more_than_the_cap(
        self, name: str, target: str, a: Fraction, b: Fraction
    ) -> None:
        p = policy(name)
        assert p is not None
        assert p.cap is not None
        low, high = sorted((a, b))

        def amount(u: Fraction) -> Decimal:
            return credit_for(p, uptime=u, target=pct(target), month_end=0,
                              first_incident=0, zone=LONDON).amount

        assert amount(low) >= amount(high)
        assert amount(low) <= p.cap
