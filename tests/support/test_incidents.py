from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.contracts.model import ContractConfig
from probe.model import WindowVerdict
from probe.store import Ledger
from probe.support.incidents import (
    READ_CHUNK,
    Incident,
    incidents_from_windows,
    read_incidents,
)
from tests.fakes import MemoryWindows
from tests.support.builders import SIMPLE_SUPPORT, ZURICH, at, contract, local, run

M = 60
H = 3600
T0 = int(at(ZURICH, 2026, 6, 7, 2, 0))  # a Sunday, 02:00 Zurich


def simple(merge_gap: str = "0s", support: bool = True) -> ContractConfig:
    block = {**SIMPLE_SUPPORT, "incident_merge_gap": merge_gap} if support else None
    return contract("c", ["a", "b"], block)


def only(incidents: list[Incident]) -> Incident:
    assert len(incidents) == 1, incidents
    return incidents[0]


class TestIncidentsFromWindows:
    def test_consecutive_down_windows_form_one_incident(self) -> None:
        inc = only(incidents_from_windows(simple(), run("c", "a", T0, "UUDDDUU")))
        assert (inc.start, inc.end, inc.last_down_end) == (T0 + 2 * M, T0 + 5 * M, T0 + 5 * M)
        assert (inc.down_windows, inc.down_minutes, inc.failure_classes) == (3, 3.0, ("timeout",))
        assert inc.detected_at == T0 + 3 * M
        assert not inc.open
        assert inc.duration_seconds(now=T0 + 10 * H) == 3 * M

    @pytest.mark.parametrize(("pattern", "merge_gap", "count"), [
        ("DDUDD", "0s", 2),
        ("DDUDD", "1m", 1),
        ("DDUUUDD", "2m", 2),
        ("DDUUUDD", "3m", 1),
        ("DD...DD", "3m", 1),   # nothing stored in between: the gap is time, not windows
        ("DD...DD", "2m", 2),
        ("DDNNNDD", "0s", 2),
    ])
    def test_gaps_up_to_the_merge_gap_are_merged(self, pattern: str, merge_gap: str,
                                                 count: int) -> None:
        found = incidents_from_windows(simple(merge_gap), run("c", "a", T0, pattern + "U"))
        assert len(found) == count
        assert sum(i.down_windows for i in found) == pattern.count("D")

    @pytest.mark.parametrize(("pattern", "is_open"), [
        ("UUDD", True),
        ("UUDDNN", True),    # the daemon stopped: nothing says the vendor recovered
        ("UUDDMM", True),    # excluded windows do not close it either
        ("UUDDU", False),
        ("UUDDNNU", False),
    ])
    def test_an_incident_is_open_until_an_up_window_follows(self, pattern: str,
                                                            is_open: bool) -> None:
        inc = only(incidents_from_windows(simple(), run("c", "a", T0, pattern)))
        assert inc.open is is_open
        assert inc.end == (None if is_open else T0 + 4 * M)

    def test_a_down_window_within_the_gap_reopens_the_same_incident(self) -> None:
        before = only(incidents_from_windows(simple("2m"), run("c", "a", T0, "DDU")))
        after = only(incidents_from_windows(simple("2m"), run("c", "a", T0, "DDUD")))
        assert not before.open
        assert after.open
        assert before.key == after.key

    def test_services_down_together_raise_the_severity_from_that_window(self) -> None:
        windows = run("c", "a", T0, "UDDDDU") + run("c", "b", T0, "UUDDUU",
                                                    classes=("http_status",))
        a, b = sorted(incidents_from_windows(simple(), windows), key=lambda i: i.service)
        assert a.services == b.services == ("a", "b")
        assert (a.severity, a.severity_label) == ("P1", "Critical")
        assert a.detected_at == T0 + 2 * M
        assert a.severity_since == T0 + 3 * M  # b joined in window 2, which ends at 3
        assert b.failure_classes == ("http_status",)

    def test_deadlines_follow_the_package_and_notifications(self) -> None:
        windows = run("c", "a", T0, "UDDDU") + run("c", "b", T0, "UDDUU")
        a = next(i for i in incidents_from_windows(simple(), windows) if i.service == "a")
        since = T0 + 2 * M
        assert a.reported_at == since
        # P1 on the 24x7 package calendar: 2 h; notice 24 h from the first P1 window;
        # report 30 calendar days after resolution
        assert a.deadlines.response_due == since + 2 * H
        assert a.deadlines.notice_due == since + 24 * H
        assert local(a.deadlines.report_due or 0, ZURICH) == "2026-07-07 Tue 02:04 CEST"
        assert a.deadlines.resolution_due is None

    def test_a_lesser_severity_counts_on_its_own_calendar_and_owes_no_notice(self) -> None:
        inc = only(incidents_from_windows(simple(), run("c", "a", T0, "UDDU")))
        assert inc.severity == "P2"
        # P2: 8 business hours on the office calendar, detected Sunday 02:02
        assert local(inc.deadlines.response_due or 0, ZURICH) == "2026-06-08 Mon 17:00 CEST"
        assert inc.deadlines.notice_due is None
        assert inc.deadlines.report_due is None

    def test_an_open_incident_owes_no_report_yet(self) -> None:
        windows = run("c", "a", T0, "UDD") + run("c", "b", T0, "UDD")
        inc = incidents_from_windows(simple(), windows)[0]
        assert inc.open
        assert inc.deadlines.notice_due is not None
        assert inc.deadlines.report_due is None

    def test_without_support_terms_incidents_have_no_severity_or_deadlines(self) -> None:
        inc = only(incidents_from_windows(simple(support=False), run("c", "a", T0, "UDDU")))
        assert inc.severity is None
        assert inc.reported_at is None
        assert inc.deadlines.response_due is inc.deadlines.notice_due is None

    def test_windows_of_other_contracts_are_ignored(self) -> None:
        windows = run("other", "a", T0, "DDDD") + run("c", "a", T0, "UUUU")
        assert incidents_from_windows(simple(), windows) == []

    def test_down_minutes_between_clips_to_a_period(self) -> None:
        inc = only(incidents_from_windows(simple(), run("c", "a", T0, "DDDDDU")))
        assert inc.down_minutes_between(T0 + 2 * M, T0 + 10 * M) == 3.0

    def test_the_dict_form_has_utc_and_local_instants(self) -> None:
        inc = only(incidents_from_windows(simple(), run("c", "a", T0, "UDDU")))
        data = inc.to_dict(now=T0 + 40 * H, zone=ZURICH)
        assert data["start"] == "2026-06-07T00:01:00Z"
        assert data["start_local"] == "2026-06-07 02:01 CEST"
        assert data["response_due_local"] == "2026-06-08 17:00 CEST"
        assert data["response_due_passed"] is True
        assert data["notice_due"] is None
        assert data["notice_due_passed"] is None
        assert data["state"] == "resolved"


