"""Issue 14: votes that must come back. Real Mosquitto, real daemons (one a real process).

A daemon that noticed its loss late, a peer that rotated its key before a decider was told,
and a dead vantage under `rule: all` with `min_votes`.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.quorum.conftest import Cluster, raw_private, raw_public
from tests.quorum.test_real_broker import metrics, next_window, settle
from tests.servers import ScheduledTarget, wait_until

pytest.importorskip("aiomqtt")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def matches(cluster: Cluster, truth: dict[int, str], names: tuple[str, ...] = ("a", "b", "c")
            ) -> bool:
    return all({w: cluster.vantages[n].verdicts("vendor").get(w) for w in truth} == truth
               for n in names)


@pytest.mark.real
class TestLateNoticedLoss:
    async def test_a_paused_daemon_gets_every_vote_after_an_unseen_broker_restart(
        self, cluster: Cluster
    ) -> None:
        """SIGSTOP b, restart the broker (no persistence), wait, SIGCONT b: b notices the loss
        only now, but asks for everything it lacks, not just for the last few seconds."""
        first = next_window()
        outage = {first + 4, first + 5}

        def failing(t: float) -> bool:
            return first + 4 <= t < first + 6 + 0.1

        observed = range(first, first + 12)
        truth = {w: "down" if w in outage else "up" for w in observed}
        b = cluster.vantages["b"]
        async with ScheduledTarget(failing) as vendor, ScheduledTarget() as control:
            for name in ("a", "c"):
                await cluster.start(name, cluster.config(
                    name, target=vendor.url, control=control.url, window=1, grace="1s"))
            path = cluster.tmp / "b.yaml"
            path.write_text(cluster.config("b", target=vendor.url, control=control.url,
                                           window=1, grace="1s"))
            with (cluster.tmp / "b.log").open("wb") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "probe", "--log-format", "json", "run", "-c",
                     str(path)], stdout=log, stderr=subprocess.STDOUT)
            try:
                await wait_until(lambda: first + 1 in b.verdicts("vendor"), 30)
                process.send_signal(signal.SIGSTOP)
                cluster.broker.kill()
                cluster.broker.start()
                await wait_until(lambda: time.time() > first + 10, 30)  # b misses the outage
                process.send_signal(signal.SIGCONT)
                await settle(lambda: matches(cluster, truth), 40)
            finally:
                process.send_signal(signal.SIGCONT)
                process.terminate()
                await asyncio.to_thread(process.wait, 15)
            await cluster.stop()
        votes = b.votes("vendor")
        for w in outage:  # b decided these from the peers' votes, asked for after SIGCONT
            assert {n: v.verdict.value for n, v in votes[(w, "api")].items()} == {
                "a": "down", "b": "no_data", "c": "down"}, w
        for name in ("a", "b", "c"):
            got = cluster.vantages[name].verdicts("vendor")
            assert {w: got.get(w) for w in observed} == truth, name


@pytest.mark.real
class TestKeyRotation:
    async def test_a_decider_told_late_about_a_new_key_gets_the_votes_back(
        self, cluster: Cluster
    ) -> None:
        """c switches to a new key; b knows both keys in time, a only after a restart a few
        windows later. Under `all`, every vote of c matters."""
        first = next_window()
        outage = {first + 5, first + 6}

        def failing(t: float) -> bool:
            return first + 5 <= t < first + 7 + 0.1

        observed = range(first, first + 12)
        truth = {w: "down" if w in outage else "up" for w in observed}
        c = cluster.vantages["c"]
        old, new = c.key, Ed25519PrivateKey.generate()
        both = (f"        c:\n          - {{key: {raw_public(old)}, until: {iso(first + 14)}}}\n"
                f"          - {{key: {raw_public(new)}, from: {iso(first + 2)}}}\n")
        only_old = f"        c: {raw_public(old)}\n"
        async with ScheduledTarget(failing) as vendor, ScheduledTarget() as control:
            def text(name: str) -> str:
                return cluster.config(name, target=vendor.url, control=control.url, window=1,
                                      rule="all", grace="1s")

            late_a = text("a")
            assert only_old in late_a
            await cluster.start("a", late_a)
            await cluster.start("b", text("b").replace(only_old, both))
            await cluster.start("c", text("c"))
            await wait_until(lambda: time.time() > first + 3, 30)
            await self._restart(cluster, "c", text("c").replace(raw_private(old),
                                                                raw_private(new)))
            await wait_until(lambda: time.time() > first + 9, 30)  # a refuses c's new votes
            await self._restart(cluster, "a", late_a.replace(only_old, both))
            await settle(lambda: matches(cluster, truth) and all(
                set(cluster.vantages["a"].votes("vendor").get((w, "api"), {})) == {"a", "b", "c"}
                for w in observed), 40)
            b_text = await metrics(cluster.vantages["b"].daemon.bound_port)  # type: ignore[union-attr]
            await cluster.stop()
        assert 'sla_probe_quorum_rejected_total{reason="bad_signature"}' not in b_text
        for name in ("a", "b", "c"):
            got = cluster.vantages[name].verdicts("vendor")
            assert {w: got.get(w) for w in observed} == truth, name
        for name in ("a", "b"):  # not c: see below
            votes = cluster.vantages[name].votes("vendor")
            assert {w: sorted(votes[(w, "api")]) for w in observed} == {
                w: ["a", "b", "c"] for w in observed}, name
        # c itself may lack a's vote for the window it restarted in: its new-key sync request
        # reached a before a knew that key (a known gap: no periodic re-request yet).

    @staticmethod
    async def _restart(cluster: Cluster, name: str, text: str) -> None:
        vantage = cluster.vantages[name]
        assert vantage.daemon is not None
        assert vantage.task is not None
        vantage.daemon.request_stop()
        await asyncio.wait_for(vantage.task, 15)
        await cluster.start(name, text)


@pytest.mark.real
class TestMinVotes:
    async def test_under_all_a_dead_vantage_is_absent_once_min_votes_report(
        self, cluster: Cluster
    ) -> None:
        first = next_window()
        outage = {first + 2, first + 3}

        def failing(t: float) -> bool:
            return first + 2 <= t < first + 4 + 0.1

        observed = range(first, first + 6)
        truth = {w: "down" if w in outage else "up" for w in observed}
        async with ScheduledTarget(failing) as vendor, ScheduledTarget() as control:
            for name in ("a", "b"):  # c never starts
                await cluster.start(name, cluster.config(
                    name, target=vendor.url, control=control.url, window=1, rule="all",
                    grace="1s", extra="  min_votes: 2\n"))
            await settle(lambda: matches(cluster, truth, ("a", "b")), 40)
            await cluster.stop()
        for name in ("a", "b"):
            vantage = cluster.vantages[name]
            got = vantage.verdicts("vendor")
            assert {w: got.get(w) for w in observed} == truth, name
            note = vantage.reader_windows("vendor", "quorum")[first + 2].note
            assert note == "quorum all need 2 of 2: a=down,b=down,c=missing"
