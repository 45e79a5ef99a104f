"""Calendar months in a contract's time zone: boundaries, DST switches, leap years."""

from __future__ import annotations

import calendar
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from probe.contracts.month import Month

ZONES = ["UTC", "Europe/Zurich", "America/New_York", "America/Sao_Paulo", "Europe/London",
         "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham"]
months = st.builds(Month, st.integers(1990, 2060), st.integers(1, 12))
zones = st.sampled_from(ZONES).map(ZoneInfo)


class TestMonthBounds:
    @given(months, zones)
    def test_month_is_its_days_give_or_take_one_dst_hour(self, month: Month,
                                                         zone: ZoneInfo) -> None:
        days = calendar.monthrange(month.year, month.month)[1]
        assert month.minutes(zone) - days * 1440 in (-60, -30, 0, 30, 60)

    @given(months, zones)
    def test_months_tile_time_without_gap_or_overlap(self, month: Month,
                                                     zone: ZoneInfo) -> None:
        assert month.bounds(zone)[1] == month.next().bounds(zone)[0]

    @given(months, zones)
    def test_every_instant_of_the_month_belongs_to_it(self, month: Month,
                                                      zone: ZoneInfo) -> None:
        start, end = month.bounds(zone)
        assert Month.containing(start, zone) == month
        assert Month.containing(end - 1, zone) == month
        assert Month.containing(end, zone) == month.next()

    @given(st.integers(1990, 2060), zones)
    def test_february_has_a_leap_day_exactly_in_leap_years(self, year: int,
                                                           zone: ZoneInfo) -> None:
        days = 29 if calendar.isleap(year) else 28
        minutes = Month(year, 2).minutes(zone)
        assert abs(minutes - days * 1440) <= 60

    @given(st.integers(2008, 2060))
    def test_new_york_gives_an_hour_in_march_and_takes_it_back_in_november(
        self, year: int
    ) -> None:
        zone = ZoneInfo("America/New_York")
        assert Month(year, 3).minutes(zone) == 31 * 1440 - 60
        assert Month(year, 11).minutes(zone) == 30 * 1440 + 60

    @given(months)
    def test_parse_round_trips(self, month: Month) -> None:
        assert Month.parse(str(month)) == month
