from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.support.calendar import (
    BusinessCalendar,
    CalendarError,
    add_calendar_days,
    parse_clock,
)
from probe.support.model import CalendarConfig
from tests.support.builders import LONDON, SAO_PAULO, ZURICH, at, local

H = 3600


def zurich_office() -> BusinessCalendar:
    """Securosys Office Hours (contract 000 §2.8), with the Zurich holidays."""
    return CalendarConfig.model_validate({
        "timezone": "Europe/Zurich", "hours": {"mon-fri": "09:00-17:00"},
        "holidays": {"country": "CH", "subdiv": "ZH", "exclude": ["Labor Day"]},
        "extra_holidays": [{"annual": "01-02"}, {"date": "2026-04-20", "name": "Sechseläuten"},
                           {"date": "2026-09-14", "name": "Knabenschiessen"}],
    }).build()


def sao_paulo_business() -> BusinessCalendar:
    """senhasegura business hours (contract 003 §4)."""
    return CalendarConfig.model_validate({
        "timezone": "America/Sao_Paulo", "hours": {"mon-fri": "09:00-19:00"},
        "holidays": {"country": "BR", "subdiv": "SP"},
    }).build()


def london_office() -> BusinessCalendar:
    return CalendarConfig.model_validate({
        "timezone": "Europe/London", "hours": {"mon-fri": "09:00-17:00"},
        "holidays": {"country": "GB", "subdiv": "ENG"},
    }).build()


def lunch_break() -> BusinessCalendar:
    return BusinessCalendar("Europe/Zurich", [((8 * H, 12 * H), (13 * H, 17 * H))] * 5 + [()] * 2)


def short_friday() -> BusinessCalendar:
    return BusinessCalendar("Europe/London", [((9 * H, 17 * H + 1800),)] * 4
                            + [((9 * H, 15 * H),), (), ()])


CALENDARS = {
    "zurich": zurich_office,
    "sao_paulo": sao_paulo_business,
    "london": london_office,
    "lunch": lunch_break,
    "short_friday": short_friday,
    "always": lambda: BusinessCalendar.always("Europe/Zurich"),
}


class TestAddBusinessHours:
    @pytest.mark.parametrize(("calendar", "zone", "start", "hours", "expected"), [
        # contract 000, SBX P1 (8 h, 8x5 CET 09-17): Friday 16:30 -> Monday 16:30
        ("zurich", ZURICH, (2026, 6, 5, 16, 30), 8, (2026, 6, 8, 16, 30)),
        # ... when that Monday is Whit Monday, Tuesday 16:30
        ("zurich", ZURICH, (2026, 5, 22, 16, 30), 8, (2026, 5, 26, 16, 30)),
        # ... reported on Good Friday: Easter Monday is off too, so all 8 h fall on Tuesday
        ("zurich", ZURICH, (2026, 4, 3, 16, 30), 8, (2026, 4, 7, 17, 0)),
        # Sechseläuten (an extra date, not in the package) closes Monday 2026-04-20
        ("zurich", ZURICH, (2026, 4, 17, 16, 0), 2, (2026, 4, 21, 10, 0)),
        # Berchtold's Day (annual extra) follows New Year's Day
        ("zurich", ZURICH, (2025, 12, 31, 16, 0), 2, (2026, 1, 5, 10, 0)),
        # 1 May is a holiday in the canton's package list but not in §2.8: a working day
        ("zurich", ZURICH, (2026, 4, 30, 16, 0), 2, (2026, 5, 1, 10, 0)),
        # half-open hours: reported at the close counts from the next opening
        ("zurich", ZURICH, (2026, 6, 5, 17, 0), 1, (2026, 6, 8, 10, 0)),
        ("zurich", ZURICH, (2026, 6, 8, 7, 0), 2, (2026, 6, 8, 11, 0)),
        # landing exactly on the close is the close, not the next morning
        ("zurich", ZURICH, (2026, 6, 8, 9, 0), 8, (2026, 6, 8, 17, 0)),
        # contract 003, Standard High (4 business hours, 09-19 São Paulo) at 18:00
        ("sao_paulo", SAO_PAULO, (2026, 11, 24, 18, 0), 4, (2026, 11, 25, 12, 0)),
        # ... on the eve of Black Awareness Day (20 Nov, a Friday): Monday 12:00
        ("sao_paulo", SAO_PAULO, (2026, 11, 19, 18, 0), 4, (2026, 11, 23, 12, 0)),
        # contract 000 ECO P1 (2 h, 24x7) at 02:00 on a Sunday
        ("always", ZURICH, (2026, 6, 7, 2, 0), 2, (2026, 6, 7, 4, 0)),
        # a lunch break is not business time
        ("lunch", ZURICH, (2026, 6, 8, 11, 0), 2, (2026, 6, 8, 14, 0)),
        # fractional hours
        ("london", LONDON, (2026, 6, 8, 16, 45), 0.5, (2026, 6, 9, 9, 15)),
    ])
    def test_due_instant_matches_the_contract_reading(
        self, calendar: str, zone: ZoneInfo, start: tuple[int, ...], hours: float,
        expected: tuple[int, ...],
    ) -> None:
        got = CALENDARS[calendar]().add_business_hours(at(zone, *start), hours)
        assert local(got, zone) == local(at(zone, *expected), zone)

    def test_zero_hours_is_the_start_itself(self) -> None:
        t = at(ZURICH, 2026, 6, 6, 12)  # a Saturday
        assert zurich_office().add_business_hours(t, 0) == t

    def test_negative_time_is_refused(self) -> None:
        with pytest.raises(ValueError, match="zero or positive"):
            zurich_office().add_business_hours(at(ZURICH, 2026, 6, 8, 10), -1)


