"""The quorum's ledger tables: the outbox commits with the verdicts, votes keep the newest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from probe.model import Reason, Verdict, WindowVerdict
from probe.quorum.codec import Vote
from probe.store import LEDGER_FILE, Ledger
from probe.store import quorum as store
from probe.store.schema import MIGRATIONS


def verdict(ws: int, v: Verdict = Verdict.UP, scope: str = "local") -> WindowVerdict:
    return WindowVerdict("c1", "api", ws, 60, v, attempts=6, failures=6 * (v == Verdict.DOWN),
                         scope=scope, decided_at=float(ws + 61))


def vote(ws: int, vantage: str = "b", v: Verdict = Verdict.UP, revision: int = 0) -> Vote:
    return Vote("c1", "api", vantage, ws, 60, v, Reason.NONE, 6, 0, (), revision, 0.0, "f")


def enqueue_hook(conn: sqlite3.Connection, written: list[WindowVerdict]) -> None:
    store.enqueue(conn, [(f"t/{v.window_start}", b"p", v.contract, v.window_start)
                         for v in written if v.scope == "local"], 1.0)


class TestOutbox:
    def test_rows_commit_with_the_verdicts_and_come_out_in_order(self, state_dir: Path) -> None:
        ledger = Ledger(state_dir)
        ledger.add_verdict_hook(enqueue_hook)
        ledger.write_verdicts([verdict(0), verdict(60)], cursors={("c1", "local"): 120})
        ledger.write_verdicts([verdict(120)], cursors={("c1", "local"): 180})
        ledger.write_verdicts([verdict(120)])  # the same decision again: no row
        rows = ledger.read(lambda c: store.pending(c, 10))
        assert [t for _, t, _ in rows] == ["t/0", "t/60", "t/120"]
        ledger.write(lambda c: store.mark_sent(c, [rows[0][0]], 2.0))
        assert [t for _, t, _ in ledger.read(lambda c: store.pending(c, 10))] == [
            "t/60", "t/120"]

    def test_a_failing_hook_rolls_back_the_verdict_too(self, state_dir: Path) -> None:
        ledger = Ledger(state_dir)

        def broken(conn: sqlite3.Connection, written: list[WindowVerdict]) -> None:
            enqueue_hook(conn, written)
            raise RuntimeError("disk on fire")

        ledger.add_verdict_hook(broken)
        with pytest.raises(RuntimeError):
            ledger.write_verdicts([verdict(0)], cursors={("c1", "local"): 60})
        assert ledger.windows("c1", 0, 10**6) == []
        assert ledger.next_window("c1") is None
        assert ledger.read(lambda c: store.pending(c, 10)) == []

    def test_unsent_rows_survive_a_restart(self, state_dir: Path) -> None:
        ledger = Ledger(state_dir)
        ledger.add_verdict_hook(enqueue_hook)
        ledger.write_verdicts([verdict(0), verdict(60)])
        ledger.close()
        again = Ledger(state_dir)
        assert [t for _, t, _ in again.read(lambda c: store.pending(c, 10))] == ["t/0", "t/60"]

    def test_a_resync_requeues_sent_rows_from_a_window_on(self, state_dir: Path) -> None:
        ledger = Ledger(state_dir)
        ledger.add_verdict_hook(enqueue_hook)
        ledger.write_verdicts([verdict(0), verdict(60), verdict(120)])
        ids = [r[0] for r in ledger.read(lambda c: store.pending(c, 10))]
        ledger.write(lambda c: store.mark_sent(c, ids, 2.0))
        assert ledger.write(lambda c: store.requeue_since(c, 60)) == 2
        assert [t for _, t, _ in ledger.read(lambda c: store.pending(c, 10))] == [
            "t/60", "t/120"]

    def test_pruning_drops_old_sent_rows_only(self, state_dir: Path) -> None:
        ledger = Ledger(state_dir)
        ledger.add_verdict_hook(enqueue_hook)
        ledger.write_verdicts([verdict(0), verdict(60)])
        first = ledger.read(lambda c: store.pending(c, 1))[0][0]
        ledger.write(lambda c: store.mark_sent(c, [first], 2.0))
        assert ledger.write(lambda c: store.prune_outbox(c, before=100.0)) == 1
        assert ledger.read(store.outbox_state) == (1, 1.0, 0)

    def test_quorum_verdicts_do_not_go_to_the_outbox(self, state_dir: Path) -> None:
        ledger = Ledger(state_dir)
        ledger.add_verdict_hook(enqueue_hook)
        ledger.write_verdicts([verdict(0, scope="quorum")])
        assert ledger.read(store.outbox_state)[0] == 0


class TestVotes:
    def test_a_duplicate_or_older_revision_changes_nothing(self, state_dir: Path) -> None:
        ledger = Ledger(state_dir)
        first = ledger.write(lambda c: store.store_votes(c, [vote(0, revision=1)], 5.0))
        again = ledger.write(lambda c: store.store_votes(c, [vote(0, revision=1)], 6.0))
        older = ledger.write(lambda c: store.store_votes(
            c, [vote(0, v=Verdict.DOWN, revision=0)], 7.0))
        assert (len(first), again, older) == (1, [], [])
        stored = ledger.read(lambda c: store.votes_between(c, "c1", 0, 60))
        assert stored[(0, "api")]["b"].verdict == Verdict.UP

    def test_a_newer_revision_replaces_the_vote(self, state_dir: Path) -> None:
        ledger = Ledger(state_dir)
        ledger.write(lambda c: store.store_votes(c, [vote(0), vote(0, "c")], 5.0))
        changed = ledger.write(lambda c: store.store_votes(
            c, [vote(0, v=Verdict.DOWN, revision=1)], 6.0))
        assert [v.verdict for v in changed] == [Verdict.DOWN]
        stored = ledger.read(lambda c: store.votes_between(c, "c1", 0, 60))[(0, "api")]
        assert {n: v.verdict for n, v in stored.items()} == {"b": Verdict.DOWN, "c": Verdict.UP}
        assert ledger.read(store.vantage_stats) == [("b", 1, 6.0), ("c", 1, 5.0)]

    def test_rejections_are_counted_by_reason(self, state_dir: Path) -> None:
        ledger = Ledger(state_dir)
        ledger.write(lambda c: store.count_rejections(c, ["bad_signature", "malformed"]))
        ledger.write(lambda c: store.count_rejections(c, ["bad_signature"]))
        assert ledger.read(store.rejections) == [("bad_signature", 2), ("malformed", 1)]


class TestMigration:
    def test_a_ledger_of_schema_1_is_upgraded_and_keeps_its_verdicts(
        self, state_dir: Path
    ) -> None:
        conn = sqlite3.connect(state_dir / LEDGER_FILE)
        conn.executescript(f"BEGIN;\n{MIGRATIONS[0]}\nPRAGMA user_version=1;\nCOMMIT;")
        conn.execute("INSERT INTO windows VALUES ('c1', 'api', 'local', 0, 60, 'up', '', 1, 0, "
                     "'[]', 0, 61.0, '')")
        conn.commit()
        conn.close()
        ledger = Ledger(state_dir)
        assert ledger.schema_version == len(MIGRATIONS) >= 2
        assert [v.verdict for v in ledger.windows("c1", 0, 60)] == [Verdict.UP]
        assert ledger.read(store.outbox_state) == (0, None, 0)
