"""Deciding one window: attempts in, one verdict per service out. Pure, no I/O."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace

from probe.contracts.rules import DownRule
from probe.model import LOST, Attempt, Reason, Verdict, WindowVerdict


def window_start(t: float, window_seconds: int) -> int:
    """The start of the epoch-aligned window holding instant `t`."""
    return int(t // window_seconds) * window_seconds


def _all_failed(attempts: Sequence[Attempt]) -> bool:
    return bool(attempts) and not any(a.ok for a in attempts)


def decide(
    *,
    contract: str,
    service: str,
    start: int,
    window_seconds: int,
    rule: DownRule,
    service_attempts: Sequence[Attempt],
    control_attempts: Sequence[Attempt] = (),
    dependency_attempts: Sequence[Attempt] = (),
    decided_at: float = 0.0,
) -> WindowVerdict:
    """The contract's verdict for one service in one window.

    - nothing measured: `no_data` (never `up`);
    - every control attempt failed: `excluded: vantage` (our network, not the vendor's);
    - the down rule applies per check, and the service is down if any check is down, so a
      healthy status endpoint cannot hide a broken signing function;
    - a down window whose dependency checks all failed is `excluded: dependency`.
    """
    failures = [a for a in service_attempts if not a.ok]
    classes = tuple(sorted({a.failure_class or "error" for a in failures}))
    base = WindowVerdict(
        contract=contract, service=service, window_start=start,
        window_seconds=window_seconds, verdict=Verdict.NO_DATA,
        attempts=len(service_attempts), failures=len(failures), failure_classes=classes,
        decided_at=decided_at,
    )
    # Attempts lost with a worker process show in the counts and classes, but measured
    # nothing: the rule judges the others, and a window of only lost ones is no_data.
    measured = [a for a in service_attempts if a.failure_class != LOST]
    if not measured:
        return base
    if _all_failed(control_attempts):
        return replace(base, verdict=Verdict.EXCLUDED, reason=Reason.VANTAGE)
    per_check: dict[str, list[bool]] = defaultdict(list)
    for a in measured:
        per_check[a.check].append(a.ok)
    down = any(rule.is_down(len(oks), oks.count(False)) for oks in per_check.values())
    if not down:
        return replace(base, verdict=Verdict.UP)
    if _all_failed(dependency_attempts):
        return replace(base, verdict=Verdict.EXCLUDED, reason=Reason.DEPENDENCY)
    return replace(base, verdict=Verdict.DOWN)


def split_by_window(
    attempts: Iterable[Attempt], window_seconds: int
) -> dict[int, list[Attempt]]:
    out: dict[int, list[Attempt]] = defaultdict(list)
    for a in attempts:
        out[window_start(a.started_at, window_seconds)].append(a)
    return out