class TestDaylightSavingTime:
    def test_sbx_p4_across_the_autumn_change_keeps_wall_clock_hours(self) -> None:
        # SBX P4 (48 business hours) from Thursday 10:00; clocks go back Sunday 25 Oct 2026.
        start = at(ZURICH, 2026, 10, 22, 10)
        got = zurich_office().add_business_hours(start, 48)
        assert local(got, ZURICH) == "2026-10-30 Fri 10:00 CET"
        assert got - start == 8 * 86400 + H  # one wall-clock hour more than 8 days

    def test_sbx_p2_across_the_spring_change(self) -> None:
        start = at(ZURICH, 2026, 3, 27, 13)  # Friday; clocks go forward Sunday 29 March
        got = zurich_office().add_business_hours(start, 13)
        assert local(got, ZURICH) == "2026-03-31 Tue 10:00 CEST"
        assert got - start == 4 * 86400 - 3 * H - H  # the lost hour is not business time

    @pytest.mark.parametrize(("start", "hours", "expected"), [
        # 24x7: business time is elapsed time, so the skipped hour is skipped
        ((2026, 3, 29, 1, 30), 2, "2026-03-29 Sun 04:30 CEST"),
        # ... and the repeated hour is counted
        ((2026, 10, 25, 1, 30), 2, "2026-10-25 Sun 02:30 CET"),
    ])
    def test_around_the_clock_counts_elapsed_time(
        self, start: tuple[int, ...], hours: float, expected: str,
    ) -> None:
        got = BusinessCalendar.always(ZURICH).add_business_hours(at(ZURICH, *start), hours)
        assert local(got, ZURICH) == expected

    def test_an_interval_holding_the_skipped_hour_is_an_hour_shorter(self) -> None:
        night = BusinessCalendar(ZURICH, [()] * 6 + [((1 * H, 4 * H),)])  # Sundays 01-04
        day = dt.date(2026, 3, 29)
        [(a, b)] = night.intervals(day)
        assert b - a == 2 * H
        [(a, b)] = night.intervals(dt.date(2026, 10, 25))
        assert b - a == 4 * H

    def test_a_whole_day_calendar_on_the_short_day_has_23_hours(self) -> None:
        sundays = BusinessCalendar(ZURICH, [()] * 6 + [((0, 86400),)])
        start = at(ZURICH, 2026, 3, 29)
        assert local(sundays.add_business_hours(start, 23), ZURICH) == "2026-03-30 Mon 00:00 CEST"
        assert local(sundays.add_business_hours(start, 24), ZURICH) == "2026-04-05 Sun 01:00 CEST"

    @pytest.mark.parametrize(("start", "days", "expected"), [
        ((2026, 3, 10, 12, 0), 30, "2026-04-09 Thu 12:00 CEST"),
        ((2026, 10, 24, 12, 0), 1, "2026-10-25 Sun 12:00 CET"),
    ])
    def test_calendar_days_keep_the_wall_clock_time(
        self, start: tuple[int, ...], days: int, expected: str,
    ) -> None:
        assert local(add_calendar_days(at(ZURICH, *start), days, ZURICH), ZURICH) == expected


