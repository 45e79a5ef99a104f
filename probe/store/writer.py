"""The ledger's one writer: attempts, verdict revisions, exclusions, cursors.

Attempts are appended in one transaction per flush; a window verdict is committed before
anything exports it. A verdict is never overwritten in place: a different later decision for
the same window becomes revision N+1 in `window_revisions`, and `windows` points at the
newest. Every method is synchronous and runs on the daemon's single ledger thread
(`probe.store.worker.LedgerWorker`); a CLI writer (`sla-probe exclude`) uses its own
connection and SQLite's transactions.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from probe.contracts.model import Declared
from probe.model import Attempt, WindowVerdict, bucket_index
from probe.store import chain, exclusions, identity, tickets
from probe.store.reader import _WINDOW_COLUMNS, DAY, LedgerReader, _verdict_row
from probe.store.schema import LEDGER_FILE, LedgerError, connect, migrate, schema_version
from probe.support.tickets import TicketEvent

T = TypeVar("T")
VerdictHook = Callable[[sqlite3.Connection, list[WindowVerdict]], None]
_EVIDENCE_ENCODER = json.JSONEncoder(sort_keys=True)  # the same text as json.dumps(sort_keys)


def _count_day(conn: sqlite3.Connection, v: WindowVerdict, sign: int) -> None:
    """Add (sign=1) or take back (sign=-1) one current verdict in `window_days`."""
    conn.execute(
        "INSERT INTO window_days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE "
        "SET windows=windows+excluded.windows, attempts=attempts+excluded.attempts, "
        "failures=failures+excluded.failures",
        (v.contract, v.service, v.scope, v.window_start - v.window_start % DAY,
         v.verdict.value, v.reason.value, sign, sign * v.attempts, sign * v.failures),
    )


class Ledger(LedgerReader):
    """The writer. One per state directory; all writes are single transactions."""

    def __init__(self, state_dir: Path, *, new_ledger: bool = False) -> None:
        """Open (or create) the ledger of `state_dir`. A ledger this directory held that is
        now missing, empty or another one is refused unless `new_ledger` (then a 0-byte or
        missing file starts a new history and the directory records its identity)."""
        path = Path(state_dir) / LEDGER_FILE
        if not new_ledger:
            identity.check_present(state_dir)
        elif path.exists() and path.stat().st_size == 0:
            path.unlink()
        conn = connect(path, readonly=False)
        super().__init__(path, conn)
        self._hooks: list[VerdictHook] = []
        try:
            with self._lock:
                migrate(conn, path)
                ledger_id = str(conn.execute(
                    "SELECT value FROM meta WHERE key='ledger_id'").fetchone()[0])
            if not new_ledger:
                identity.check_same(state_dir, ledger_id)
            identity.record(state_dir, ledger_id)
        except sqlite3.Error as exc:
            conn.close()
            raise LedgerError(f"cannot open ledger {path}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        self.ledger_id = ledger_id

    def add_verdict_hook(self, hook: VerdictHook) -> None:
        """`hook(conn, written)` runs inside every `write_verdicts` transaction that wrote
        something, so whatever it records (the quorum outbox) commits with the verdicts."""
        self._hooks.append(hook)

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one write transaction."""
        with self._transaction() as conn:
            return fn(conn)

    @classmethod
    def reader(cls, state_dir: Path) -> LedgerReader:
        return LedgerReader(Path(state_dir) / LEDGER_FILE)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return schema_version(self._conn)

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    def record_attempts(self, attempts: Iterable[Attempt]) -> int:
        """Append attempts and fold them into the counters, in one transaction."""
        batch = list(attempts)
        if not batch:
            return 0
        # One pass, each evidence encoded once: at thousands of attempts a second this runs
        # on the ledger thread but holds the GIL, so it is time taken from the event loop.
        rows: list[tuple[Any, ...]] = []
        stats: dict[tuple[str, str, str], list[float]] = {}
        buckets: dict[tuple[str, str, int], int] = {}
        last: dict[tuple[str, str], tuple[Any, ...]] = {}
        encode = _EVIDENCE_ENCODER.encode
        for a in batch:
            ev = a.evidence
            evidence = encode(ev if type(ev) is dict else dict(ev)) if ev else "{}"
            ok = 1 if a.ok else 0
            role = a.role.value
            rows.append((a.started_at, a.service, a.check, role, ok, a.failure_class,
                         a.latency, a.detail, evidence, 1 if a.retried else 0))
            key = (a.service, a.check, "ok" if ok else (a.failure_class or "error"))
            stat = stats.get(key)
            if stat is None:
                stats[key] = [1, a.latency]
            else:
                stat[0] += 1
                stat[1] += a.latency
            bucket = (a.service, a.check, bucket_index(a.latency))
            buckets[bucket] = buckets.get(bucket, 0) + 1
            prev = last.get((a.service, a.check))
            if prev is None or a.started_at >= prev[3]:
                last[(a.service, a.check)] = (a.service, a.check, role, a.started_at, ok,
                                              a.failure_class, a.latency, evidence)
        with self._transaction() as conn:
            batch_seq = chain.chain_attempts(conn, rows)  # the batch's chain record
            conn.executemany(
                "INSERT INTO attempts (started_at, service, check_name, role, ok, "
                "failure_class, latency, detail, evidence, retried, batch) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {int(batch_seq)})",
                rows,
            )
            conn.executemany(
                "INSERT INTO attempt_stats VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET count=count+excluded.count, "
                "duration_sum=duration_sum+excluded.duration_sum",
                [(*key, int(n), total) for key, (n, total) in stats.items()],
            )
            conn.executemany(
                "INSERT INTO attempt_buckets VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET count=count+excluded.count",
                [(*key, n) for key, n in buckets.items()],
            )
            conn.executemany(
                "INSERT INTO last_attempt VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET role=excluded.role, started_at=excluded.started_at, "
                "ok=excluded.ok, failure_class=excluded.failure_class, "
                "latency=excluded.latency, evidence=excluded.evidence "
                "WHERE excluded.started_at >= last_attempt.started_at",
                list(last.values()),
            )
        return len(batch)

    def write_verdicts(
        self,
        verdicts: Iterable[WindowVerdict],
        author: str = "decider",
        cursors: dict[tuple[str, str], int] | None = None,
    ) -> list[WindowVerdict]:
        """Store decisions; an unchanged decision is a no-op, a changed one a new revision.

        Returns what was written (with revision numbers). Cursor moves commit atomically
        with the verdicts, so a crash never leaves a decided window without its verdict.
        """
        with self._transaction() as conn:
            return self._write_verdicts_and_cursors(conn, verdicts, author, cursors)

    def decide_and_write(
        self, compute: Callable[[], list[WindowVerdict]], author: str,
        cursors: dict[tuple[str, str], int],
    ) -> list[WindowVerdict]:
        """`write_verdicts` of what `compute()` returns, computed inside the transaction.

        The decider reads attempts and declared exclusions in `compute`; holding SQLite's
        write lock meanwhile means an `exclude` committed by another process is either seen
        here or sees this window decided and revises it, never neither."""
        with self._transaction() as conn:
            return self._write_verdicts_and_cursors(conn, compute(), author, cursors)

    def _write_verdicts_and_cursors(
        self, conn: sqlite3.Connection, verdicts: Iterable[WindowVerdict], author: str,
        cursors: dict[tuple[str, str], int] | None,
    ) -> list[WindowVerdict]:
        written = self._write_verdicts(conn, verdicts, author)
        for (contract, scope), next_window in (cursors or {}).items():
            conn.execute(
                "INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT DO UPDATE "
                "SET next_window=MAX(next_window, excluded.next_window)",
                (contract, scope, next_window),
            )
        return written

    def _write_verdicts(self, conn: sqlite3.Connection, verdicts: Iterable[WindowVerdict],
                        author: str) -> list[WindowVerdict]:
        """The body of `write_verdicts`, inside the caller's transaction."""
        written: list[WindowVerdict] = []
        link = chain.next_seq(conn)  # the chain record these revisions will get
        chained: list[tuple[Any, ...]] = []
        ids: list[int] = []
        for v in verdicts:
            row = conn.execute(
                f"SELECT {_WINDOW_COLUMNS} FROM windows WHERE contract=? AND service=? "
                "AND scope=? AND window_start=?",
                (v.contract, v.service, v.scope, v.window_start),
            ).fetchone()
            revision = 0
            if row is not None:
                current = _verdict_row(row)
                if current.same_decision(v) and current.note == v.note:
                    continue
                revision = current.revision + 1
                _count_day(conn, current, -1)
            _count_day(conn, v, 1)
            stored = dataclasses.replace(v, revision=revision)
            classes = json.dumps(list(v.failure_classes))
            values = (v.contract, v.service, v.scope, v.window_start, v.window_seconds,
                      v.verdict.value, v.reason.value, v.attempts, v.failures, classes)
            conn.execute(
                f"INSERT OR REPLACE INTO windows ({_WINDOW_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, revision, v.decided_at, v.note),
            )
            cur = conn.execute(
                "INSERT INTO window_revisions (contract, service, scope, window_start, "
                "window_seconds, verdict, reason, attempts, failures, failure_classes, "
                "revision, decided_at, author, note, link) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, revision, v.decided_at, author, v.note, link),
            )
            chained.append((*values, revision, v.decided_at, author, v.note))
            ids.append(int(cur.lastrowid or 0))
            conn.execute(
                "INSERT INTO window_counts VALUES (?, ?, ?, ?, ?, 1) "
                "ON CONFLICT DO UPDATE SET count=count+1",
                (v.contract, v.service, v.scope, v.verdict.value, v.reason.value),
            )
            written.append(stored)
        if written:
            chain.chain_revisions(conn, link, chained, ids[0], ids[-1])
            for hook in self._hooks:
                hook(conn, written)
        return written

    def prune_attempts(self, before: float) -> int:
        """Drop attempts older than the retention; verdicts and counters are kept for good.
        `meta.attempts_pruned_before` says from when on windows can be recomputed from
        their attempts (`sla-probe check --consistency`)."""
        with self._transaction() as conn:
            removed = chain.prune_attempts(conn, before)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('attempts_pruned_before', ?) "
                "ON CONFLICT(key) DO UPDATE "
                "SET value=MAX(CAST(value AS REAL), CAST(excluded.value AS REAL))",
                (before,))
            return removed

    def checkpoint(self) -> None:
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def write_revisions(
        self, due: Callable[[], Iterable[tuple[str, list[WindowVerdict]]]],
    ) -> int:
        """Write the (author, revisions) batches that `due()` computes, in one transaction.

        `due` runs inside the transaction, which holds SQLite's write lock: what it reads
        (windows, recorded exclusions) cannot change before its revisions commit."""
        with self._transaction() as conn:
            return sum(len(self._write_verdicts(conn, batch, author)) for author, batch in due())

    def record_exclusion(
        self, record: Declared,
        due: Callable[[Declared], Iterable[tuple[str, list[WindowVerdict]]]],
    ) -> tuple[Declared, int, bool]:
        """Store a declared exclusion (or its revert) and the verdict revisions it causes, in
        one transaction: a crash leaves both or neither. `due` runs after the record is
        visible inside the transaction, and is given the stored record (a revert: the
        record it reverted, with its range), so the revisions see it and every exclusion
        that other writers committed before. Returns (stored, revisions written, whether
        the record is new); an identical retry stores nothing and still lays the
        exclusions, which finds nothing left to revise."""
        with self._transaction() as conn:
            stored, new = exclusions.store(conn, record)
            if new:
                chain.chain_entry(conn, "exclusion", stored.contract, {
                    "action": "revert" if record.reverted_at is not None else "record",
                    "exclusion": stored.to_json()}, at=record.reverted_at or record.at or 0.0)
            written = sum(len(self._write_verdicts(conn, batch, author))
                          for author, batch in due(stored))
        return stored, written, new

    def record_ticket(self, event: TicketEvent) -> TicketEvent:
        """Store a support ticket event and chain it, in one transaction (issue 16)."""
        with self._transaction() as conn:
            stored = tickets.store(conn, event)
            chain.chain_entry(conn, "ticket", stored.contract, {"ticket": stored.to_json()},
                              at=stored.recorded_at)
        return stored

    def chain_entries(self, entries: Iterable[tuple[str, str, dict[str, Any], float, str]]) -> int:
        """Chain (kind, contract, content, seen at, key) entries from the config
        (maintenance, declared exclusions) not chained before under their key."""
        with self._transaction() as conn:
            return sum(chain.chain_entry(conn, kind, subject, content, at=at, key=key) is not None
                       for kind, subject, content, at, key in entries)
