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
messages are verified, then stored in batches (one transaction each); rejected ones are
logged and counted by reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import structlog

from probe.quorum.codec import SYNC, VERDICTS, RejectedError, SyncRequest, Vote, decode, encode
from probe.store import quorum as store

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

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
        keys: dict[str, Ed25519PublicKey],
        check_vote: Callable[[Vote], tuple[str, str] | None],
        on_votes: Callable[[Sequence[Vote]], None],
        resync_from: Callable[[float | None], Awaitable[int]],
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

    async def _session(self) -> None:
        broker = self.quorum.broker
        password = None if broker.password is None else broker.password.get_secret_value()
        async with aiomqtt.Client(
            broker.host, broker.broker_port, username=broker.username, password=password,
            identifier=broker.client_id or f"sla-probe-{self.vantage}", clean_session=True,
            keepalive=broker.keepalive, timeout=broker.timeout,
            tls_context=broker.ssl_context(),
        ) as client:
            client.pending_calls_threshold = PUBLISH_BATCH + 10  # a batch in flight is normal
            self.connected = True
            self.connects += 1
            log.info("mqtt_connected", broker=broker.address, connects=self.connects)
            await client.subscribe(f"{SYNC}/+", qos=1)
            since = await self._resync_from(self._lost_at)
            if self._lost_at is not None:
                # what the broker acknowledged just before it went away may never have been
                # delivered: send our own recent verdicts again (receivers drop duplicates)
                await self._worker.call(self._worker.ledger.write,
                                        lambda c: store.requeue_since(c, since))
            if self.quorum.decides:
                await client.subscribe(f"{VERDICTS}/#", qos=1)
                request = SyncRequest(self.vantage, since, self._clock.wall())
                await client.publish(request.topic, encode(request.payload(), self._key), qos=1)
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
            first = await self._inbox.get()
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
                message = decode(topic, data, self._keys)
            except RejectedError as exc:
                problem: tuple[str, str] | None = (exc.reason, exc.detail)
            else:
                problem = self._check_vote(message) if isinstance(message, Vote) else None
            if problem is not None:
                rejected.append(problem[0])
                if self._may_log(problem[0]):
                    log.warning("quorum_message_rejected", reason=problem[0],
                                detail=problem[1], topic=topic[:200])
                continue
            if message.vantage == self.vantage:
                continue  # our own message, back from the broker
            if isinstance(message, Vote):
                votes.append(message)
            else:
                syncs.append(message)
        return votes, syncs, rejected

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
        now = self._clock.wall()
        horizon = int(now - self.quorum.resync_max)

        def write(conn: Transaction) -> tuple[list[Vote], int]:
            changed = store.store_votes(conn, votes, now) if self.quorum.decides else []
            requeued = sum(store.requeue_since(conn, max(s.since, horizon)) for s in syncs)
            store.count_rejections(conn, rejected)
            return changed, requeued

        changed, requeued = await self._worker.call(self._worker.ledger.write, write)
        for s in syncs:
            log.info("quorum_resync_requested", by=s.vantage, since=s.since, requeued=requeued)
        if requeued:
            self.wake.set()
        if changed:
            self._on_votes(changed)