class TestAddBusinessDays:
    @pytest.mark.parametrize(("calendar", "start", "days", "expected"), [
        # contract 004 P3, 1 business day: Wednesday 11:00 -> Thursday 11:00
        ("london", (2026, 11, 25, 11, 0), 1, "2026-11-26 Thu 11:00 GMT"),
        # reported after hours: the whole next business day, to its close
        ("london", (2026, 11, 27, 20, 0), 1, "2026-11-30 Mon 17:00 GMT"),
        ("london", (2026, 11, 28, 10, 0), 1, "2026-11-30 Mon 17:00 GMT"),
        ("london", (2026, 11, 30, 9, 0), 1, "2026-11-30 Mon 17:00 GMT"),
        # contract 004 P4, 3 business days
        ("london", (2026, 11, 23, 10, 0), 3, "2026-11-26 Thu 10:00 GMT"),
        # over Easter (Good Friday and Easter Monday are bank holidays in England)
        ("london", (2026, 4, 2, 15, 0), 1, "2026-04-07 Tue 15:00 BST"),
        # a shorter next day clamps to its close
        ("short_friday", (2026, 11, 26, 16, 0), 1, "2026-11-27 Fri 15:00 GMT"),
        # around the clock, a business day is a calendar day (25 h on the autumn change)
        ("always", (2026, 10, 24, 12, 0), 1, "2026-10-25 Sun 12:00 GMT"),
    ])
    def test_due_instant(self, calendar: str, start: tuple[int, ...], days: int,
                         expected: str) -> None:
        zone = LONDON
        cal = CALENDARS[calendar]() if calendar != "always" else BusinessCalendar.always(zone)
        assert local(cal.add_business_days(at(zone, *start), days), zone) == expected

    def test_fractional_days_are_refused(self) -> None:
        with pytest.raises(ValueError, match="whole number"):
            london_office().add_business_days(at(LONDON, 2026, 11, 25, 11), 1.5)  # type: ignore[arg-type]


class TestCalendarQueries:
    @pytest.mark.parametrize(("when", "is_open"), [
        ((2026, 6, 8, 8, 59), False),
        ((2026, 6, 8, 9, 0), True),
        ((2026, 6, 8, 16, 59), True),
        ((2026, 6, 8, 17, 0), False),
        ((2026, 6, 6, 12, 0), False),   # Saturday
        ((2026, 8, 1, 12, 0), False),   # Swiss National Day (a Saturday in 2026)
        ((2026, 5, 14, 12, 0), False),  # Ascension Day
    ])
    def test_open_is_half_open(self, when: tuple[int, ...], is_open: bool) -> None:
        assert zurich_office().is_open(at(ZURICH, *when)) is is_open

    @pytest.mark.parametrize(("when", "expected"), [
        ((2026, 6, 8, 10, 0), "2026-06-08 Mon 10:00 CEST"),
        ((2026, 6, 5, 17, 0), "2026-06-08 Mon 09:00 CEST"),
        ((2026, 12, 24, 18, 0), "2026-12-28 Mon 09:00 CET"),  # Christmas, Stephen's Day
    ])
    def test_next_open(self, when: tuple[int, ...], expected: str) -> None:
        assert local(zurich_office().next_open(at(ZURICH, *when)), ZURICH) == expected

    def test_business_seconds_between_counts_only_open_time(self) -> None:
        cal = zurich_office()
        start, end = at(ZURICH, 2026, 6, 5, 16), at(ZURICH, 2026, 6, 8, 10)
        assert cal.business_seconds_between(start, end) == 2 * H
        assert cal.business_seconds_between(end, start) == 0

    def test_a_calendar_without_hours_is_refused(self) -> None:
        with pytest.raises(CalendarError, match="no business hours"):
            BusinessCalendar(ZURICH, [()] * 7)

    def test_a_calendar_closed_forever_fails_instead_of_looping(self) -> None:
        closed = BusinessCalendar(ZURICH, [((9 * H, 17 * H),)] * 7, lambda day: True)
        with pytest.raises(CalendarError, match="no business hours within"):
            closed.add_business_hours(at(ZURICH, 2026, 6, 8, 10), 1)

    @pytest.mark.parametrize(("text", "seconds"), [("00:00", 0), ("09:30", 34200),
                                                   ("24:00", 86400)])
    def test_parse_clock(self, text: str, seconds: int) -> None:
        assert parse_clock(text) == seconds

    @pytest.mark.parametrize("text", ["9", "24:01", "12:60", "ab:cd", "9:5"])
    def test_parse_clock_refuses(self, text: str) -> None:
        with pytest.raises(CalendarError):
            parse_clock(text)


