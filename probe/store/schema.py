"""The ledger's schema, its append-only migrations, and how a connection is opened.

The schema version is SQLite's `PRAGMA user_version`; migration N brings a ledger from N-1 to
N in one transaction. Migrations are only ever appended: a ledger written by any earlier
sla-probe opens and upgrades (tests/store/test_migrations.py keeps one written at schema 4).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

LEDGER_FILE = "ledger.sqlite3"

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
    # 3: quorum (probe/store/quorum.py): the durable outbox of signed verdicts to publish,
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
    # 5: declared exclusions (`sla-probe exclude`) become rows, one per record; the JSON
    # registry that schema 4 kept in `meta` moves here and is dropped. At most one active
    # (not reverted) record per contract and reference.
    """
    CREATE TABLE declared_exclusions (
        id INTEGER PRIMARY KEY,
        contract TEXT NOT NULL, services TEXT NOT NULL,
        start REAL NOT NULL, end REAL NOT NULL,
        reason TEXT NOT NULL, reference TEXT NOT NULL, by TEXT NOT NULL,
        at REAL, reverted_at REAL, reverted_by TEXT
    );
    CREATE UNIQUE INDEX declared_exclusions_active ON declared_exclusions (contract, reference)
        WHERE reverted_at IS NULL;
    INSERT INTO declared_exclusions
        (contract, services, start, end, reason, reference, by, at, reverted_at, reverted_by)
        SELECT json_extract(r.value, '$.contract'), json_extract(r.value, '$.services'),
               json_extract(r.value, '$.start'), json_extract(r.value, '$.end'),
               json_extract(r.value, '$.reason'), json_extract(r.value, '$.reference'),
               json_extract(r.value, '$.by'), json_extract(r.value, '$.at'),
               json_extract(r.value, '$.reverted_at'), json_extract(r.value, '$.reverted_by')
        FROM meta, json_each(meta.value) AS r WHERE meta.key = 'declared_exclusions'
        ORDER BY r.key;
    DELETE FROM meta WHERE key = 'declared_exclusions';
    """,
    # 6: the tamper-evident ledger (probe/store/chain.py): one chain record per committed
    # batch of attempts, batch of verdict revisions, exclusion and maintenance entry; the
    # rows point back at their record; signed heads with their RFC 3161 timestamps
    """
    CREATE TABLE chain (
        seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, at INTEGER NOT NULL,
        prev TEXT NOT NULL, parts TEXT NOT NULL, hash TEXT NOT NULL,
        first_id INTEGER, last_id INTEGER
    );
    CREATE INDEX chain_at ON chain (at);
    CREATE TABLE chain_entries (
        seq INTEGER NOT NULL, subject TEXT NOT NULL, kind TEXT NOT NULL, line TEXT NOT NULL,
        key TEXT, PRIMARY KEY (seq, subject)
    );
    CREATE INDEX chain_entries_key ON chain_entries (key);
    CREATE TABLE chain_heads (
        id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, at INTEGER NOT NULL,
        payload TEXT NOT NULL, signature TEXT NOT NULL,
        tsa BLOB, tsa_tries INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX chain_heads_at ON chain_heads (at);
    ALTER TABLE attempts ADD COLUMN batch INTEGER;
    ALTER TABLE window_revisions ADD COLUMN link INTEGER;
    """,
    # 7: vendor feeds (probe/store/feeds.py): every version of every announcement with the
    # time we first saw it (our witness of the notice), and the Alertmanager silences made
    """
    CREATE TABLE vendor_announcements (
        id INTEGER PRIMARY KEY,
        feed TEXT NOT NULL, vendor_id TEXT NOT NULL, version INTEGER NOT NULL,
        first_seen REAL NOT NULL, digest TEXT NOT NULL, kind TEXT NOT NULL,
        title TEXT NOT NULL, status TEXT NOT NULL,
        created_at REAL, updated_at REAL, start REAL, end REAL,
        components TEXT NOT NULL, impact TEXT NOT NULL, cancelled INTEGER NOT NULL,
        url TEXT NOT NULL,
        UNIQUE (feed, vendor_id, version)
    );
    CREATE TABLE vendor_silences (
        contract TEXT NOT NULL, reference TEXT NOT NULL, silence_id TEXT NOT NULL,
        start REAL NOT NULL, end REAL NOT NULL, created REAL NOT NULL, removed REAL,
        PRIMARY KEY (contract, reference, silence_id)
    ) WITHOUT ROWID;
    """,
    # 8: support tickets (probe/store/tickets.py, issue 16 item 7): one row per recorded
    # event (open, update, resolve), chained like an exclusion; at most one open per
    # contract and reference
    """
    CREATE TABLE ticket_events (
        id INTEGER PRIMARY KEY,
        contract TEXT NOT NULL, reference TEXT NOT NULL, action TEXT NOT NULL,
        at REAL NOT NULL, data TEXT NOT NULL, by TEXT NOT NULL, recorded_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX ticket_events_open ON ticket_events (contract, reference)
        WHERE action = 'open';
    """,
    # 9: the ledger's identity (probe/store/identity.py keeps a copy beside the file, so a
    # ledger that went missing or empty is refused instead of silently re-initialised)
    """
    INSERT OR IGNORE INTO meta (key, value) VALUES ('ledger_id', lower(hex(randomblob(16))));
    """,
    # 10: vendor announcement versions are chained from here on (issue 18 item 2; chain.py);
    # rows up to this id were written before and are chained when their feed next polls
    """
    INSERT OR IGNORE INTO meta (key, value) SELECT 'announcements_unchained_through',
        CAST(COALESCE(MAX(id), 0) AS TEXT) FROM vendor_announcements;
    """,
)


class LedgerError(Exception):
    """The ledger cannot be opened or written; the message names the file."""


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (explicit BEGIN/COMMIT); the writer's in WAL mode."""
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
    conn.isolation_level = None
    return conn


def quick_check(conn: sqlite3.Connection, path: Path) -> None:
    """`PRAGMA quick_check`; a malformed ledger raises LedgerError naming the first problem."""
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"ledger {path} is malformed ({exc}); restore it from a backup") \
            from None
    problems = [str(r[0]) for r in rows if r[0] != "ok"]
    if problems:
        raise LedgerError(f"ledger {path} is malformed ({problems[0]}"
                          f"{f' and {len(problems) - 1} more' if len(problems) > 1 else ''})"
                          "; restore it from a backup")


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the ledger at `path` to the newest schema; refuse one newer than this code."""
    version = schema_version(conn)
    if version > len(MIGRATIONS):
        raise LedgerError(
            f"ledger {path} has schema {version}, newer than this sla-probe "
            f"({len(MIGRATIONS)}); refusing to touch it"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;"
            )
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise LedgerError(f"cannot migrate {path} to {number}: {exc}") from exc
