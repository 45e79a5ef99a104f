"""Window reads over rows in memory, answered exactly as the store answers them.

The evidence verifier reads a pack's rows (`probe.evidence.terms.PackWindows`) and the core's
unit tests read a fake (`tests.fakes.MemoryWindows`) through the `WindowSource` protocol;
both answer with these functions, so there is one in-memory reading of the protocol and
tests/store/test_source_parity.py checks it against SQLite.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from probe.contracts.source import Totals
from probe.model import Verdict, WindowVerdict


def select(  # noqa: PLR0917 - the arguments of the WindowSource read it serves
    rows: Iterable[WindowVerdict], contract: str, start: int, end: int, scope: str,
    service: str | None = None,
) -> list[WindowVerdict]:
    """Current verdicts of `contract` in [start, end), by service then time."""
    found = [v for v in rows if v.contract == contract and v.scope == scope
             and start <= v.window_start < end and (service is None or v.service == service)]
    return sorted(found, key=lambda v: (v.service, v.window_start))


def totals(rows: Iterable[WindowVerdict]) -> Totals:
    """Per service and (verdict, reason): (windows, attempts, failures)."""
    out: Totals = {}
    for v in rows:
        by = out.setdefault(v.service, {})
        n, tried, failed = by.get((v.verdict.value, v.reason.value), (0, 0, 0))
        by[(v.verdict.value, v.reason.value)] = (n + 1, tried + v.attempts, failed + v.failures)
    return out


def counts(of: Totals) -> dict[str, Counter[tuple[str, str]]]:
    """`totals` reduced to window counts."""
    return {service: Counter({key: n[0] for key, n in by.items()}) for service, by in of.items()}


def by_verdict(rows: Sequence[WindowVerdict], verdict: Verdict, limit: int | None,
               newest_first: bool) -> list[WindowVerdict]:
    """`rows` (from `select`) equal to `verdict`, oldest (or newest) first per service."""
    found = [v for v in rows if v.verdict == verdict]
    if newest_first:
        found.sort(key=lambda v: (v.service, -v.window_start))
    return found if limit is None else found[:limit]


def outage_samples(samples: Sequence[tuple[float, bool]]) -> list[tuple[float, bool]]:
    """From time-ordered (started_at, ok): the failures and the successes beside them."""
    return [(t, ok) for i, (t, ok) in enumerate(samples)
            if not ok or (i > 0 and not samples[i - 1][1])
            or (i + 1 < len(samples) and not samples[i + 1][1])]