# -- properties -----------------------------------------------------------------------------

PROPERTY_CALENDARS = {
    **CALENDARS,
    # a half-hour DST shift and weekend-only hours
    "lord_howe_weekends": lambda: BusinessCalendar(
        "Australia/Lord_Howe", [()] * 5 + [((1 * H, 3 * H), (10 * H, 24 * H))] * 2),
}
INSTANTS = st.integers(min_value=int(at(ZURICH, 2025, 1, 1)),
                       max_value=int(at(ZURICH, 2028, 6, 1))).map(float)
HOURS = st.integers(min_value=1, max_value=200 * 4).map(lambda quarter: quarter / 4)


def inside_closed(cal: BusinessCalendar, t: float) -> bool:
    """`t` lies in some business interval, its close included (`open < t <= close`)."""
    day = cal.local_date(t)
    return any(a < t <= b for d in (day - dt.timedelta(days=1), day)
               for a, b in cal.intervals(d))


class TestCalendarProperties:
    @settings(max_examples=150, deadline=None)
    @given(name=st.sampled_from(sorted(PROPERTY_CALENDARS)), t1=INSTANTS, t2=INSTANTS,
           hours=HOURS)
    def test_adding_business_hours_is_monotonic(self, name: str, t1: float, t2: float,
                                                hours: float) -> None:
        cal = PROPERTY_CALENDARS[name]()
        lo, hi = sorted((t1, t2))
        assert cal.add_business_hours(lo, hours) <= cal.add_business_hours(hi, hours)

    @settings(max_examples=150, deadline=None)
    @given(name=st.sampled_from(sorted(PROPERTY_CALENDARS)), t=INSTANTS, hours=HOURS)
    def test_the_due_instant_lies_in_business_hours_and_holds_exactly_that_time(
        self, name: str, t: float, hours: float,
    ) -> None:
        cal = PROPERTY_CALENDARS[name]()
        due = cal.add_business_hours(t, hours)
        assert due > t
        assert inside_closed(cal, due)
        assert cal.business_seconds_between(t, due) == pytest.approx(hours * H, abs=1e-3)

    @settings(max_examples=100, deadline=None)
    @given(name=st.sampled_from(sorted(PROPERTY_CALENDARS)), t=INSTANTS, a=HOURS, b=HOURS)
    def test_adding_in_two_steps_equals_adding_at_once(self, name: str, t: float, a: float,
                                                       b: float) -> None:
        cal = PROPERTY_CALENDARS[name]()
        once = cal.add_business_hours(t, a + b)
        assert cal.add_business_hours(cal.add_business_hours(t, a), b) == pytest.approx(once)

    @settings(max_examples=100, deadline=None)
    @given(zone=st.sampled_from(["Europe/Zurich", "America/Sao_Paulo", "Australia/Lord_Howe",
                                 "America/New_York"]),
           t=INSTANTS, hours=HOURS)
    def test_a_calendar_open_all_day_every_day_is_elapsed_time_across_dst(
        self, zone: str, t: float, hours: float,
    ) -> None:
        # built from wall-clock day intervals (not the 24x7 shortcut): DST must not leak in
        cal = BusinessCalendar(ZoneInfo(zone), [((0, 86400),)] * 7, lambda day: False)
        assert not cal.is_always_open
        assert cal.add_business_hours(t, hours) == pytest.approx(t + hours * H)

    @settings(max_examples=100, deadline=None)
    @given(name=st.sampled_from(sorted(PROPERTY_CALENDARS)), t1=INSTANTS, t2=INSTANTS,
           days=st.integers(min_value=1, max_value=10))
    def test_adding_business_days_is_monotonic_and_lands_in_business_hours(
        self, name: str, t1: float, t2: float, days: int,
    ) -> None:
        cal = PROPERTY_CALENDARS[name]()
        lo, hi = sorted((t1, t2))
        due_lo, due_hi = cal.add_business_days(lo, days), cal.add_business_days(hi, days)
        assert due_lo <= due_hi
        assert due_lo > lo
        if not cal.is_always_open:
            assert inside_closed(cal, due_lo)
