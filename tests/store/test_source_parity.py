"""The store and the in-memory fake answer the core's reads alike, so core tests on the fake
say what the daemon does on SQLite."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.model import Attempt, Reason, Role, Verdict, WindowVerdict
from probe.store import Ledger
from tests.fakes import MemoryWindows

T0 = 1_790_000_000 // 86400 * 86400
KINDS = [(Verdict.UP, Reason.NONE), (Verdict.DOWN, Reason.NONE), (Verdict.NO_DATA, Reason.NONE),
         (Verdict.EXCLUDED, Reason.VANTAGE), (Verdict.EXCLUDED, Reason.MAINTENANCE)]

decisions = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 3000), st.sampled_from(KINDS),
              st.integers(0, 3)),
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(decisions, min_size=1, max_size=3),
       span=st.tuples(st.integers(-5, 3000), st.integers(1, 3100)))
def test_reads_agree(batches: list[list[tuple[str, int, tuple[Verdict, Reason], int]]],
                     span: tuple[int, int]) -> None:
    fake = MemoryWindows()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp))
        try:
            for batch in batches:
                verdicts = [WindowVerdict("c", service, T0 + i * 60, 60, verdict, reason,
                                          attempts=3, failures=failed, decided_at=1.0)
                            for service, i, (verdict, reason), failed in batch]
                assert ledger.write_verdicts(verdicts) == fake.write_verdicts(verdicts)
            lo, hi = T0 + span[0] * 60, T0 + (span[0] + span[1]) * 60
            assert ledger.windows("c", lo, hi) == fake.windows("c", lo, hi)
            assert ledger.window_totals("c", lo, hi) == fake.window_totals("c", lo, hi)
            assert ledger.month_counts("c", lo, hi) == fake.month_counts("c", lo, hi)
            assert ledger.window_counts() == fake.window_counts()
            assert ledger.notable_windows("c", lo, hi, failed_up=True) == \
                fake.notable_windows("c", lo, hi, failed_up=True)
            for verdict in (Verdict.DOWN, Verdict.UP):
                for newest in (False, True):
                    assert ledger.windows_by_verdict(
                        "c", verdict, lo, hi, service="a", limit=2, newest_first=newest,
                    ) == fake.windows_by_verdict(
                        "c", verdict, lo, hi, service="a", limit=2, newest_first=newest)
        finally:
            ledger.close()


@settings(max_examples=30, deadline=None)
@given(outcomes=st.lists(st.tuples(st.integers(0, 500), st.booleans(),
                                   st.sampled_from(["a", "b"])), max_size=60, unique_by=lambda x: x[0]),
       span=st.tuples(st.integers(-5, 500), st.integers(1, 520)))
def test_outage_samples_agree(outcomes: list[tuple[int, bool, str]],
                              span: tuple[int, int]) -> None:
    """The `intervals` measurement reads failures and the successes next to them alike."""
    fake = MemoryWindows()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp))
        try:
            attempts = [Attempt(float(T0 + i * 10), s, "probe", Role.SERVICE, ok,
                                None if ok else "timeout", 0.1) for i, ok, s in outcomes]
            ledger.record_attempts(attempts)
            for service in ("a", "b"):
                fake.record_outcomes(service, [(a.started_at, a.ok) for a in attempts
                                               if a.service == service])
            lo, hi = T0 + span[0] * 10, T0 + (span[0] + span[1]) * 10
            reader = Ledger.reader(Path(tmp))
            try:
                assert reader.outage_samples("a", lo, hi) == fake.outage_samples("a", lo, hi)
            finally:
                reader.close()
        finally:
            ledger.close()


@settings(max_examples=40, deadline=None)
@given(outcomes=st.lists(st.tuples(st.integers(0, 500), st.booleans(),
                                   st.sampled_from(["a", "b", "c"])), max_size=60,
                         unique_by=lambda x: x[0]),
       span=st.tuples(st.integers(-5, 500), st.integers(1, 520)))
def test_first_failures_agree(outcomes: list[tuple[int, bool, str]],
                              span: tuple[int, int]) -> None:
    """Issue 16, item 6: the first error of each window, from the store and the fake."""
    fake = MemoryWindows()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp))
        try:
            attempts = [Attempt(float(T0 + i * 7), s, f"probe-{s}", Role.SERVICE, ok,
                                None if ok else f"class-{i % 3}", 0.1,
                                detail="" if ok else f"detail {i}")
                        for i, ok, s in outcomes]
            ledger.record_attempts(attempts)
            fake.record_outcomes("x", [])
            fake.record_failures((a.started_at, a.service, a.check, a.failure_class or "",
                                  a.detail) for a in attempts if not a.ok)
            fake.record_outcomes("ok", [(a.started_at, True) for a in attempts if a.ok])
            lo, hi = T0 + span[0] * 7, T0 + (span[0] + span[1]) * 7
            reader = Ledger.reader(Path(tmp))
            try:
                for services in (["a"], ["a", "b"], []):
                    assert reader.first_failures(services, lo, hi, 60) == \
                        fake.first_failures(services, lo, hi, 60)
            finally:
                reader.close()
        finally:
            ledger.close()
