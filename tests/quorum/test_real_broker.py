"""Three real daemons (vantages a, b, c) and one real Mosquitto on loopback, in real time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import math
import time
from collections.abc import Callable
from datetime import UTC

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from probe import logs
from probe.contracts.month import Month
from probe.model import Reason, Verdict
from probe.quorum.codec import Vote, decode, encode
from probe.report import render
from probe.store import Ledger
from probe.store import quorum as store
from tests.quorum.conftest import Cluster, Vantage
from tests.servers import ScheduledTarget, wait_until

pytest.importorskip("aiomqtt")
import aiomqtt

W = 1  # seconds per window


def next_window(lead: int = 2) -> int:
    return math.ceil(time.time() / W) * W + lead * W


async def settle(predicate: Callable[[], bool], timeout: float) -> None:
    """Wait for `predicate`; on timeout, go on to the assertions (they say what differs)."""
    with contextlib.suppress(TimeoutError):
        await wait_until(predicate, timeout)


def have(cluster: Cluster, contract: str, windows: range, scope: str = "quorum") -> bool:
    return all(set(windows) <= set(v.verdicts(contract, scope))
               for v in cluster.vantages.values())


async def metrics(port: int) -> str:
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        return await resp.text()


@pytest.mark.real
class TestQuorumWithMosquitto:
    async def test_vendor_outage_seen_by_every_vantage_is_quorum_down(
        self, cluster: Cluster
    ) -> None:
        first = next_window()
        outage = {first + 2 * W, first + 3 * W}

        def failing(t: float) -> bool:
            return first + 2 * W <= t < first + 4 * W + 0.1  # late answers still fail

        observed = range(first, first + 6 * W, W)
        async with ScheduledTarget(failing) as vendor, ScheduledTarget() as control:
            for name in cluster.vantages:
                await cluster.start(name, cluster.config(
                    name, target=vendor.url, control=control.url, window=W))
            truth = {w: "down" if w in outage else "up" for w in observed}
            await settle(lambda: all({w: v.verdicts("vendor").get(w) for w in observed} == truth
                                     for v in cluster.vantages.values()), 40)
            port = cluster.vantages["a"].daemon.bound_port  # type: ignore[union-attr]
            text = await metrics(port)
            await cluster.stop()  # daemons first, then the targets they probe
        for name, vantage in cluster.vantages.items():
            got = vantage.verdicts("vendor")
            assert {w for w in observed if got[w] == "down"} == outage, (name, got)
            assert all(got[w] == "up" for w in observed if w not in outage), (name, got)
            local = vantage.verdicts("vendor", "local")
            assert {w for w in observed if local[w] == "down"} == outage, (name, local)
            note = vantage.reader_windows("vendor", "quorum")[first + 2 * W].note
            assert note == "quorum majority need 2 of 3: a=down,b=down,c=down"
        assert 'sla_probe_month_downtime_seconds{contract="vendor",scope="quorum",' \
               'service="api"} 2.0' in text
        a = cluster.vantages["a"]
        assert a.daemon is not None
        reader = Ledger.reader(a.state_dir)
        try:
            report = json.loads(render(a.daemon.config, reader, Month.containing(first, UTC),
                                       "json", time.time(), scope="quorum"))
        finally:
            reader.close()
        assert report["scope"] == "quorum"
        [objective] = report["contracts"][0]["objectives"]
        assert objective["down_minutes"] == pytest.approx(2 / 60, abs=1e-6)  # two 1-s windows
        assert 'sla_probe_quorum_vantages 3.0' in text
        assert 'sla_probe_quorum_broker_connected 1.0' in text

    async def test_vantages_publish_and_only_the_aggregator_decides(
        self, cluster: Cluster
    ) -> None:
        first = next_window()
        observed = range(first, first + 3 * W, W)
        async with ScheduledTarget() as vendor, ScheduledTarget() as control:
            for name in cluster.vantages:
                role = "aggregator" if name == "c" else "vantage"
                await cluster.start(name, cluster.config(
                    name, target=vendor.url, control=control.url, window=W,
                    extra=f"  role: {role}\n"))
            c = cluster.vantages["c"]
            await settle(lambda: all(
                set(c.votes("vendor").get((w, "api"), {})) == {"a", "b", "c"}
                and c.verdicts("vendor").get(w) == "up" for w in observed), 40)
            a = cluster.vantages["a"].daemon
            assert a is not None
            text = await metrics(a.bound_port)
            await cluster.stop()  # daemons first, then the targets they probe
        assert all(c.verdicts("vendor")[w] == "up" for w in observed)
        assert all(set(c.votes("vendor")[(w, "api")]) == {"a", "b", "c"} for w in observed)
        for name in ("a", "b"):
            assert cluster.vantages[name].verdicts("vendor") == {}, name
            assert cluster.vantages[name].verdicts("vendor", "local"), name
        assert 'scope="quorum"' not in text
        assert "sla_probe_quorum_outbox_pending" in text

    async def test_a_vantage_whose_controls_fail_abstains_and_the_quorum_stays_up(
        self, cluster: Cluster
    ) -> None:
        first = next_window()
        broken = {first + 2 * W, first + 3 * W}

        def c_path_broken(t: float) -> bool:
            return first + 2 * W <= t < first + 4 * W + 0.1  # late answers still fail

        observed = range(first, first + 6 * W, W)
        async with ScheduledTarget() as vendor, ScheduledTarget() as control, \
                ScheduledTarget(c_path_broken) as c_vendor, \
                ScheduledTarget(c_path_broken) as c_control:
            for name in cluster.vantages:
                # rule `any`: one down vote would make the window down, unless c abstains
                target, reach = (c_vendor, c_control) if name == "c" else (vendor, control)
                await cluster.start(name, cluster.config(
                    name, target=target.url, control=reach.url, window=W, rule="any"))
            def abstained(v: Vantage) -> bool:
                got = v.reader_windows("vendor", "quorum")
                return all(w in got and got[w].note.endswith("c=excluded:vantage")
                           for w in broken)

            await settle(lambda: have(cluster, "vendor", observed) and all(
                abstained(v) for v in cluster.vantages.values()), 40)
            await cluster.stop()  # daemons first, then the targets they probe
        c_local = cluster.vantages["c"].verdicts("vendor", "local")
        assert {w for w in observed if c_local[w] == "excluded:vantage"} == broken
        for name, vantage in cluster.vantages.items():
            got = vantage.verdicts("vendor")
            assert all(got[w] == "up" for w in observed), (name, got)
            note = vantage.reader_windows("vendor", "quorum")[first + 2 * W].note
            assert note == "quorum any need 1 of 2: a=up,b=up,c=excluded:vantage"

    async def test_broker_down_for_several_windows_loses_and_duplicates_nothing(
        self, cluster: Cluster
    ) -> None:
        first = next_window()
        outage = {first + 5 * W, first + 6 * W}

        def failing(t: float) -> bool:
            return first + 5 * W <= t < first + 7 * W + 0.1

        observed = range(first, first + 12 * W, W)
        truth = {w: "down" if w in outage else "up" for w in observed}
        async with ScheduledTarget(failing) as vendor, ScheduledTarget() as control:
            for name in cluster.vantages:
                await cluster.start(name, cluster.config(
                    name, target=vendor.url, control=control.url, window=W, grace="1s"))
            await wait_until(lambda: have(cluster, "vendor", range(first, first + 2 * W)), 30)
            cluster.broker.kill()
            killed = time.time()
            # while the broker is away: windows are decided locally and wait in the outbox
            await wait_until(lambda: time.time() > first + 9 * W, 30)
            daemons = [v.daemon for v in cluster.vantages.values()]
            assert all(d is not None and d.quorum is not None
                       and not d.quorum.link.connected for d in daemons)
            waiting = [await metrics(d.bound_port) for d in daemons if d is not None]
            assert all("sla_probe_quorum_outbox_pending 0.0" not in t for t in waiting)
            cluster.broker.start()
            restarted = time.time()
            await wait_until(lambda: all(
                {w: v.verdicts("vendor").get(w) for w in observed} == truth
                for v in cluster.vantages.values()), 40)
            texts = [await metrics(d.bound_port) for d in daemons if d is not None]
            await cluster.stop()  # daemons first, then the targets they probe
        assert restarted - killed >= 6 * W
        for name, vantage in cluster.vantages.items():
            votes = vantage.votes("vendor")
            for w in observed:
                cast = votes[(w, "api")]
                assert set(cast) == {"a", "b", "c"}, (name, w)
                want = Verdict.DOWN if w in outage else Verdict.UP
                assert {v.verdict for v in cast.values()} == {want}, (name, w, cast)
            assert vantage.vote_updates() == 0, "a duplicate delivery changed a vote"
            reader = Ledger.reader(vantage.state_dir)
            try:
                history = {w: reader.revisions("vendor", "api", w, "quorum") for w in observed}
            finally:
                reader.close()
            # windows decided while the broker was away were re-decided when the votes came
            assert any(len(revs) > 1 for revs in history.values()), (name, history)
            for w, revs in history.items():
                assert all(author == "quorum" for _, author in revs)
                assert revs[-1][0].note.endswith(
                    f"a={truth[w]},b={truth[w]},c={truth[w]}"), (name, w, revs[-1][0].note)
        for text in texts:
            assert "sla_probe_quorum_outbox_pending 0.0" in text
            assert "sla_probe_quorum_broker_connected 1.0" in text

    async def test_a_vantage_restarted_later_gets_the_votes_it_missed(
        self, cluster: Cluster
    ) -> None:
        first = next_window()
        outage = {first + 4 * W, first + 5 * W}

        def failing(t: float) -> bool:
            return first + 4 * W <= t < first + 6 * W + 0.1

        observed = range(first, first + 10 * W, W)
        truth = {w: "down" if w in outage else "up" for w in observed}
        async with ScheduledTarget(failing) as vendor, ScheduledTarget() as control:
            texts = {name: cluster.config(name, target=vendor.url, control=control.url,
                                          window=W, grace="1s") for name in cluster.vantages}
            for name, text in texts.items():
                await cluster.start(name, text)
            b = cluster.vantages["b"]
            await wait_until(lambda: first + W in b.verdicts("vendor"), 30)
            assert b.daemon is not None
            assert b.task is not None
            b.daemon.request_stop()
            await asyncio.wait_for(b.task, 15)
            stopped = time.time()
            await wait_until(lambda: time.time() > first + 8 * W, 30)  # b misses the outage
            await cluster.start("b", texts["b"])
            await wait_until(lambda: all(
                {w: v.verdicts("vendor").get(w) for w in observed} == truth
                for v in cluster.vantages.values()), 40)
            await cluster.stop()  # daemons first, then the targets they probe
        b_local = b.verdicts("vendor", "local")
        missed = [w for w in observed if w > stopped and w + W < first + 8 * W]
        assert missed
        assert all(b_local[w] == "no_data" for w in missed), b_local
        votes = b.votes("vendor")
        for w in missed:  # b decided these from the peers' votes, resent after its restart
            assert {n: v.verdict.value for n, v in votes[(w, "api")].items()} == {
                "a": truth[w], "b": "no_data", "c": truth[w]}

    async def test_a_forged_verdict_is_rejected_logged_and_counted(
        self, cluster: Cluster
    ) -> None:
        stream = io.StringIO()
        logs.configure("warning", json=True, stream=stream)
        first = next_window()
        observed = range(first, first + 4 * W, W)
        async with ScheduledTarget() as vendor, ScheduledTarget() as control:
            for name in cluster.vantages:
                await cluster.start(name, cluster.config(
                    name, target=vendor.url, control=control.url, window=W, grace="3s"))
            a = cluster.vantages["a"].daemon
            assert a is not None
            assert a.quorum is not None
            await wait_until(lambda: all(
                v.daemon is not None and v.daemon.quorum is not None
                and v.daemon.quorum.link.subscribed for v in cluster.vantages.values()), 10)
            fingerprint = a.quorum._fingerprints["vendor"]
            forged = Vote("vendor", "api", "b", first + W, W, Verdict.DOWN, Reason.NONE,
                          5, 5, ("http_status",), 99, time.time(), fingerprint)
            mallory = Ed25519PrivateKey.generate()
            async with aiomqtt.Client("127.0.0.1", cluster.broker.port) as client:
                await client.publish(forged.topic, encode(forged.payload(), mallory), qos=1)
                stranger = dataclasses.replace(forged, vantage="mallory")
                await client.publish(stranger.topic, encode(stranger.payload(), mallory), qos=1)
            await settle(lambda: have(cluster, "vendor", observed) and all(
                "b" in v.votes("vendor").get((first + W, "api"), {})
                for v in cluster.vantages.values()), 40)
            text = await metrics(a.bound_port)
            await cluster.stop()  # daemons first, then the targets they probe
        assert 'sla_probe_quorum_rejected_total{reason="bad_signature"} 1.0' in text
        assert 'sla_probe_quorum_rejected_total{reason="unknown_vantage"} 1.0' in text
        events = [json.loads(line) for line in stream.getvalue().splitlines() if line]
        rejected = [e for e in events if e.get("event") == "quorum_message_rejected"]
        assert sorted(e["reason"] for e in rejected) == ["bad_signature"] * 3 + [
            "unknown_vantage"] * 3  # each daemon, once each
        assert all("'b'" in e["detail"] for e in rejected if e["reason"] == "bad_signature")
        for name, vantage in cluster.vantages.items():
            assert all(v == "up" for w, v in vantage.verdicts("vendor").items()
                       if w in observed), name
            assert vantage.votes("vendor")[(first + W, "api")]["b"].verdict == Verdict.UP


@pytest.mark.real
class TestOutboxAcrossRestart:
    async def test_verdicts_decided_without_a_broker_go_out_in_order_after_a_restart(
        self, cluster: Cluster
    ) -> None:
        cluster.broker.kill()
        a = cluster.vantages["a"]
        async with ScheduledTarget() as vendor, ScheduledTarget() as control:
            text = cluster.config("a", target=vendor.url, control=control.url, window=W)
            daemon = await cluster.start("a", text)
            await wait_until(lambda: len(a.verdicts("vendor", "local")) >= 3, 30)
            daemon.request_stop()
            assert a.task is not None
            await asyncio.wait_for(a.task, 15)
            decided = sorted(a.verdicts("vendor", "local"))
            reader = Ledger.reader(a.state_dir)
            try:
                unsent, _, sent = reader.read(store.outbox_state)
            finally:
                reader.close()
            assert (unsent, sent) == (len(decided), 0)

            cluster.broker.start()
            received: list[Vote] = []
            keys = {"a": a.key.public_key()}
            async with aiomqtt.Client("127.0.0.1", cluster.broker.port) as client:
                await client.subscribe("sla-probe/v1/verdicts/#", qos=1)
                await cluster.start("a", text)

                async def collect() -> None:
                    async for message in client.messages:
                        got = decode(str(message.topic), bytes(message.payload), keys)  # type: ignore[arg-type]
                        assert isinstance(got, Vote)
                        received.append(got)
                        if got.window_start >= decided[-1] + 2 * W:
                            return

                await asyncio.wait_for(collect(), 30)
            await cluster.stop()  # daemons first, then the targets they probe
        starts = [v.window_start for v in received]
        assert starts == sorted(set(starts)), f"in order, each window once: {starts}"
        assert starts[:len(decided)] == decided
