"""The durable ledger: SQLite in WAL mode, the embedded default store.

Attempts are appended in one transaction per flush; a window verdict is committed before
anything exports it. A verdict is never overwritten in place: a different later decision for
the same window becomes revision N+1 in `window_revisions`, and `windows` points at the
newest. Every method here is synchronous and runs on the daemon's single ledger thread;
readers (scrapes, reports) open their own read-only connection.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from probe.model import Attempt, Reason, Role, Verdict, WindowVerdict

T = TypeVar("T")
VerdictHook = Callable[[sqlite3.Connection, list[WindowVerdict]], None]

LEDGER_FILE = "ledger.sqlite3"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,
        service TEXT NOT NULL,
        check_name TEXT NOT NULL,
        role TEXT NOT NULL,
        ok INTEGER NOT NULL,
        failure_class TEXT,
        latency REAL NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        evidence TEXT NOT NULL DEFAULT '{}',
        retried INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX attempts_started ON attempts (started_at);
    CREATE TABLE attempt_stats (
        service TEXT NOT NULL, check_name TEXT NOT NULL, result TEXT NOT NULL,
        count INTEGER NOT NULL, duration_sum REAL NOT NULL,
        PRIMARY KEY (service, check_name, result)
    ) WITHOUT ROWID;
    CREATE TABLE attempt_buckets (
        service TEXT NOT NULL, check_name TEXT NOT NULL, bucket INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (service, check_name, bucket)
    ) WITHOUT ROWID;
    CREATE TABLE last_attempt (
        service TEXT NOT NULL, check_name TEXT NOT NULL, role TEXT NOT NULL,
        started_at REAL NOT NULL, ok INTEGER NOT NULL, failure_class TEXT,
        latency REAL NOT NULL, evidence TEXT NOT NULL,
        PRIMARY KEY (service, check_name)
    ) WITHOUT ROWID;
    CREATE TABLE windows (
        contract TEXT NOT NULL, service TEXT NOT NULL, scope TEXT NOT NULL,
        window_start INTEGER NOT NULL, window_seconds INTEGER NOT NULL,
        verdict TEXT NOT NULL, reason TEXT NOT NULL,
        attempts INTEGER NOT NULL, failures INTEGER NOT NULL, failure_classes TEXT NOT NULL,
        revision INTEGER NOT NULL, decided_at REAL NOT NULL, note TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (contract, service, scope, window_start)
    ) WITHOUT ROWID;
    CREATE INDEX windows_month ON windows
        (contract, scope, window_start, service, verdict, reason);
    CREATE TABLE window_revisions (
        id INTEGER PRIMARY KEY,
        contract TEXT NOT NULL, service TEXT NOT NULL, scope TEXT NOT NULL,
        window_start INTEGER NOT NULL, window_seconds INTEGER NOT NULL, revision INTEGER NOT NULL,
        verdict TEXT NOT NULL, reason TEXT NOT NULL,
        attempts INTEGER NOT NULL, failures INTEGER NOT NULL, failure_classes TEXT NOT NULL,
        decided_at REAL NOT NULL, author TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
        UNIQUE (contract, service, scope, window_start, revision)
    );
    CREATE TABLE window_counts (
        contract TEXT NOT NULL, service TEXT NOT NULL, scope TEXT NOT NULL,
        verdict TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (contract, service, scope, verdict, reason)
    ) WITHOUT ROWID;
    CREATE TABLE cursors (
        contract TEXT NOT NULL, scope TEXT NOT NULL, next_window INTEGER NOT NULL,
        PRIMARY KEY (contract, scope)
    ) WITHOUT ROWID;
    """,
    # 2: incidents and the status page look windows up by verdict (down runs, first up after)
    """
    CREATE INDEX windows_by_verdict ON windows (contract, scope, verdict, service, window_start);
    """,
    # 3: quorum (probe/quorum/store.py): the durable outbox of signed verdicts to publish,
    # the votes received from every vantage, and rejected messages by reason
    """
    CREATE TABLE quorum_outbox (
        id INTEGER PRIMARY KEY,
        topic TEXT NOT NULL, payload BLOB NOT NULL,
        contract TEXT NOT NULL, window_start INTEGER NOT NULL,
        created_at REAL NOT NULL, sent_at REAL
    );
    CREATE INDEX quorum_outbox_unsent ON quorum_outbox (id) WHERE sent_at IS NULL;
    CREATE INDEX quorum_outbox_window ON quorum_outbox (window_start);
    CREATE TABLE quorum_votes (
        contract TEXT NOT NULL, service TEXT NOT NULL, window_start INTEGER NOT NULL,
        vantage TEXT NOT NULL, window_seconds INTEGER NOT NULL,
        verdict TEXT NOT NULL, reason TEXT NOT NULL,
        attempts INTEGER NOT NULL, failures INTEGER NOT NULL, failure_classes TEXT NOT NULL,
        revision INTEGER NOT NULL, decided_at REAL NOT NULL, fingerprint TEXT NOT NULL,
        received_at REAL NOT NULL, updates INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (contract, window_start, service, vantage)
    ) WITHOUT ROWID;
    CREATE INDEX quorum_votes_vantage ON quorum_votes (vantage, received_at);
    CREATE TABLE quorum_rejections (
        reason TEXT PRIMARY KEY, count INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 4: day totals of current verdicts, so a month's figures (report, every scrape) sum
    # about 30 rows per service instead of 43,200 windows; kept by `write_verdicts`
    """
    CREATE TABLE window_days (
        contract TEXT NOT NULL, service TEXT NOT NULL, scope TEXT NOT NULL,
        day INTEGER NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,
        windows INTEGER NOT NULL, attempts INTEGER NOT NULL, failures INTEGER NOT NULL,
        PRIMARY KEY (contract, scope, day, service, verdict, reason)
    ) WITHOUT ROWID;
    INSERT INTO window_days
        SELECT contract, service, scope, window_start - window_start % 86400, verdict, reason,
               COUNT(*), SUM(attempts), SUM(failures)
        FROM windows GROUP BY 1, 2, 3, 4, 5, 6;
    CREATE INDEX window_revisions_decided ON window_revisions (scope, decided_at);
    CREATE INDEX windows_notable ON windows (contract, scope, window_start)
        WHERE verdict != 'up' OR failures > 0;
    """,
)

DAY = 86400
_EVIDENCE_ENCODER = json.JSONEncoder(sort_keys=True)  # the same text as json.dumps(sort_keys)


class LedgerError(Exception):
    """The ledger cannot be opened or written; the message names the file."""


def bucket_index(latency: float) -> int:
    """Index of the first bucket whose upper bound holds `latency` (len = +Inf)."""
    return bisect.bisect_left(LATENCY_BUCKETS, latency)


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    try:
        if readonly:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=10
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
    except (sqlite3.Error, OSError) as exc:
        raise LedgerError(f"cannot open ledger {path}: {exc}") from None
    conn.isolation_level = None  # explicit BEGIN/COMMIT
    return conn


def _count_day(conn: sqlite3.Connection, v: WindowVerdict, sign: int) -> None:
    """Add (sign=1) or take back (sign=-1) one current verdict in `window_days`."""
    conn.execute(
        "INSERT INTO window_days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE "
        "SET windows=windows+excluded.windows, attempts=attempts+excluded.attempts, "
        "failures=failures+excluded.failures",
        (v.contract, v.service, v.scope, v.window_start - v.window_start % DAY,
         v.verdict.value, v.reason.value, sign, sign * v.attempts, sign * v.failures),
    )


def _verdict_row(row: Sequence[Any]) -> WindowVerdict:
    classes = tuple(json.loads(row[9])) if row[9] else ()
    return WindowVerdict(
        contract=row[0], service=row[1], scope=row[2], window_start=row[3],
        window_seconds=row[4], verdict=Verdict(row[5]), reason=Reason(row[6]),
        attempts=row[7], failures=row[8], failure_classes=classes, revision=row[10],
        decided_at=row[11], note=row[12],
    )


_WINDOW_COLUMNS = (
    "contract, service, scope, window_start, window_seconds, verdict, reason, attempts, "
    "failures, failure_classes, revision, decided_at, note"
)


def _add_totals(out: dict[str, dict[tuple[str, str], tuple[int, int, int]]],
                rows: Iterable[Sequence[Any]]) -> None:
    for service, verdict, reason, count, attempts, failures in rows:
        by = out.setdefault(service, {})
        old = by.get((verdict, reason), (0, 0, 0))
        by[(verdict, reason)] = (old[0] + count, old[1] + (attempts or 0),
                                 old[2] + (failures or 0))


class LedgerReader:
    """Read-only queries; safe to use from any one thread at a time."""

    def __init__(self, path: Path, conn: sqlite3.Connection | None = None) -> None:
        self.path = path
        self._conn = conn if conn is not None else _connect(path, readonly=True)
        self._lock = threading.RLock()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the read connection (for modules that own tables, e.g. quorum)."""
        with self._read() as conn:
            return fn(conn)

    def meta(self, key: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def outcomes_between(self, start: float, end: float) -> list[Attempt]:
        """Attempts in [start, end) with what a verdict needs (no detail, no evidence)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT started_at, service, check_name, role, ok, failure_class, latency, "
                "retried FROM attempts WHERE started_at >= ? AND started_at < ? "
                "ORDER BY started_at",
                (start, end),
            ).fetchall()
        roles = {r.value: r for r in Role}
        return [Attempt(r[0], r[1], r[2], roles[r[3]], bool(r[4]), r[5], r[6],
                        retried=bool(r[7])) for r in rows]

    def windows(
        self, contract: str, start: int, end: int, scope: str = "local",
        service: str | None = None,
    ) -> list[WindowVerdict]:
        """Current verdicts with `start <= window_start < end`, oldest first."""
        sql = (f"SELECT {_WINDOW_COLUMNS} FROM windows WHERE contract=? AND scope=? "
               "AND window_start >= ? AND window_start < ?")
        args: list[Any] = [contract, scope, start, end]
        if service is not None:
            sql += " AND service=?"
            args.append(service)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY service, window_start", args).fetchall()
        return [_verdict_row(r) for r in rows]

    def notable_windows(self, contract: str, start: int, end: int, scope: str = "local",
                        *, failed_up: bool = False) -> list[WindowVerdict]:
        """The windows a month's figures need row by row: every one that is not `up` (down,
        excluded with its note, no_data), and with `failed_up` the up windows with failed
        attempts (the `requests` method). The partial index `windows_notable` serves it."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_WINDOW_COLUMNS} FROM windows WHERE contract=? AND scope=? "
                "AND window_start >= ? AND window_start < ? "
                "AND (verdict != 'up' OR failures > 0) AND (verdict != 'up' OR ?) "
                "ORDER BY service, window_start",
                (contract, scope, start, end, int(failed_up)),
            ).fetchall()
        return [_verdict_row(r) for r in rows]

    def revisions(self, contract: str, service: str, window_start: int,
                  scope: str = "local") -> list[tuple[WindowVerdict, str]]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT contract, service, scope, window_start, window_seconds, verdict, "
                "reason, attempts, failures, failure_classes, revision, decided_at, note, "
                "author FROM window_revisions WHERE contract=? AND service=? AND scope=? "
                "AND window_start=? ORDER BY revision",
                (contract, service, scope, window_start),
            ).fetchall()
        return [(_verdict_row(r), r[13]) for r in rows]

    def month_counts(
        self, contract: str, start: int, end: int, scope: str = "local"
    ) -> dict[str, Counter[tuple[str, str]]]:
        """Per service, how many current windows in [start, end) have each (verdict, reason)."""
        out: dict[str, Counter[tuple[str, str]]] = {}
        for service, by in self.window_totals(contract, start, end, scope).items():
            out[service] = Counter({key: n[0] for key, n in by.items()})
        return out

    def window_totals(
        self, contract: str, start: int, end: int, scope: str = "local"
    ) -> dict[str, dict[tuple[str, str], tuple[int, int, int]]]:
        """Per service and (verdict, reason): (windows, attempts, failures) in [start, end).

        Whole UTC days come from `window_days`; the partial days at either end (a month in
        a time zone other than UTC) are summed from the windows themselves.
        """
        first_day = -(-start // DAY) * DAY
        last_day = end // DAY * DAY
        if first_day >= last_day:
            return self._scan_totals(contract, start, end, scope)
        out = self._scan_totals(contract, start, first_day, scope)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT service, verdict, reason, SUM(windows), SUM(attempts), SUM(failures) "
                "FROM window_days WHERE contract=? AND scope=? AND day >= ? AND day < ? "
                "GROUP BY service, verdict, reason HAVING SUM(windows) > 0",
                (contract, scope, first_day, last_day),
            ).fetchall()
        _add_totals(out, rows)
        tail = self._scan_totals(contract, last_day, end, scope)
        for service, by in tail.items():
            _add_totals(out, [(service, v, r, *n) for (v, r), n in by.items()])
        return out

    def _scan_totals(
        self, contract: str, start: int, end: int, scope: str
    ) -> dict[str, dict[tuple[str, str], tuple[int, int, int]]]:
        out: dict[str, dict[tuple[str, str], tuple[int, int, int]]] = {}
        if start >= end:
            return out
        with self._read() as conn:
            rows = conn.execute(
                "SELECT service, verdict, reason, COUNT(*), SUM(attempts), SUM(failures) "
                "FROM windows WHERE contract=? AND scope=? AND window_start >= ? "
                "AND window_start < ? GROUP BY service, verdict, reason",
                (contract, scope, start, end),
            ).fetchall()
        _add_totals(out, rows)
        return out

    def window_counts(self, scope: str = "local") -> list[tuple[str, str, str, str, int]]:
        """(contract, service, verdict, reason, decisions): counters, revisions included."""
        with self._read() as conn:
            return conn.execute(
                "SELECT contract, service, verdict, reason, count FROM window_counts "
                "WHERE scope=? ORDER BY contract, service, verdict, reason",
                (scope,),
            ).fetchall()

    def attempt_stats(self) -> list[tuple[str, str, str, int, float]]:
        with self._read() as conn:
            return conn.execute(
                "SELECT service, check_name, result, count, duration_sum FROM attempt_stats "
                "ORDER BY service, check_name, result"
            ).fetchall()

    def attempt_buckets(self) -> dict[tuple[str, str], list[int]]:
        out: dict[tuple[str, str], list[int]] = {}
        with self._read() as conn:
            rows = conn.execute(
                "SELECT service, check_name, bucket, count FROM attempt_buckets"
            ).fetchall()
        for service, check, bucket, count in rows:
            counts = out.setdefault((service, check), [0] * (len(LATENCY_BUCKETS) + 1))
            counts[bucket] = count
        return out

    def last_attempts(self) -> list[tuple[str, str, str, float, bool, str | None, float,
                                          dict[str, str]]]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT service, check_name, role, started_at, ok, failure_class, latency, "
                "evidence FROM last_attempt ORDER BY service, check_name"
            ).fetchall()
        return [(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], json.loads(r[7]))
                for r in rows]

    def next_window(self, contract: str, scope: str = "local") -> int | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT next_window FROM cursors WHERE contract=? AND scope=?", (contract, scope)
            ).fetchone()
        return None if row is None else int(row[0])

    def windows_by_verdict(
        self, contract: str, verdict: Verdict, start: int, end: int, *,
        scope: str = "local", service: str | None = None, limit: int | None = None,
        newest_first: bool = False,
    ) -> list[WindowVerdict]:
        """Current verdicts equal to `verdict` with `start <= window_start < end`, by
        service then oldest (or newest) first; `limit` caps the rows (e.g. 1: the first up
        after t)."""
        # without ANALYZE statistics SQLite would pick windows_month and sort
        sql = (f"SELECT {_WINDOW_COLUMNS} FROM windows INDEXED BY windows_by_verdict "
               "WHERE contract=? AND scope=? AND verdict=? AND window_start >= ? "
               "AND window_start < ?")
        args: list[Any] = [contract, scope, verdict.value, start, end]
        if service is not None:
            sql += " AND service=?"
            args.append(service)
        sql += " ORDER BY service, window_start" + (" DESC" if newest_first else "")
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [_verdict_row(r) for r in rows]

    def latest_window(self, contract: str, service: str,
                      scope: str = "local") -> WindowVerdict | None:
        """The newest current verdict of one service, or None if it has none."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_WINDOW_COLUMNS} FROM windows WHERE contract=? AND service=? "
                "AND scope=? ORDER BY window_start DESC LIMIT 1",
                (contract, service, scope),
            ).fetchone()
        return None if row is None else _verdict_row(row)

    def revision_cursor(self) -> int:
        """The id of the newest stored decision (every write of a verdict adds one)."""
        with self._read() as conn:
            row = conn.execute("SELECT MAX(id) FROM window_revisions").fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def revised_since(self, contract: str, cursor: int, scope: str = "local") -> list[int]:
        """Window starts of `contract` decided or revised after `revision_cursor()` was
        `cursor`: what a cache of past figures must recompute."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT window_start FROM window_revisions "
                "WHERE id > ? AND contract=? AND scope=?",
                (cursor, contract, scope),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def latest_decided(self, scope: str = "local") -> float | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT MAX(decided_at) FROM window_revisions WHERE scope=?", (scope,)
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])


