"""The outbox hook: what a local verdict turns into inside its own transaction."""

from __future__ import annotations

import dataclasses
import io
import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from probe import logs
from probe.clock import SystemClock
from probe.config import Config, parse_config
from probe.model import Reason, Verdict, WindowVerdict
from probe.quorum.codec import Vote, decode, fingerprint
from probe.quorum.link import LOG_BURST
from probe.quorum.node import QuorumNode
from probe.store import Ledger, LedgerWorker
from probe.store import quorum as store
from tests.quorum.conftest import raw_private, raw_public

pytest.importorskip("aiomqtt")

ME, PEER = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


def config(state_dir: Path, role: str = "peer") -> Config:
    return parse_config(textwrap.dedent(f"""\
        probe: {{vantage: zurich, state_dir: "{state_dir}"}}
        services:
          - name: api
            checks: [{{name: h, type: http, url: "http://unused/"}}]
        contracts:
          - {{name: c1, window: 60s, objectives: [{{service: api, target: 99.9}}]}}
        quorum:
          signing_key: {raw_private(ME)}
          peers: {{frankfurt: {raw_public(PEER)}}}
          role: {role}
        """))


@pytest.fixture
def ledger(state_dir: Path) -> Iterator[Ledger]:
    made = Ledger(state_dir)
    yield made
    made.close()


def node_for(cfg: Config, ledger: Ledger) -> QuorumNode:
    node = QuorumNode(cfg, LedgerWorker(ledger), SystemClock())
    ledger.add_verdict_hook(node.outbox_hook)
    return node


MEASURED_DOWN_IN_MAINTENANCE = WindowVerdict(
    "c1", "api", 1_800_000_000, 60, Verdict.EXCLUDED, Reason.MAINTENANCE, attempts=6,
    failures=6, failure_classes=("timeout",), decided_at=1_800_000_063.0,
    note="maintenance:CHG-1|was:down:")


class TestOutboxHook:
    def test_a_local_verdict_becomes_a_signed_outbox_row_and_our_own_vote(
        self, state_dir: Path, ledger: Ledger
    ) -> None:
        cfg = config(state_dir)
        node_for(cfg, ledger)
        ledger.write_verdicts([MEASURED_DOWN_IN_MAINTENANCE])
        [(_, topic, payload)] = ledger.read(lambda c: store.pending(c, 10))
        assert topic == "sla-probe/v1/verdicts/c1/api/zurich"
        vote = decode(topic, payload, {"zurich": ME.public_key()})
        assert isinstance(vote, Vote)
        # the vote is the verdict as measured; maintenance is laid over it by each decider
        assert (vote.verdict, vote.reason, vote.failures) == (Verdict.DOWN, Reason.NONE, 6)
        assert vote.fingerprint == fingerprint(cfg.contracts[0])
        own = ledger.read(lambda c: store.votes_between(c, "c1", 0, 2**40))
        assert own[(1_800_000_000, "api")]["zurich"] == vote

    def test_a_publish_only_vantage_keeps_no_votes(self, state_dir: Path,
                                                   ledger: Ledger) -> None:
        node_for(config(state_dir, role="vantage"), ledger)
        ledger.write_verdicts([MEASURED_DOWN_IN_MAINTENANCE])
        assert ledger.read(store.outbox_state)[0] == 1
        assert ledger.read(lambda c: store.votes_between(c, "c1", 0, 2**40)) == {}

    def test_votes_that_do_not_fit_our_contracts_are_refused(
        self, state_dir: Path, ledger: Ledger
    ) -> None:
        node = node_for(config(state_dir), ledger)
        now = int(time.time()) // 60 * 60
        good = Vote("c1", "api", "frankfurt", now - 60, 60, Verdict.UP, Reason.NONE, 1, 0, (),
                    0, 0.0, fingerprint(node.config.contracts[0]))
        assert node.check_vote(good) is None
        assert node.check_vote(dataclasses.replace(good, window_start=now + 60)) is None
        reasons = [node.check_vote(dataclasses.replace(good, **change)) for change in (
            {"fingerprint": "0" * 64}, {"contract": "c2"}, {"service": "web"},
            {"window_start": now + 1}, {"window_seconds": 30}, {"window_start": now + 180},
            {"window_start": now - 14 * 86400})]
        assert [r[0] if r else None for r in reasons] == [
            "config_mismatch", "unknown_contract", "unknown_service", "off_grid", "off_grid",
            "future", "too_old"]


class TestRejectionLogging:
    def test_a_flood_is_counted_in_full_and_logged_in_bursts(
        self, state_dir: Path, ledger: Ledger
    ) -> None:
        stream = io.StringIO()
        logs.configure("warning", json=True, stream=stream)
        node = node_for(config(state_dir), ledger)
        junk = [("sla-probe/v1/verdicts/c1/api/frankfurt", b"junk")] * 50
        votes, syncs, rejected = node.link._verify(junk)
        assert (votes, syncs, rejected) == ([], [], ["malformed"] * 50)
        events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
        assert events == ["quorum_message_rejected"] * LOG_BURST + [
            "quorum_rejections_suppressed"]
