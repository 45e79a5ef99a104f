"""Verdicts against their attempts: recompute every decided window that still has its
attempts and name each one whose stored verdict differs (`sla-probe check --consistency`).

The promise is that a decided window never contradicts the attempts it was decided from.
The decider keeps it across wall-clock steps by deciding a window again when an attempt
lands in it late; this is the independent check, meant to run before a start
(`ExecStartPre=`) or after an incident. Exclusions are laid over verdicts after measuring,
so the comparison is between the measured verdicts (`measured`): what the attempts say.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from probe.config import Config
from probe.contracts.exclusions import measured
from probe.model import MAX_WINDOWS_PER_BATCH, WindowVerdict
from probe.pipeline import decide_range
from probe.store import LedgerReader

PRUNED_KEY = "attempts_pruned_before"


@dataclass(frozen=True)
class Mismatch:
    contract: str
    service: str
    window_start: int
    stored: WindowVerdict | None  # None: an ended window with no verdict at all
    recomputed: WindowVerdict

    def describe(self) -> str:
        want = _summary(self.recomputed)
        got = "missing" if self.stored is None else _summary(measured(self.stored))
        return (f"{self.contract}/{self.service} window {self.window_start}: stored {got}, "
                f"attempts say {want}")


def _summary(v: WindowVerdict) -> str:
    return f"{v.verdict.value}:{v.reason.value} ({v.failures}/{v.attempts} failed)"


def _same(stored: WindowVerdict, recomputed: WindowVerdict) -> bool:
    m = measured(stored)
    return (m.verdict, m.reason, m.attempts, m.failures) == (
        recomputed.verdict, recomputed.reason, recomputed.attempts, recomputed.failures)


def mismatches(config: Config, reader: LedgerReader, now: float, *,
               since: float | None = None) -> Iterator[Mismatch]:
    """Every decided window (from `since`, and only where attempts are still kept) whose
    stored verdict differs from the one its stored attempts give; read in bounded batches."""
    pruned = reader.meta(PRUNED_KEY)
    floor = max(float(pruned) if pruned is not None else -math.inf,
                since if since is not None else -math.inf)
    for contract in config.contracts:
        cursor = reader.next_window(contract.name)
        if cursor is None:
            continue
        w = contract.window_seconds
        first = reader.first_window(contract.name)
        if first is None:
            continue
        start = first if floor == -math.inf else max(first, math.ceil(floor / w) * w)
        services = contract.services()
        for a in range(start, cursor, MAX_WINDOWS_PER_BATCH * w):
            b = min(cursor, a + MAX_WINDOWS_PER_BATCH * w)
            stored = {(v.service, v.window_start): v for v in reader.windows(contract.name, a, b)}
            for v in decide_range(config, contract.name, reader.outcomes_between(a, b),
                                  start=a, end=b, now=now):
                if v.service not in services:
                    continue
                old = stored.get((v.service, v.window_start))
                if old is None or not _same(old, v):
                    yield Mismatch(contract.name, v.service, v.window_start, old, v)
