from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from probe.config import parse_config
from probe.contracts.model import ContractConfig
from probe.support.model import (
    CalendarConfig,
    ExtraHoliday,
    HolidaySource,
    SupportTerms,
    TimeLimit,
    parse_hours,
)
from probe.yamlsource import ConfigError
from tests.support.builders import SIMPLE_SUPPORT, example_terms

H = 3600


class TestTimeLimit:
    @pytest.mark.parametrize(("text", "amount", "unit"), [
        ("2h", 2, "hours"),
        ("90m", 1.5, "hours"),
        ("24 hours", 24, "hours"),
        ("1 hour", 1, "hours"),
        ("30 min", 0.5, "hours"),
        ("8 business hours", 8, "business_hours"),
        ("2 support hours", 2, "business_hours"),
        ("1 Business hour", 1, "business_hours"),
        ("1 business day", 1, "business_days"),
        ("3 working days", 3, "business_days"),
        ("30 calendar days", 30, "calendar_days"),
        ("3 days", 3, "calendar_days"),
        ("1 week", 7, "calendar_days"),
        ("2 weeks", 14, "calendar_days"),
    ])
    def test_text_forms(self, text: str, amount: float, unit: str) -> None:
        limit = TimeLimit.model_validate(text)
        assert (limit.amount, limit.unit) == (amount, unit)

    def test_mapping_form_carries_calendar_and_best_effort(self) -> None:
        limit = TimeLimit.model_validate({"within": "8 business hours", "calendar": "office",
                                          "best_effort": True})
        assert (limit.amount, limit.unit, limit.calendar, limit.best_effort) == (
            8, "business_hours", "office", True)
        assert limit.describe() == "8 business hours (best effort)"

    @pytest.mark.parametrize("bad", ["soon", "8 fortnights", "-2h", "0h", "1.5 business days"])
    def test_refuses(self, bad: str) -> None:
        with pytest.raises(ValidationError):
            TimeLimit.model_validate(bad)