class Ledger(LedgerReader):
    """The writer. One per state directory; all writes are single transactions."""

    def __init__(self, state_dir: Path) -> None:
        path = Path(state_dir) / LEDGER_FILE
        conn = _connect(path, readonly=False)
        super().__init__(path, conn)
        self._hooks: list[VerdictHook] = []
        self._migrate()

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

    def _migrate(self) -> None:
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise LedgerError(
                    f"ledger {self.path} has schema {version}, newer than this sla-probe "
                    f"({len(MIGRATIONS)}); refusing to touch it"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                try:
                    self._conn.executescript(
                        f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;"
                    )
                except sqlite3.Error as exc:
                    self._conn.execute("ROLLBACK") if self._conn.in_transaction else None
                    raise LedgerError(f"cannot migrate {self.path} to {number}: {exc}") from exc

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

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
            bucket = (a.service, a.check, bisect.bisect_left(LATENCY_BUCKETS, a.latency))
            buckets[bucket] = buckets.get(bucket, 0) + 1
            prev = last.get((a.service, a.check))
            if prev is None or a.started_at >= prev[3]:
                last[(a.service, a.check)] = (a.service, a.check, role, a.started_at, ok,
                                              a.failure_class, a.latency, evidence)
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO attempts (started_at, service, check_name, role, ok, "
                "failure_class, latency, detail, evidence, retried) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        written: list[WindowVerdict] = []
        with self._transaction() as conn:
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
                conn.execute(
                    "INSERT INTO window_revisions (contract, service, scope, window_start, "
                    "window_seconds, verdict, reason, attempts, failures, failure_classes, "
                    "revision, decided_at, author, note) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, revision, v.decided_at, author, v.note),
                )
                conn.execute(
                    "INSERT INTO window_counts VALUES (?, ?, ?, ?, ?, 1) "
                    "ON CONFLICT DO UPDATE SET count=count+1",
                    (v.contract, v.service, v.scope, v.verdict.value, v.reason.value),
                )
                written.append(stored)
            if written:
                for hook in self._hooks:
                    hook(conn, written)
            for (contract, scope), next_window in (cursors or {}).items():
                conn.execute(
                    "INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT DO UPDATE "
                    "SET next_window=MAX(next_window, excluded.next_window)",
                    (contract, scope, next_window),
                )
        return written

    def prune_attempts(self, before: float) -> int:
        """Drop attempts older than the retention; verdicts and counters are kept for good."""
        with self._transaction() as conn:
            cur = conn.execute("DELETE FROM attempts WHERE started_at < ?", (before,))
            return cur.rowcount

    def checkpoint(self) -> None:
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
