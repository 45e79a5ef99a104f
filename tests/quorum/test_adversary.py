"""Issue 14: a publisher on the broker must not bend the quorum. Real Mosquitto, real daemons.

Poison messages, votes off the window grid or out of time, replayed sync requests, and a twin
(two processes with one vantage name): each is refused, counted by reason, and never costs a
genuine vote.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import json
import re
import time

import pytest

from probe import logs
from probe.config import parse_config
from probe.daemon import Daemon
from probe.model import Reason, Verdict
from probe.quorum.codec import SyncRequest, Vote, encode
from probe.quorum.link import SYNC_INTERVAL
from tests.quorum.conftest import Cluster, Vantage
from tests.quorum.test_real_broker import have, metrics, next_window, settle
from tests.servers import ScheduledTarget, wait_until

aiomqtt = pytest.importorskip("aiomqtt")


def counter(text: str, reason: str) -> float:
    found = re.search(rf'sla_probe_quorum_rejected_total\{{reason="{reason}"\}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


async def subscribed(cluster: Cluster) -> None:
    await wait_until(lambda: all(
        v.daemon is not None and v.daemon.quorum is not None
        and v.daemon.quorum.link.subscribed for v in cluster.vantages.values()
        if v.daemon is not None), 15)


def poison(n: int) -> bytes:
    """Five kinds of message that used to escape `decode` or cost memory."""
    kind = n % 5
    if kind == 0:
        return b"[" * 3000  # RecursionError in the JSON parser
    if kind == 1:  # a lone surrogate in the signed text: UnicodeEncodeError before verify
        text = json.dumps({"v": 1, "kind": "verdict", "vantage": "b", "x": "\ud800"})
        return json.dumps({"payload": text, "signature": base64.b64encode(b"s" * 64).decode()}
                          ).encode()
    if kind == 2:
        return b'{"payload": "' + b"x" * 40_000 + b'", "signature": ""}'
    if kind == 3:  # deep nesting inside the payload text
        text = '{"vantage": "b", "kind": "verdict", "d": ' + "[" * 50 + "]" * 50 + "}"
        return json.dumps({"payload": text, "signature": ""}).encode()
    return b"\xff\xfe not even utf-8"


@pytest.mark.real
class TestPoisonAndFlood:
    async def test_poison_messages_are_counted_and_cost_no_genuine_vote(
        self, cluster: Cluster
    ) -> None:
        first = next_window()
        outage = set(range(first + 2, first + 6))

        def failing(t: float) -> bool:
            return first + 2 <= t < first + 6 + 0.1

        observed = range(first, first + 8)
        truth = {w: "down" if w in outage else "up" for w in observed}
        sent = 0
        async with ScheduledTarget(failing) as vendor, ScheduledTarget() as control:
            for name in cluster.vantages:
                await cluster.start(name, cluster.config(
                    name, target=vendor.url, control=control.url, window=1))
            await subscribed(cluster)
            async with aiomqtt.Client("127.0.0.1", cluster.broker.port) as attacker:
                deadline = time.monotonic() + 6  # about 200 messages a second, 6 s long
                while time.monotonic() < deadline and sent < 1500:
                    await attacker.publish("sla-probe/v1/verdicts/vendor/api/b", poison(sent),
                                           qos=1)
                    sent += 1
                    if sent % 20 == 0:
                        await asyncio.sleep(0.1)
            ports = [v.daemon.bound_port for v in cluster.vantages.values() if v.daemon]

            async def counted() -> list[float]:
                return [counter(await metrics(p), "malformed") for p in ports]

            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                done = all({w: v.verdicts("vendor").get(w) for w in observed} == truth
                           for v in cluster.vantages.values())
                if done and await counted() == [float(sent)] * 3:
                    break
                await asyncio.sleep(0.2)
            got = await counted()
            await cluster.stop()
        assert sent > 300
        assert got == [float(sent)] * 3, "every poison message is one malformed rejection"
        for name, vantage in cluster.vantages.items():
            votes = vantage.votes("vendor")
            assert all(set(votes[(w, "api")]) == {"a", "b", "c"} for w in observed), name
            assert {w: vantage.verdicts("vendor")[w] for w in observed} == truth, name


@pytest.mark.real
class TestVotesInTime:
    async def test_votes_off_the_grid_in_the_future_or_too_old_are_refused(
        self, cluster: Cluster
    ) -> None:
        w = 2
        first = next_window() // w * w + 2 * w
        observed = range(first, first + 4 * w, w)
        async with ScheduledTarget() as vendor, ScheduledTarget() as control:
            for name in cluster.vantages:
                await cluster.start(name, cluster.config(
                    name, target=vendor.url, control=control.url, window=w))
            await subscribed(cluster)
            a = cluster.vantages["a"].daemon
            assert a is not None
            assert a.quorum is not None
            b_key = cluster.vantages["b"].key
            fake = Vote("vendor", "api", "b", 0, w, Verdict.DOWN, Reason.NONE, 5, 5,
                        ("http_status",), 7, time.time(), a.quorum._fingerprints["vendor"])
            future = first + 3 * w  # sent now, more than one window ahead
            forged = [dataclasses.replace(fake, window_start=first - 14 * 86400),
                      dataclasses.replace(fake, window_start=future),
                      dataclasses.replace(fake, window_start=first + w + 1)]
            assert time.time() < future - w
            async with aiomqtt.Client("127.0.0.1", cluster.broker.port) as client:
                for vote in forged:
                    await client.publish(vote.topic, encode(vote.payload(), b_key), qos=1)
            await settle(lambda: have(cluster, "vendor", observed), 40)
            texts = [await metrics(v.daemon.bound_port) for v in cluster.vantages.values()
                     if v.daemon is not None]
            await cluster.stop()
        for text in texts[::2]:  # a and c; b ignores what is published under its own name
            assert [counter(text, r) for r in ("too_old", "future", "off_grid")] == [1, 1, 1], \
                [line for line in text.splitlines() if "rejected" in line]
        for name, vantage in cluster.vantages.items():
            assert {vantage.verdicts("vendor")[ws] for ws in observed} == {"up"}, name
            assert all(ws % w == 0 for ws in vantage.verdicts("vendor")), name  # no extra row
            assert vantage.votes("vendor")[(future, "api")]["b"].verdict == Verdict.UP


@pytest.mark.real
class TestSyncRequests:
    async def test_replayed_stale_and_repeated_sync_requests_are_dropped_and_counted(
        self, cluster: Cluster
    ) -> None:
        async with ScheduledTarget() as vendor, ScheduledTarget() as control:
            for name in cluster.vantages:
                await cluster.start(name, cluster.config(
                    name, target=vendor.url, control=control.url, window=1))
            await subscribed(cluster)
            await asyncio.sleep(SYNC_INTERVAL)  # the daemons' own requests are out of the way
            a = cluster.vantages["a"]
            a_key = a.key
            assert a.daemon is not None
            assert a.daemon.quorum is not None
            me = a.daemon.quorum.instance  # as a itself would have sent them
            now = time.time()
            fresh = SyncRequest("a", int(now) - 60, now, me)
            stale = SyncRequest("a", int(now) - 60, now - 3600, me)
            again = SyncRequest("a", int(now) - 60, now + 0.5, me)
            async with aiomqtt.Client("127.0.0.1", cluster.broker.port) as client:
                captured = encode(fresh.payload(), a_key)
                for _ in range(10):  # one genuine request, replayed nine times
                    await client.publish(fresh.topic, captured, qos=1)
                await client.publish(stale.topic, encode(stale.payload(), a_key), qos=1)
                await client.publish(again.topic, encode(again.payload(), a_key), qos=1)
            ports = [v.daemon.bound_port for n, v in cluster.vantages.items()
                     if n != "a" and v.daemon is not None]

            async def counts() -> list[list[float]]:
                return [[counter(t, r) for r in ("replayed_sync", "stale_sync",
                                                 "sync_rate_limited")]
                        for t in [await metrics(p) for p in ports]]

            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and await counts() != [[9, 1, 1]] * 2:
                await asyncio.sleep(0.2)
            got = await counts()
            await cluster.stop()
        assert got == [[9, 1, 1]] * 2


@pytest.mark.real
class TestTwins:
    async def test_two_processes_with_one_vantage_name_stop_publishing_and_say_so(
        self, cluster: Cluster
    ) -> None:
        stream = io.StringIO()
        logs.configure("warning", json=True, stream=stream)
        twin_dir = cluster.tmp / "state-a-twin"
        twin_dir.mkdir()
        a = cluster.vantages["a"]
        twin = Vantage("a", a.key, twin_dir)
        async with ScheduledTarget() as vendor, ScheduledTarget() as control:
            texts = {name: cluster.config(name, target=vendor.url, control=control.url,
                                          window=1) for name in cluster.vantages}
            for name, text in texts.items():
                await cluster.start(name, text)
            twin.daemon = Daemon(parse_config(texts["a"].replace(
                str(a.state_dir), str(twin_dir))), install_signals=False)
            twin.task = asyncio.create_task(twin.daemon.serve())
            try:
                await asyncio.wait_for(twin.daemon.started.wait(), 10)
                daemons = [a.daemon, twin.daemon]
                links = [d.quorum.link for d in daemons if d is not None and d.quorum]
                await settle(lambda: all(link.duplicate is not None for link in links), 20)
                published = [link.published for link in links]
                await asyncio.sleep(3)  # three windows: decided locally, never published
                after = [link.published for link in links]
                texts_out = [await metrics(d.bound_port) for d in daemons if d is not None]
            finally:
                twin.daemon.request_stop()
                await asyncio.wait_for(twin.task, 15)
            await cluster.stop()
        assert len(links) == 2
        assert after == published, "a vantage claimed twice publishes nothing"
        for text in texts_out:
            assert "sla_probe_quorum_duplicate_vantage 1.0" in text
            assert "sla_probe_quorum_outbox_pending 0.0" not in text
        events = [json.loads(line) for line in stream.getvalue().splitlines() if line]
        twins = [e for e in events if e.get("event") == "quorum_duplicate_vantage"]
        assert len(twins) == 2
        assert all(e["level"] == "error" for e in twins)