@pytest.fixture
def ledger() -> MemoryWindows:
    """The pure core reads windows from memory here; the parity test below uses SQLite."""
    return MemoryWindows()


class TestReadIncidents:
    def test_an_incident_straddling_the_span_is_read_whole(self, ledger: MemoryWindows) -> None:
        # down for 9 days (longer than one read chunk) across the span's start, then up
        start = T0
        down_from = start - 9 * 86400
        windows = [*run("c", "a", down_from, "D" * (10 * 1440)),
                   *run("c", "a", down_from + 10 * 86400, "UUU")]
        assert READ_CHUNK < 9 * 86400
        ledger.write_verdicts(windows)
        inc = only(read_incidents(simple(), ledger, start, start + 86400, now=start + 11 * 86400))
        assert inc.start == down_from
        assert inc.end == down_from + 10 * 86400

    def test_an_incident_running_past_the_span_end_is_read_to_its_end(self,
                                                                      ledger: MemoryWindows) -> None:
        ledger.write_verdicts(run("c", "a", T0, "UU" + "D" * 9000 + "U"))
        inc = only(read_incidents(simple(), ledger, T0, T0 + H, now=T0 + 10 * 86400))
        assert inc.end == T0 + (2 + 9000) * M

    def test_an_incident_without_a_following_up_window_is_open(self, ledger: MemoryWindows) -> None:
        ledger.write_verdicts(run("c", "a", T0, "UUDDDNN"))
        inc = only(read_incidents(simple(), ledger, T0, T0 + H, now=T0 + H))
        assert inc.open

    def test_incidents_outside_the_span_are_left_out(self, ledger: MemoryWindows) -> None:
        ledger.write_verdicts(run("c", "a", T0, "DDU" + "U" * 100 + "DDU"))
        found = read_incidents(simple(), ledger, T0 + 50 * M, T0 + 200 * M, now=T0 + H * 4)
        assert [i.start for i in found] == [T0 + 103 * M]

    @settings(max_examples=40, deadline=None)
    @given(
        patterns=st.lists(st.text(alphabet="UUUDDN.", min_size=1, max_size=60), min_size=1,
                          max_size=2),
        gap=st.sampled_from(["0s", "2m", "5m"]),
        span=st.tuples(st.integers(0, 70), st.integers(1, 70)),
    )
    def test_reading_the_ledger_equals_the_pure_function_over_all_windows(
        self, patterns: list[str], gap: str, span: tuple[int, int],
    ) -> None:
        con = simple(gap)
        windows: list[WindowVerdict] = []
        for service, pattern in zip(("a", "b"), patterns, strict=False):
            windows += run("c", service, T0, pattern)
        lo, hi = T0 + span[0] * M, T0 + (span[0] + span[1]) * M
        now = T0 + 80 * M
        expected = [i for i in incidents_from_windows(con, windows)
                    if i.start < hi and (i.end is None or i.end > lo)]
        with tempfile.TemporaryDirectory() as tmp:
            led = Ledger(Path(tmp))
            try:
                led.write_verdicts(windows)
                got = read_incidents(con, led, lo, hi, now)
            finally:
                led.close()
        assert got == expected
