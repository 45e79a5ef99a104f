"""The quorum decider on a manual clock: when windows are decided, and what a late vote does."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from probe.config import Config, parse_config
from probe.contracts.exclusions import declared_exclusions, overlay
from probe.model import Reason, Verdict, WindowVerdict
from probe.quorum.codec import Vote
from probe.quorum.decider import QuorumDecider
from probe.store import Ledger, LedgerWorker
from probe.store import quorum as store
from tests.quorum.conftest import raw_private, raw_public

EPOCH = 1_800_000_000  # a multiple of 60
KEYS = {n: Ed25519PrivateKey.generate() for n in "abc"}


@dataclass
class ManualClock:
    now: float

    def wall(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def config(state_dir: Path, extra: str = "", grace: str = "10s") -> Config:
    return parse_config(textwrap.dedent(f"""\
        probe: {{vantage: a, state_dir: "{state_dir}", grace: 1s}}
        services:
          - name: api
            checks: [{{name: h, type: http, url: "http://unused/", interval: 10s, timeout: 2s}}]
        contracts:
          - {{name: c1, window: 60s, objectives: [{{service: api, target: 99.9}}]}}
        quorum:
          signing_key: {raw_private(KEYS["a"])}
          peers: {{b: {raw_public(KEYS["b"])}, c: {raw_public(KEYS["c"])}}}
          rule: majority
          grace: {grace}
        """) + extra)


def vote(ws: int, vantage: str, v: Verdict = Verdict.UP) -> Vote:
    return Vote("c1", "api", vantage, ws, 60, v, Reason.NONE, 6, 6 * (v == Verdict.DOWN),
                (), 0, 0.0, "f")


class Rig:
    def __init__(self, cfg: Config, clock: ManualClock) -> None:
        self.ledger = Ledger(cfg.probe.state_dir)
        self.worker = LedgerWorker(self.ledger)

        def adjust(c: Config, vs: list[WindowVerdict]) -> list[WindowVerdict]:
            return [overlay(c, v, declared_exclusions(c, None)) for v in vs]

        self.decider = QuorumDecider(cfg, self.worker, clock, adjust)

    def votes(self, *votes: Vote) -> None:
        self.ledger.write(lambda c: store.store_votes(c, votes, 0.0))
        self.decider.notify_votes(votes)

    def quorum(self) -> dict[int, str]:
        return {v.window_start: v.verdict.value
                for v in self.ledger.windows("c1", 0, 2**40, "quorum")}


@pytest.fixture
async def rig(state_dir: Path) -> AsyncIterator[tuple[Rig, ManualClock]]:
    clock = ManualClock(EPOCH + 5.0)
    made = Rig(config(state_dir), clock)
    await made.decider.start()
    yield made, clock
    made.worker.close()


class TestQuorumDecider:
    async def test_a_window_with_every_vote_is_decided_at_once(
        self, rig: tuple[Rig, ManualClock]
    ) -> None:
        r, clock = rig
        r.votes(vote(EPOCH, "a", Verdict.DOWN), vote(EPOCH, "b", Verdict.DOWN),
                vote(EPOCH, "c"))
        clock.now = EPOCH + 60.5
        await r.decider.decide_ready()
        assert r.quorum() == {EPOCH: "down"}
        assert r.ledger.next_window("c1", "quorum") == EPOCH + 60

    async def test_a_window_missing_a_vote_waits_for_the_grace_then_counts_it_as_no_data(
        self, rig: tuple[Rig, ManualClock]
    ) -> None:
        r, clock = rig
        r.votes(vote(EPOCH, "a", Verdict.DOWN), vote(EPOCH, "b", Verdict.DOWN))
        clock.now = EPOCH + 60 + 3 + 9.9  # settle 3s (timeout 2s + grace 1s), grace 10s
        await r.decider.decide_ready()
        assert r.quorum() == {}
        clock.now = EPOCH + 60 + 3 + 10
        await r.decider.decide_ready()
        assert r.quorum() == {EPOCH: "down"}
        [(v, author)] = r.ledger.revisions("c1", "api", EPOCH, "quorum")
        assert author == "quorum"
        assert v.note == "quorum majority need 2 of 3: a=down,b=down,c=missing"

    async def test_a_later_window_waits_behind_an_undecided_one(self, state_dir: Path) -> None:
        clock = ManualClock(EPOCH + 5.0)
        r = Rig(config(state_dir, grace="90s"), clock)
        try:
            await r.decider.start()
            r.votes(vote(EPOCH, "a"), *(vote(EPOCH + 60, n) for n in "abc"))
            clock.now = EPOCH + 121
            await r.decider.decide_ready()
            assert r.quorum() == {}  # in order: EPOCH still waits for b and c
            clock.now = EPOCH + 60 + 3 + 90
            await r.decider.decide_ready()
            assert r.quorum() == {EPOCH: "up", EPOCH + 60: "up"}  # one witness saw it up
        finally:
            r.worker.close()

    async def test_a_late_vote_re_decides_as_a_new_revision(
        self, rig: tuple[Rig, ManualClock]
    ) -> None:
        r, clock = rig
        r.votes(vote(EPOCH, "a", Verdict.DOWN))
        clock.now = EPOCH + 80
        await r.decider.decide_ready()
        assert r.quorum() == {EPOCH: "no_data"}  # one witness of three is no quorum
        r.votes(vote(EPOCH, "b", Verdict.DOWN))
        await r.decider.decide_ready()
        r.votes(vote(EPOCH, "c", Verdict.DOWN))
        await r.decider.decide_ready()
        revisions = r.ledger.revisions("c1", "api", EPOCH, "quorum")
        assert [(v.revision, v.verdict.value, v.note.split(": ")[1]) for v, _ in revisions] == [
            (0, "no_data", "a=down,b=missing,c=missing"),
            (1, "down", "a=down,b=down,c=missing"),
            (2, "down", "a=down,b=down,c=down"),
        ]

    async def test_a_declared_exclusion_is_laid_over_the_quorum_verdict(
        self, state_dir: Path
    ) -> None:
        clock = ManualClock(EPOCH + 5.0)
        extra = textwrap.dedent("""\
            exclusions:
              - {contract: c1, start: "2027-01-15T08:00:00Z", end: "2027-01-15T08:01:00Z",
                 reason: provider_notice, reference: INC-1}
            """)
        r = Rig(config(state_dir, extra), clock)
        try:
            await r.decider.start()
            r.votes(*(vote(EPOCH, n, Verdict.DOWN) for n in "abc"))
            clock.now = EPOCH + 61
            await r.decider.decide_ready()
            [v] = r.ledger.windows("c1", 0, 2**40, "quorum")
            assert (v.verdict, v.reason) == (Verdict.EXCLUDED, Reason.DECLARED)
            assert v.note.startswith("declared:provider_notice:INC-1|was:down:")
        finally:
            r.worker.close()

    async def test_a_failed_round_keeps_the_late_windows_for_the_next(
        self, rig: tuple[Rig, ManualClock], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        r, clock = rig
        r.votes(vote(EPOCH, "a", Verdict.DOWN))
        clock.now = EPOCH + 80
        await r.decider.decide_ready()
        r.votes(vote(EPOCH, "b", Verdict.DOWN))
        real = r.ledger.write_verdicts

        def broken(*args: object, **kwargs: object) -> list[WindowVerdict]:
            raise OSError("disk full")

        monkeypatch.setattr(r.ledger, "write_verdicts", broken)
        with pytest.raises(OSError, match="disk full"):
            await r.decider.decide_ready()
        monkeypatch.setattr(r.ledger, "write_verdicts", real)
        await r.decider.decide_ready()
        assert r.quorum() == {EPOCH: "down"}
