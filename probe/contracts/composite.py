"""One overall objective over several services (issue 15, item 3).

Dfns promises one "Cloud Service" with one Target Availability: "Uptime is calculated based on
the time, in minutes, that Users can connect to the Cloud Service". Its windows are not
measured; they are derived from the windows of the listed services. Under `any` (default) a
window of the whole is down when any listed service is down in it; under `all`, only when
every one is. Only the windows that are not `up` are read (by index), so the figure costs
what the per-service figures cost, at every scrape as in the report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from probe.model import Reason, Verdict, WindowVerdict

if TYPE_CHECKING:
    from probe.contracts.model import Objective
    from probe.contracts.source import WindowSource

Totals = dict[tuple[str, str], tuple[int, int, int]]
_NOT_UP = (Verdict.DOWN, Verdict.EXCLUDED, Verdict.NO_DATA)


def combine(by: Mapping[str, WindowVerdict], components: Sequence[str],
            down_when: str) -> tuple[Verdict, Reason]:
    """The verdict of the whole in one window; a listed service with no row there is up.

    `any`: down if any listed service is down, else excluded if any is excluded (maintenance
    on part of the service is maintenance of the service), else no_data if any is unmeasured
    (it could have been down), else up. `all`: down only if every listed service is down,
    up if any is up, else excluded / no_data as above.
    """
    seen = [by[s] for s in components if s in by]
    verdicts = [v.verdict for v in seen]
    up = len(seen) < len(components)
    if down_when == "all":
        if not up and all(v == Verdict.DOWN for v in verdicts):
            return Verdict.DOWN, Reason.NONE
        if up:
            return Verdict.UP, Reason.NONE
    elif Verdict.DOWN in verdicts:
        return Verdict.DOWN, Reason.NONE
    for v in seen:
        if v.verdict == Verdict.EXCLUDED:
            return Verdict.EXCLUDED, v.reason
    if Verdict.NO_DATA in verdicts:
        return Verdict.NO_DATA, Reason.NONE
    return Verdict.UP, Reason.NONE


def _merge(contract: str, objective: Objective, rows: Sequence[WindowVerdict],
           keep_up: bool) -> list[WindowVerdict]:
    at: defaultdict[int, dict[str, WindowVerdict]] = defaultdict(dict)
    for v in rows:
        at[v.window_start][v.service] = v
    out: list[WindowVerdict] = []
    for w in sorted(at):
        by = at[w]
        verdict, reason = combine(by, objective.components, objective.down_when)
        if verdict == Verdict.UP and not keep_up:
            continue
        first = next(iter(by.values()))
        parts = [by[s] for s in objective.components if s in by]
        down = [v for v in parts if v.verdict == Verdict.DOWN]
        out.append(WindowVerdict(
            contract, objective.service, w, first.window_seconds, verdict, reason,
            attempts=sum(v.attempts for v in parts), failures=sum(v.failures for v in parts),
            failure_classes=tuple(sorted({c for v in down for c in v.failure_classes})),
            scope=first.scope, note="down: " + ",".join(v.service for v in down) if down
            else ""))
    return out


def composite_rows(source: WindowSource, contract: str, objective: Objective, *,
                   start: int, end: int, scope: str) -> list[WindowVerdict]:
    """The windows of the whole that are not `up`, oldest first."""
    rows = [v for service in objective.components for verdict in _NOT_UP
            for v in source.windows_by_verdict(contract, verdict, start, end, scope=scope,
                                               service=service)]
    return _merge(contract, objective, rows, keep_up=False)


def composite_timeline(source: WindowSource, contract: str, objective: Objective, *,
                       start: int, end: int, scope: str) -> list[WindowVerdict]:
    """Every decided window of the whole (for the per-window formats)."""
    rows = [v for service in objective.components
            for v in source.windows(contract, start, end, scope, service)]
    return _merge(contract, objective, rows, keep_up=True)


def composite_totals(rows: Sequence[WindowVerdict], objective: Objective,
                     per_service: Mapping[str, Totals]) -> Totals:
    """(verdict, reason) -> (windows, 0, 0) of the whole: its non-up windows counted, the
    rest of the windows decided for the listed services up."""
    decided = max((sum(n for n, _, _ in per_service.get(s, {}).values())
                   for s in objective.components), default=0)
    counts = Counter((v.verdict.value, v.reason.value) for v in rows)
    out: Totals = {key: (n, 0, 0) for key, n in counts.items()}
    up = decided - sum(counts.values())
    if up > 0:
        out[(Verdict.UP.value, Reason.NONE.value)] = (up, 0, 0)
    return out
