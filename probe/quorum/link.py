"""The MQTT link: publish the outbox in order, receive and verify the peers' votes.

One connection at a time, re-established with jittered, capped exponential backoff. While
the broker is away nothing is lost: verdicts wait in the ledger's outbox and go out, oldest
first, after the next connect; a row is marked sent only after the broker acknowledged it
(QoS 1), so a drop mid-flight sends it again and receivers drop the duplicate.

A broker without persistence forgets everything when it restarts, including what it had
acknowledged but not yet delivered. So after each reconnect a daemon puts its own recent
outbox rows back in line, and a deciding daemon publishes a signed sync request
(`sla-probe/v1/sync/<vantage>`, "resend from window X on") after each connect; every daemon
that receives one puts its outbox rows from X on back in line. Each daemon subscribes before
it publishes anything, so whichever reconnects first, the other's rows reach it. Received
messages are verified one by one, then stored in batches (one transaction each); rejected
ones are logged and counted by reason. A message that breaks anything (parser, a field, the
store) is one counted `malformed` rejection: it never takes its neighbours down with it,
since a publisher that could make a decider drop genuine votes could erase outages.

Two processes with one vantage name (a copied config) would each speak for the vantage; every
process signs a random instance id into what it publishes, so a process that receives a live
message signed for its own vantage by another instance stops publishing and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import structlog

from probe.quorum.codec import (
    SYNC,
    VERDICTS,
    PeerKey,
    RejectedError,
    SyncRequest,
    Vote,
    decode,
    encode,
)
from probe.store import quorum as store

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from probe.clock import Clock
    from probe.quorum.config import QuorumConfig
    from probe.store import LedgerWorker, Transaction

try:
    import aiomqtt
except ImportError:  # pragma: no cover - only without the `mqtt` extra
    aiomqtt = None  # type: ignore[assignment]

log = structlog.get_logger("sla_probe.quorum")

PUBLISH_BATCH = 100
RECEIVE_BATCH = 500
PRUNE_EVERY = 3600.0
LOG_BURST = 20
SYNC_FRESH = 120.0  # a sync request older (or newer) than this is a replay or a broken clock
SYNC_INTERVAL = 5.0  # per requester: one accepted request per interval unless it asks more


class MissingMqttError(RuntimeError):
    pass


def backoff(attempt: int, low: float, high: float, rng: random.Random) -> float:
    """Capped exponential backoff with jitter: in [cap/2, cap], cap = min(high, low * 2^n)."""
    cap = min(high, low * (2 ** min(attempt, 30)))
    return rng.uniform(cap / 2, cap)


def _leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _leaf(first) if isinstance(first, BaseExceptionGroup) else first


class MqttLink:
    def __init__(
        self,
        *,
        quorum: QuorumConfig,
        vantage: str,
        worker: LedgerWorker,
        clock: Clock,
        key: Ed25519PrivateKey,
        keys: dict[str, tuple[PeerKey, ...]],
        check_vote: Callable[[Vote], tuple[str, str] | None],
        on_votes: Callable[[Sequence[Vote]], None],
        resync_from: Callable[[float | None], Awaitable[int]],
        instance: str = "",
    ) -> None:
        if aiomqtt is None:
            raise MissingMqttError("quorum needs the mqtt extra: pip install 'sla-probe[mqtt]'")
        self.quorum = quorum
        self.vantage = vantage
        self._worker = worker
        self._clock = clock
        self._key = key
        self._keys = keys
        self._check_vote = check_vote
        self._on_votes = on_votes
        self._resync_from = resync_from
        self.wake = asyncio.Event()
        self.connected = False
        self.subscribed = False
        self.connects = 0
        self.published = 0
        self._inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._lost_at: float | None = None
        self._pruned_at = 0.0
        self._logged: dict[tuple[str, int], int] = {}
        self._rng = random.Random()  # noqa: S311 - jitter, not cryptography
        self.instance = instance
        self.started_at = clock.wall()
        self.duplicate: str | None = None  # the other instance publishing as this vantage
        self._announced = False
        self._seen: dict[tuple[str, str], float] = {}  # (requester, instance): newest sent_at
        self._served: dict[str, float] = {}  # requester: when its last request was served
        self._deferred: dict[str, int] = {}  # requester: oldest `since` asked while limited

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        storer = asyncio.create_task(self._store_loop(), name="mqtt-inbox")
        try:
            await self._connect_loop(stop)
        finally:
            storer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await storer
            await self._drain_inbox()

    async def _connect_loop(self, stop: asyncio.Event) -> None:
        broker = self.quorum.broker
        attempt = 0
        while not stop.is_set():
            session = asyncio.create_task(self._session(), name="mqtt-session")
            stopping = asyncio.create_task(stop.wait(), name="mqtt-stop-wait")
            await asyncio.wait({session, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not session.done():
                session.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await session
                except aiomqtt.MqttError as exc:
                    log.warning("mqtt_unavailable", broker=broker.address, error=str(exc),
                                retry=attempt)
                except Exception:
                    log.exception("mqtt_link_failed", broker=broker.address)
            if self.connected:
                attempt = 0
                self._lost_at = self._clock.wall()
            self.connected = self.subscribed = False
            if stop.is_set():
                break
            delay = backoff(attempt, broker.reconnect_min, broker.reconnect_max, self._rng)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    @property
    def client_id(self) -> str:
        """Unique per process: twins must not knock each other off the broker unnoticed."""
        return f"sla-probe-{self.vantage}-{self.instance[:12]}" if self.instance \
            else f"sla-probe-{self.vantage}"

    async def _session(self) -> None:
        broker = self.quorum.broker
        password = None if broker.password is None else broker.password.get_secret_value()
        async with aiomqtt.Client(
            broker.host, broker.broker_port, username=broker.username, password=password,
            identifier=broker.client_id or self.client_id, clean_session=True,
            keepalive=broker.keepalive, timeout=broker.timeout,
            tls_context=broker.ssl_context(),
        ) as client:
            client.pending_calls_threshold = PUBLISH_BATCH + 10  # a batch in flight is normal
            self.connected = True
            self.connects += 1
            log.info("mqtt_connected", broker=broker.address, connects=self.connects)
            await client.subscribe(f"{SYNC}/+", qos=1)
            # every role hears its own name: that is how a twin is noticed
            await client.subscribe(f"{VERDICTS}/+/+/{self.vantage}", qos=1)
            since = await self._resync_from(self._lost_at)
            if self._lost_at is not None:
                # what the broker acknowledged just before it went away may never have been
                # delivered: send our own recent verdicts again (receivers drop duplicates)
                await self._worker.call(self._worker.ledger.write,
                                        lambda c: store.requeue_since(c, since))
            if self.quorum.decides:
                await client.subscribe(f"{VERDICTS}/#", qos=1)
                if self.duplicate is None:
                    request = SyncRequest(self.vantage, since, self._clock.wall(), self.instance)
                    await client.publish(request.topic, encode(request.payload(), self._key),
                                         qos=1)
            self.subscribed = True
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._send_loop(client), name="mqtt-send")
                    group.create_task(self._receive_loop(client), name="mqtt-receive")
            except ExceptionGroup as group_error:
                lost = group_error.subgroup(lambda e: isinstance(e, aiomqtt.MqttError))
                if lost is None:
                    raise
                raise _leaf(lost) from None  # the connection dropped: reconnect, no traceback

    # -- sending -----------------------------------------------------------------------------

    async def _send_loop(self, client: aiomqtt.Client) -> None:
        ledger = self._worker.ledger
        while True:
            self.wake.clear()
            if self.duplicate is not None:  # refuse to speak for a vantage two processes claim
                if not self._announced:
                    await self._announce(client)
                await self.wake.wait()
                continue
            rows = await self._worker.call(ledger.read,
                                           lambda c: store.pending(c, PUBLISH_BATCH))
            if not rows:
                await self._prune()
                await self.wake.wait()
                continue
            await asyncio.gather(*(client.publish(topic, payload, qos=1)
                                   for _, topic, payload in rows))
            ids = [row[0] for row in rows]
            await self._worker.call(ledger.write, store.mark_sent_fn(ids, self._clock.wall()))
            self.published += len(ids)

    async def _announce(self, client: aiomqtt.Client) -> None:
        """One live signed message after a twin was noticed, so the twin notices too (a
        silent process could not be told apart from one that stopped): a sync request for
        the current moment, which asks the peers to resend next to nothing."""
        self._announced = True
        now = self._clock.wall()
        request = SyncRequest(self.vantage, int(now), now, self.instance)
        await client.publish(request.topic, encode(request.payload(), self._key), qos=1)

    async def _prune(self) -> None:
        """Drop sent rows older than `outbox_retention`, at most once per PRUNE_EVERY."""
        now = self._clock.wall()
        if now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        before = now - self.quorum.outbox_retention
        removed = await self._worker.call(self._worker.ledger.write,
                                          lambda c: store.prune_outbox(c, before))
        if removed:
            log.info("quorum_outbox_pruned", removed=removed)

    # -- receiving ---------------------------------------------------------------------------

    async def _receive_loop(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            data = payload if isinstance(payload, bytes) else str(payload).encode()
            self._inbox.put_nowait((str(message.topic), data))

    async def _store_loop(self) -> None:
        while True:
            try:
                first = await asyncio.wait_for(self._inbox.get(), self._deferred_wait())
            except TimeoutError:  # a rate-limited sync request is due
                await self._store([])
                continue
            batch = [first]
            while len(batch) < RECEIVE_BATCH and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            try:
                await self._store(batch)
            except Exception:
                log.exception("quorum_store_failed", messages=len(batch))

    async def _drain_inbox(self) -> None:
        batch: list[tuple[str, bytes]] = []
        while not self._inbox.empty():
            batch.append(self._inbox.get_nowait())
        if batch:
            with contextlib.suppress(Exception):
                await self._store(batch)

    def _verify(self, batch: Sequence[tuple[str, bytes]]
                ) -> tuple[list[Vote], list[SyncRequest], list[str]]:
        votes: list[Vote] = []
        syncs: list[SyncRequest] = []
        rejected: list[str] = []
        for topic, data in batch:
            try:
                problem, message = self._check(topic, data)
            except Exception as exc:  # anything a message breaks is that message's fault
                problem, message = ("malformed", f"unreadable ({type(exc).__name__})"), None
            if problem is not None:
                self._reject(rejected, problem, topic)
            elif isinstance(message, Vote):
                votes.append(message)
            elif isinstance(message, SyncRequest):
                syncs.append(message)
        return votes, syncs, rejected

    def _reject(self, rejected: list[str], problem: tuple[str, str], topic: str) -> None:
        rejected.append(problem[0])
        if self._may_log(problem[0]):
            log.warning("quorum_message_rejected", reason=problem[0],
                        detail=problem[1], topic=topic[:200])

    def _check(self, topic: str, data: bytes
               ) -> tuple[tuple[str, str] | None, Vote | SyncRequest | None]:
        """(problem, None) to reject; (None, None) to ignore; (None, message) to accept."""
        try:
            message = decode(topic, data, self._keys)
        except RejectedError as exc:
            return (exc.reason, exc.detail), None
        if message.vantage == self.vantage:
            self._own(message)
            return None, None  # our own message, back from the broker
        if isinstance(message, Vote):
            return self._check_vote(message), message
        return self._check_sync(message), message

    def _own(self, message: Vote | SyncRequest) -> None:
        """A live message signed for this vantage by another process: a twin."""
        live = (message.decided_at if isinstance(message, Vote) else message.sent_at) \
            >= self.started_at
        if not live or not message.instance or not self.instance \
                or message.instance == self.instance or self.duplicate is not None:
            return
        self.duplicate = message.instance
        self.wake.set()  # the send loop stops, and tells the twin once
        log.error("quorum_duplicate_vantage", vantage=self.vantage, ours=self.instance,
                  other=message.instance,
                  why="another process publishes as this vantage with its key; this one "
                      "stops publishing until it is restarted")

    def _check_sync(self, s: SyncRequest) -> tuple[str, str] | None:
        """Fresh, not seen before, and served at most once per SYNC_INTERVAL per requester.

        A request inside the interval is dropped and counted, but what it asked for is kept
        (the oldest `since`) and served when the interval ends: a peer that reconnects twice
        in a row still gets what it missed, and a flood costs one resend per interval.
        """
        now = self._clock.wall()
        if abs(now - s.sent_at) > SYNC_FRESH:
            return "stale_sync", f"{s.vantage!r} sent it {now - s.sent_at:.0f} s ago"
        if s.sent_at <= self._seen.get((s.vantage, s.instance), float("-inf")):
            return "replayed_sync", f"{s.vantage!r} sent a newer request already"
        self._seen[(s.vantage, s.instance)] = s.sent_at
        if now - self._served.get(s.vantage, float("-inf")) < SYNC_INTERVAL:
            self._deferred[s.vantage] = min(self._deferred.get(s.vantage, s.since), s.since)
            return "sync_rate_limited", (f"{s.vantage!r} asked less than "
                                         f"{SYNC_INTERVAL:.0f} s ago; served later")
        self._served[s.vantage] = now
        return None

    def _due_deferred(self) -> list[SyncRequest]:
        now = self._clock.wall()
        due = [v for v in self._deferred if now - self._served.get(v, 0.0) >= SYNC_INTERVAL]
        for v in due:
            self._served[v] = now
        return [SyncRequest(v, self._deferred.pop(v), now) for v in due]

    def _deferred_wait(self) -> float | None:
        if not self._deferred:
            return None
        now = self._clock.wall()
        return max(0.05, min(self._served.get(v, 0.0) + SYNC_INTERVAL - now
                             for v in self._deferred))

    def _may_log(self, reason: str) -> bool:
        """At most LOG_BURST rejection lines per reason and minute; the metric counts all."""
        minute = int(self._clock.wall() // 60)
        key = (reason, minute)
        count = self._logged.get(key, 0)
        if count == 0:
            self._logged = {k: v for k, v in self._logged.items() if k[1] == minute}
        self._logged[key] = count + 1
        if count == LOG_BURST:
            log.warning("quorum_rejections_suppressed", reason=reason,
                        why=f"more than {LOG_BURST} this minute; see the metric")
        return count < LOG_BURST

    async def _store(self, batch: Sequence[tuple[str, bytes]]) -> None:
        votes, syncs, rejected = self._verify(batch)
        syncs += self._due_deferred()
        if not (votes or syncs or rejected):
            return
        try:
            changed, requeued = await self._write(votes, syncs, rejected)
        except Exception:  # one bad row must not drop the batch: again, message by message
            log.exception("quorum_store_batch_failed", messages=len(batch))
            changed, requeued = [], 0
            bad: list[str] = []
            items: list[Vote | SyncRequest] = [*votes, *syncs]
            for item in items:
                try:
                    got, n = await (self._write([item], [], []) if isinstance(item, Vote)
                                    else self._write([], [item], []))
                except Exception:
                    self._reject(bad, ("malformed", "could not be stored"), item.topic)
                    continue
                changed += got
                requeued += n
            await self._write([], [], [*rejected, *bad])
        for s in syncs:
            if self._may_log("resync_requested"):
                log.info("quorum_resync_requested", by=s.vantage, since=s.since,
                         requeued=requeued)
        if requeued:
            self.wake.set()
        if changed:
            self._on_votes(changed)

    async def _write(self, votes: Sequence[Vote], syncs: Sequence[SyncRequest],
                     rejected: Sequence[str]) -> tuple[list[Vote], int]:
        now = self._clock.wall()
        horizon = int(now - self.quorum.resync_max)

        def write(conn: Transaction) -> tuple[list[Vote], int]:
            changed = store.store_votes(conn, votes, now) if self.quorum.decides else []
            requeued = sum(store.requeue_since(conn, max(s.since, horizon)) for s in syncs)
            store.count_rejections(conn, rejected)
            return changed, requeued

        return await self._worker.call(self._worker.ledger.write, write)
