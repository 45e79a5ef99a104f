"""`window_totals` sums whole days from `window_days` and the partial days from the windows:
it must equal a plain scan of the current verdicts, through revisions, for any bounds."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.model import Reason, Verdict, WindowVerdict
from probe.store import Ledger
from probe.store.reader import DAY

W = 3600  # hour windows: a few days of them stay small
VERDICTS = [(Verdict.UP, Reason.NONE), (Verdict.DOWN, Reason.NONE),
            (Verdict.EXCLUDED, Reason.VANTAGE), (Verdict.NO_DATA, Reason.NONE)]


def scan(ledger: Ledger, contract: str, start: int, end: int
         ) -> dict[str, dict[tuple[str, str], tuple[int, int, int]]]:
    out: dict[str, dict[tuple[str, str], tuple[int, int, int]]] = {}
    for v in ledger.windows(contract, start, end):
        by = out.setdefault(v.service, {})
        n = by.get((v.verdict.value, v.reason.value), (0, 0, 0))
        by[(v.verdict.value, v.reason.value)] = (n[0] + 1, n[1] + v.attempts,
                                                 n[2] + v.failures)
    return out


decisions = st.lists(
    st.tuples(st.integers(0, 24 * 5 - 1), st.sampled_from(["a", "b"]),
              st.integers(0, 3), st.integers(0, 6), st.integers(0, 6)),
    min_size=1, max_size=60)


@settings(max_examples=40, deadline=None)
@given(decisions, st.integers(0, 5 * DAY), st.integers(0, 5 * DAY))
def test_totals_match_a_scan_through_revisions(
    decided: list[tuple[int, str, int, int, int]], a: int, b: int
) -> None:
    start, end = min(a, b), max(a, b)
    base = 20_000 * DAY
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp))
        try:
            for index, service, kind, attempts, failures in decided:
                verdict, reason = VERDICTS[kind]
                ledger.write_verdicts([WindowVerdict(
                    contract="c", service=service, window_start=base + index * W,
                    window_seconds=W, verdict=verdict, reason=reason, attempts=attempts,
                    failures=min(failures, attempts))])
            got = ledger.window_totals("c", base + start, base + end)
            assert got == scan(ledger, "c", base + start, base + end)
            counts = ledger.month_counts("c", base + start, base + end)
            assert {s: dict(c) for s, c in counts.items()} == {
                s: {k: n[0] for k, n in by.items()} for s, by in got.items()}
        finally:
            ledger.close()