class TestParseHours:
    def test_around_the_clock(self) -> None:
        assert parse_hours("24x7") == (((0, 86400),),) * 7

    def test_weekday_ranges_lists_and_several_intervals(self) -> None:
        week = parse_hours({"mon-thu": ["08:00-12:00", "13:00-17:30"], "fri": "08:00-15:00",
                            "sat,sun": []})
        assert week[0] == ((8 * H, 12 * H), (13 * H, 17 * H + 1800))
        assert week[3] == week[0]
        assert week[4] == ((8 * H, 15 * H),)
        assert week[5] == week[6] == ()

    @pytest.mark.parametrize(("hours", "message"), [
        ({"mon-fri": "17:00-09:00"}, "after the open"),
        ({"mon-fri": "09:00-17:00", "fri": "09:00-12:00"}, "given twice"),
        ({"mon-fri": ["09:00-13:00", "12:00-17:00"]}, "overlap"),
        ({"fri-mon": "09:00-17:00"}, "forwards"),
        ({"weekdays": "09:00-17:00"}, "days are mon..sun"),
        ({"mon": "9-17"}, "HH:MM"),
        ({"mon": []}, "no business hours"),
        ("8x5", "24x7 or a mapping"),
    ])
    def test_refuses(self, hours: Any, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            parse_hours(hours)


class TestHolidays:
    def test_zurich_package_list_minus_exclusions(self) -> None:
        source = HolidaySource(country="CH", subdiv="ZH", exclude=["labor day"])
        names = source.for_year(2026)
        assert dt.date(2026, 5, 1) not in names
        assert names[dt.date(2026, 5, 25)] in ("Whit Monday", "Pentecost Monday")
        assert dt.date(2026, 4, 3) in names

    def test_extra_dates_and_annual_days_join_the_package_list(self) -> None:
        cal = CalendarConfig.model_validate({
            "timezone": "Europe/Zurich", "hours": {"mon-fri": "09:00-17:00"},
            "holidays": {"country": "CH", "subdiv": "ZH"},
            "extra_holidays": [{"date": "2026-04-20", "name": "Sechseläuten"},
                               {"annual": "01-02", "name": "Berchtold's Day"}],
        })
        names = cal.holiday_names(2027)
        assert names[dt.date(2027, 1, 2)] == "Berchtold's Day"
        assert dt.date(2026, 4, 20) not in names
        assert cal.holiday_names(2026)[dt.date(2026, 4, 20)] == "Sechseläuten"
        assert not cal.build().is_business_day(dt.date(2026, 4, 20))

    @pytest.mark.parametrize("data", [{"country": "XX"}, {"country": "CH", "subdiv": "QQ"},
                                      {"country": "CH", "categories": ["nonsense"]}])
    def test_unknown_country_subdivision_or_category_is_refused(self, data: Any) -> None:
        with pytest.raises(ValidationError, match="holidays"):
            HolidaySource.model_validate(data)

    @pytest.mark.parametrize("data", [{}, {"date": "2026-01-01", "annual": "01-01"},
                                      {"annual": "13-01"}, {"annual": "1-1"}])
    def test_an_extra_day_is_exactly_one_valid_date_or_month_day(self, data: Any) -> None:
        with pytest.raises(ValidationError):
            ExtraHoliday.model_validate(data)

    def test_a_leap_day_is_kept_only_in_leap_years(self) -> None:
        extra = ExtraHoliday(annual="02-29")
        assert extra.on(2028) == dt.date(2028, 2, 29)
        assert extra.on(2027) is None


def broken(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SIMPLE_SUPPORT)
    for path, value in changes.items():
        target = data
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return data


class TestSupportTermsValidation:
    def test_a_complete_block_is_accepted(self) -> None:
        terms = SupportTerms.model_validate(SIMPLE_SUPPORT)
        assert terms.selected.calendar == "always"
        assert terms.calendar().is_always_open
        assert not terms.calendar("office").is_always_open

    @pytest.mark.parametrize(("data", "message"), [
        (broken(package="platinum"), "package 'platinum' is not one of"),
        (broken(packages__gold__calendar="night"), "unknown calendar 'night'"),
        (broken(packages__gold__response={"P9": "2h"}), "unknown severity 'P9'"),
        (broken(packages__gold__response={"P1": {"within": "2 business hours",
                                                 "calendar": "x"}}), "unknown calendar 'x'"),
        (broken(severity_rules=[{"severity": "P7"}]), "unknown severity 'P7'"),
        (broken(notifications={"incident_notice": {"within": "24h", "severities": ["P0"]}}),
         "unknown severity 'P0'"),
        (broken(notifications={"incident_notice": {"within": "1 business day"}}),
         "business time needs a calendar"),
        (broken(default_severity="P5"), "unknown severity 'P5'"),
        (broken(severities=[{"name": "P1"}, {"name": "P1"}]), "unique"),
        (broken(timezone="Mars/Olympus"), "unknown time zone"),
        (broken(calendars={"office": {"timezone": "Nowhere/City"}}), "unknown time zone"),
        (broken(severity_rules=[{"severity": "P1", "min_down": 0}]), "at least 1"),
        (broken(extra_field=1), "Extra inputs"),
    ])
    def test_refuses_inconsistent_terms(self, data: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            SupportTerms.model_validate(data)

    def test_unknown_services_in_rules_are_reported_for_cross_checks(self) -> None:
        terms = SupportTerms.model_validate(SIMPLE_SUPPORT)
        assert terms.unknown_services(["a"]) == ["b"]
        assert terms.unknown_services(["a", "b"]) == []


class TestSeverityClassification:
    """Contract 001 §6: Show Stopper vs Critical, from which services are down together."""

    COVERED = ("dfns-api", "dfns-signature", "dfns-broadcast")

    @pytest.mark.parametrize(("down", "severity"), [
        ({"dfns-api"}, "Show Stopper"),
        ({"dfns-signature"}, "Critical"),
        ({"dfns-broadcast"}, "Critical"),
        ({"dfns-signature", "dfns-broadcast"}, "Critical"),
        ({"dfns-api", "dfns-signature", "dfns-broadcast"}, "Show Stopper"),
        ({"something-else"}, "Beta"),  # nothing matches: the least severe
    ])
    def test_dfns_rules(self, down: set[str], severity: str) -> None:
        assert example_terms("dfns").classify(frozenset(down), self.COVERED) == severity

    @pytest.mark.parametrize(("down", "severity"), [
        ({"a", "b"}, "P1"),   # min_down: all
        ({"a"}, "P2"),
        ({"b"}, "P2"),
    ])
    def test_how_many_down_together(self, down: set[str], severity: str) -> None:
        terms = SupportTerms.model_validate(SIMPLE_SUPPORT)
        assert terms.classify(frozenset(down), ("a", "b")) == severity

    def test_default_severity_applies_when_no_rule_matches(self) -> None:
        terms = SupportTerms.model_validate(broken(default_severity="P2", severity_rules=[]))
        assert terms.classify(frozenset({"a"}), ("a",)) == "P2"

    def test_rules_without_services_cover_the_contracts_services(self) -> None:
        terms = SupportTerms.model_validate(broken(severity_rules=[
            {"severity": "P1", "min_down": 2}]))
        assert terms.classify(frozenset({"x", "y"}), ("x", "y", "z")) == "P1"
        assert terms.classify(frozenset({"x"}), ("x", "y", "z")) == "P3"


class TestContractSupportField:
    def test_support_is_optional(self) -> None:
        contract = ContractConfig.model_validate(
            {"name": "c", "objectives": [{"service": "s", "target": 99}]})
        assert contract.support is None

    def test_a_config_file_with_support_terms_loads(self) -> None:
        config = parse_config("""
services:
  - name: a
    checks: [{type: http, name: h, url: "http://127.0.0.1:1/"}]
contracts:
  - name: c
    objectives: [{service: a, target: 99.9}]
    support:
      package: p
      calendars: {office: {timezone: Europe/Zurich, hours: {mon-fri: "09:00-17:00"}}}
      severities: [{name: P1}]
      packages: {p: {calendar: office, response: {P1: 8 business hours}}}
""")
        terms = config.contracts[0].support
        assert terms is not None
        assert terms.selected.response["P1"].amount == 8

    def test_config_errors_name_file_line_and_field(self) -> None:
        with pytest.raises(ConfigError) as err:
            parse_config("""
services:
  - name: a
    checks: [{type: http, name: h, url: "http://127.0.0.1:1/"}]
contracts:
  - name: c
    objectives: [{service: a, target: 99.9}]
    support:
      package: p
      calendars: {office: {hours: {mon-fri: "17:00-09:00"}}}
      severities: [{name: P1}]
      packages: {p: {calendar: office}}
""", name="c.yaml")
        assert any(p.startswith("c.yaml:10: contracts[0].support.calendars.office.hours")
                   for p in err.value.problems), err.value.problems
