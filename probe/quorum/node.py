"""One daemon's part in the quorum: the outbox hook, the MQTT link, the quorum decider.

The hook runs inside the ledger transaction that writes local verdicts, so each verdict and
its signed outbox row (and this vantage's own vote) commit together or not at all: a crash
can neither lose a verdict's publication nor publish a verdict the ledger does not hold.
The published verdict is the one measured here, before maintenance or declared exclusions
(those are contract facts every decider lays over the quorum verdict itself).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from probe.contracts.exclusions import measured
from probe.model import WindowVerdict
from probe.quorum.codec import PeerKey, Vote, encode, fingerprint, load_private_key
from probe.quorum.decider import SCOPE, Adjust, QuorumDecider
from probe.quorum.link import MqttLink
from probe.store import quorum as store
from probe.verdicts import window_start

if TYPE_CHECKING:
    from probe.clock import Clock
    from probe.config import Config
    from probe.store import LedgerReader, LedgerWorker, Transaction


class QuorumNode:
    def __init__(self, config: Config, worker: LedgerWorker, clock: Clock,
                 adjust: Adjust | None = None) -> None:
        quorum = config.quorum
        assert quorum is not None
        assert quorum.signing_key is not None
        self.quorum = quorum
        self.vantage = config.probe.vantage
        self._clock = clock
        self._worker = worker
        self._key = load_private_key(quorum.signing_key.get_secret_value())
        keys = quorum.peer_keys()
        keys[self.vantage] = (PeerKey(self._key.public_key()), *keys.get(self.vantage, ()))
        self.instance = secrets.token_hex(8)  # this process: a twin has another one
        self.config = config
        self._fingerprints: dict[str, str] = {}
        self._services: dict[str, set[str]] = {}
        self._windows: dict[str, int] = {}
        self.set_config(config)
        self.decider = QuorumDecider(config, worker, clock, adjust) if quorum.decides else None
        self.link = MqttLink(
            quorum=quorum, vantage=self.vantage, worker=worker, clock=clock, key=self._key,
            keys=keys, check_vote=self.check_vote, on_votes=self._on_votes,
            resync_from=self.resync_from, instance=self.instance,
        )

    def set_config(self, config: Config) -> None:
        """A reloaded config: new contract fingerprints (broker and keys need a restart)."""
        self.config = config
        self._fingerprints = {c.name: fingerprint(c) for c in config.contracts}
        self._services = {c.name: set(c.services()) for c in config.contracts}
        self._windows = {c.name: c.window_seconds for c in config.contracts}
        decider = getattr(self, "decider", None)
        if decider is not None:
            decider.config = config

    # -- local verdicts out ------------------------------------------------------------------

    def outbox_hook(self, conn: Transaction, written: list[WindowVerdict]) -> None:
        """Ledger thread, inside the verdicts' transaction: sign, enqueue, record own vote."""
        votes = [Vote.of(measured(v), self.vantage, self._fingerprints[v.contract], self.instance)
                 for v in written if v.scope == "local" and v.contract in self._fingerprints]
        if not votes:
            return
        now = max(v.decided_at for v in written)
        store.enqueue(conn, [(v.topic, encode(v.payload(), self._key), v.contract,
                              v.window_start) for v in votes], now)
        if self.quorum.decides:
            store.store_votes(conn, votes, now)

    def on_local_verdicts(self, verdicts: Sequence[WindowVerdict]) -> None:
        """Verdict listener (event loop, after the commit): wake the sender and the decider."""
        local = [v for v in verdicts if v.scope == "local"]
        if not local:
            return
        self.link.wake.set()
        if self.decider is not None:
            self.decider.notify((v.contract, v.window_start) for v in local)

    # -- votes in ----------------------------------------------------------------------------

    def check_vote(self, vote: Vote) -> tuple[str, str] | None:
        """(reason, detail) when a verified vote does not fit this daemon's contracts."""
        expected = self._fingerprints.get(vote.contract)
        if expected is None:
            return "unknown_contract", f"{vote.vantage!r} voted on unknown {vote.contract!r}"
        if vote.service not in self._services[vote.contract]:
            return "unknown_service", (f"{vote.vantage!r} voted on {vote.service!r}, not an "
                                       f"objective of {vote.contract!r}")
        if vote.fingerprint != expected:
            return "config_mismatch", (f"{vote.vantage!r} decided {vote.contract!r} under a "
                                       "different contract config (sha256 differs)")
        return self._check_time(vote)

    def _check_time(self, vote: Vote) -> tuple[str, str] | None:
        """A vote must be for a window of the contract's grid that could have been measured
        and that may still be resent: a window closed long ago (a settled month), a window
        not measured yet (it would block the genuine vote), or one that overlaps the grid
        (an extra quorum row) would each change the record without a measurement behind it."""
        w = self._windows[vote.contract]
        now = self._clock.wall()
        where = f"{vote.vantage!r} voted on {vote.contract!r} window {vote.window_start}"
        if vote.window_seconds != w or vote.window_start % w:
            return "off_grid", f"{where}+{vote.window_seconds}s, not on its {w}s grid"
        if vote.window_start > window_start(now, w) + w:
            return "future", f"{where}, more than one window ahead"
        if vote.window_start + w < now - self.quorum.resync_max:
            return "too_old", f"{where}, older than resync_max"
        return None

    def _on_votes(self, votes: Sequence[Vote]) -> None:
        if self.decider is not None:
            self.decider.notify_votes(votes)

    async def resync_from(self, lost_at: float | None) -> int:
        """The window from which peers should resend after a (re)connect."""
        now = self._clock.wall()
        longest = max((c.window_seconds for c in self.config.contracts), default=60)
        margin = 2 * longest + self.quorum.grace + self.config.max_timeout() \
            + self.config.probe.grace
        if lost_at is None:  # first connect of this process: from the undecided windows on
            starts = [self.decider.started_at] if self.decider and self.decider.started_at \
                else []
            lost_at = min([now, *starts])
            reader_cursors = await self._worker.call(self._cursors)
            if reader_cursors:
                lost_at = min(lost_at, *reader_cursors)
        horizon = now - self.quorum.resync_max
        since = lost_at - margin
        if self.decider is not None:  # also from the oldest window that still lacks a vote
            missing = await self._worker.call(self._worker.ledger.read, self._oldest_missing)
            if missing is not None:
                since = min(since, missing)
        return int(max(since, horizon))

    def _oldest_missing(self, conn: Transaction) -> int | None:
        """Oldest window within the resync horizon that lacks a vote of an expected vantage.

        Noticing the loss late (a paused process, a broker that restarted unseen) must not
        shrink what is asked for: what is missing is in the ledger, not in the clock.
        """
        now = self._clock.wall()
        voters = self.quorum.voters(self.vantage)
        found = [store.oldest_missing(conn, c.name, services=sorted(self._services[c.name]),
                                      voters=voters, start=int(now - self.quorum.resync_max),
                                      end=int(now), window=c.window_seconds)
                 for c in self.config.contracts if c.name in self._services]
        return min((f for f in found if f is not None), default=None)

    def _cursors(self) -> list[float]:
        ledger = self._worker.ledger
        out: list[float] = []
        for contract in self.config.contracts:
            value = ledger.next_window(contract.name, SCOPE)
            if value is not None:
                out.append(float(value))
        return out

    # -- metrics -----------------------------------------------------------------------------

    def metric_families(self, config: Config, reader: LedgerReader,
                        now: float) -> Iterator[Metric]:
        unsent, oldest, _ = reader.read(store.outbox_state)
        yield GaugeMetricFamily("sla_probe_quorum_outbox_pending",
                                "Signed verdicts waiting in the outbox for the broker.",
                                value=unsent)
        age = GaugeMetricFamily("sla_probe_quorum_outbox_oldest_age_seconds",
                                "Age of the oldest unsent outbox row (0 when empty).",
                                value=0.0 if oldest is None else max(0.0, now - oldest))
        yield age
        yield GaugeMetricFamily("sla_probe_quorum_broker_connected",
                                "1 while the MQTT link is connected.",
                                value=1.0 if self.link.connected else 0.0)
        yield GaugeMetricFamily("sla_probe_quorum_duplicate_vantage",
                                "1 when another process publishes as this vantage (it then "
                                "refuses to publish).",
                                value=0.0 if self.link.duplicate is None else 1.0)
        yield GaugeMetricFamily("sla_probe_quorum_vantages",
                                "Vantages expected to vote on each window.",
                                value=len(self.quorum.voters(self.vantage)))
        rejected = CounterMetricFamily(
            "sla_probe_quorum_rejected", "Received messages rejected, by reason.",
            labels=["reason"])
        for reason, count in reader.read(store.rejections):
            rejected.add_metric([reason], count)
        yield rejected
        votes = CounterMetricFamily(
            "sla_probe_quorum_votes", "Window votes stored, by vantage.", labels=["vantage"])
        seen = GaugeMetricFamily(
            "sla_probe_quorum_vantage_last_vote_timestamp_seconds",
            "When the latest vote of each vantage was stored.", labels=["vantage"])
        for vantage, count, last in reader.read(store.vantage_stats):
            votes.add_metric([vantage], count)
            seen.add_metric([vantage], last)
        yield votes
        yield seen
