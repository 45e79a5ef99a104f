"""Quorum verdicts: every window of every contract, from the votes the ledger holds.

Windows are decided in order, per contract, as soon as every expected vantage has voted for
every service, or once `grace` has passed after the window settled (a vantage that has not
reported by then counts as `no_data`). The cursor (`scope="quorum"`) commits with the
verdicts. A vote that arrives for a window already decided re-decides that window; a
different outcome, or different votes, is a new revision (author `quorum`), the votes are in
its note. Exclusions (maintenance, declared) are laid over the result like over local ones.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import structlog

from probe.model import MAX_WINDOWS_PER_BATCH, WindowVerdict
from probe.quorum.codec import Vote
from probe.quorum.rules import QuorumRule, decide_quorum
from probe.store import quorum as store
from probe.verdicts import window_start

if TYPE_CHECKING:
    from probe.clock import Clock
    from probe.config import Config
    from probe.contracts.model import ContractConfig
    from probe.store import LedgerWorker

log = structlog.get_logger("sla_probe.quorum")

SCOPE = "quorum"
AUTHOR = "quorum"

Adjust = Callable[["Config", list[WindowVerdict]], list[WindowVerdict]]


class QuorumDecider:
    def __init__(
        self,
        config: Config,
        worker: LedgerWorker,
        clock: Clock,
        adjust: Adjust | None = None,
    ) -> None:
        assert config.quorum is not None
        # The rule and the voters stay as started (a reload changes only the contracts).
        self._rule = QuorumRule(config.quorum.rule, config.quorum.k, config.quorum.min_votes)
        self._voters = config.quorum.voters(config.probe.vantage)
        self._grace = config.quorum.grace
        self.config = config
        self._worker = worker
        self._clock = clock
        self._adjust = adjust
        self._late: set[tuple[str, int]] = set()
        self.wake = asyncio.Event()
        self.started_at: float | None = None
        self.decided = 0
        self.listeners: list[Callable[[Sequence[WindowVerdict]], None]] = []

    @property
    def _quorum(self) -> tuple[QuorumRule, tuple[str, ...], float]:
        return self._rule, self._voters, self._grace

    @property
    def settle(self) -> float:
        """When a window's local verdicts are due: as for the local decider."""
        return self.config.max_timeout() + self.config.probe.grace

    def notify(self, windows: Iterable[tuple[str, int]]) -> None:
        """New or changed votes for these (contract, window_start): decide them again."""
        self._late.update(windows)
        self.wake.set()

    def notify_votes(self, votes: Sequence[Vote]) -> None:
        self.notify((v.contract, v.window_start) for v in votes)

    async def start(self) -> None:
        """A contract seen for the first time starts its quorum at the current window."""
        now = self._clock.wall()
        if self.started_at is None:
            self.started_at = now
        ledger = self._worker.ledger
        cursors: dict[tuple[str, str], int] = {}
        for contract in self.config.contracts:
            if await self._worker.call(ledger.next_window, contract.name, SCOPE) is None:
                cursors[(contract.name, SCOPE)] = window_start(now, contract.window_seconds)
        if cursors:
            await self._worker.call(ledger.write_verdicts, [], AUTHOR, cursors)

    def due(self, ws: int, contract: ContractConfig) -> float:
        """When window `ws` is decided even with votes missing."""
        _, _, grace = self._quorum
        late_start = (self.started_at or 0.0) + grace
        return max(ws + contract.window_seconds + self.settle + grace, late_start)

    async def decide_ready(self) -> list[WindowVerdict]:
        late, self._late = self._late, set()
        try:
            written = await self._decide_ready(late)
        except BaseException:
            self._late |= late  # decide them on the next round
            raise
        if written:
            self.decided += len(written)
            for listener in self.listeners:
                try:
                    listener(written)
                except Exception:
                    log.exception("quorum_listener_failed")
        return written

    async def _decide_ready(self, late: set[tuple[str, int]]) -> list[WindowVerdict]:
        now = self._clock.wall()
        ledger = self._worker.ledger
        written: list[WindowVerdict] = []
        for contract in self.config.contracts:
            cursor = await self._worker.call(ledger.next_window, contract.name, SCOPE)
            if cursor is None:
                continue
            w = contract.window_seconds
            again = sorted(ws for name, ws in late if name == contract.name and ws < cursor)
            end = min(window_start(now, w), cursor + MAX_WINDOWS_PER_BATCH * w)
            fresh, new_cursor = await self._fresh(contract, cursor, end, now)
            verdicts = fresh + await self._again(contract, again, now)
            if not verdicts and new_cursor == cursor:
                continue
            if self._adjust is not None and verdicts:
                verdicts = await self._worker.call(self._adjust, self.config, verdicts)
            written += await self._worker.call(
                ledger.write_verdicts, verdicts, AUTHOR, {(contract.name, SCOPE): new_cursor})
        return written

    def _decide(self, contract: ContractConfig, ws: int, by_window: dict[tuple[int, str],
                dict[str, Vote]], now: float) -> list[WindowVerdict]:
        rule, voters, _ = self._quorum
        return [
            decide_quorum(contract=contract.name, service=service, window_start=ws,
                          window_seconds=contract.window_seconds, voters=voters,
                          votes=by_window.get((ws, service), {}), rule=rule, decided_at=now)
            for service in contract.services()
        ]

    async def _fresh(self, contract: ContractConfig, cursor: int, end: int,
                     now: float) -> tuple[list[WindowVerdict], int]:
        """Windows from the cursor on that are complete or due; stops at the first that is not."""
        if end <= cursor:
            return [], cursor
        _, voters, _ = self._quorum
        expected = set(voters)
        by_window = await self._worker.call(
            self._worker.ledger.read,
            lambda c: store.votes_between(c, contract.name, cursor, end))
        out: list[WindowVerdict] = []
        ws = cursor
        while ws < end:
            complete = all(expected <= set(by_window.get((ws, s), {}))
                           for s in contract.services())
            if not complete and now < self.due(ws, contract):
                break
            out += self._decide(contract, ws, by_window, now)
            ws += contract.window_seconds
        return out, ws

    async def _again(self, contract: ContractConfig, windows: Sequence[int],
                     now: float) -> list[WindowVerdict]:
        if not windows:
            return []
        w = contract.window_seconds
        groups: dict[int, list[int]] = defaultdict(list)
        for ws in windows:  # read contiguous runs of late windows in one query each
            groups[ws // (w * MAX_WINDOWS_PER_BATCH)].append(ws)
        out: list[WindowVerdict] = []
        for group in groups.values():
            lo, hi = min(group), max(group) + w
            by_window = await self._worker.call(
                self._worker.ledger.read,
                lambda c, lo=lo, hi=hi: store.votes_between(c, contract.name, lo, hi))
            for ws in group:
                out += self._decide(contract, ws, by_window, now)
        return out

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.decide_ready()
            except Exception:
                log.exception("quorum_decide_failed")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_or_stop(stop), self._sleep())

    def _sleep(self) -> float:
        smallest = min((c.window_seconds for c in self.config.contracts), default=60)
        return max(0.05, min(smallest / 4, 1.0))

    async def _wake_or_stop(self, stop: asyncio.Event) -> None:
        waiters = {asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
