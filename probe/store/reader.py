"""Read-only queries on the ledger: windows, month totals, counters, cursors.

Scrapes, reports, the status page and the API each open their own read-only connection, so
no reader ever waits on the writer thread. `LedgerReader` is also what the pure contract core
reads through: it implements `probe.contracts.source.WindowSource` (checked by mypy below).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from probe.contracts.model import Declared
from probe.contracts.source import FirstFailure
from probe.model import LATENCY_BUCKETS, Attempt, Reason, Role, Verdict, WindowVerdict
from probe.store import exclusions, tickets
from probe.store.schema import connect, quick_check
from probe.support.tickets import TicketEvent

if TYPE_CHECKING:
    from probe.contracts.source import WindowSource

T = TypeVar("T")
DAY = 86400


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
        self._conn = conn if conn is not None else connect(path, readonly=True)
        self._lock = threading.RLock()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def verify(self) -> None:
        """`PRAGMA quick_check` first: a malformed ledger is refused, never reported on."""
        with self._read() as conn:
            quick_check(conn, self.path)

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

    def max_attempt_id(self) -> int:
        """The id of the newest stored attempt (ids only grow), 0 for none."""
        with self._read() as conn:
            row = conn.execute("SELECT MAX(id) FROM attempts").fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def late_windows(self, after_id: int, upto_id: int, before: int,
                     window_seconds: int) -> list[int]:
        """Starts of windows before `before` (a decider cursor: decided already) that hold
        an attempt stored with `after_id < id <= upto_id`: attempts that arrived after
        their window was decided (a backward clock step). Oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT CAST(started_at / ? AS INTEGER) * ? FROM attempts "
                "WHERE id > ? AND id <= ? AND started_at < ? ORDER BY 1",
                (window_seconds, window_seconds, after_id, upto_id, before),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def outage_samples(self, service: str, start: float, end: float
                       ) -> list[tuple[float, bool]]:
        """Failed attempts of `service` (role service) in [start, end) and the successes
        next to them, oldest first. The month is scanned by the `started_at` index but only
        the rows around failures leave SQLite."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT started_at, ok FROM (SELECT started_at, ok, "
                "LAG(ok) OVER w AS prev, LEAD(ok) OVER w AS next FROM attempts "
                "WHERE service=? AND role='service' AND started_at >= ? AND started_at < ? "
                "WINDOW w AS (ORDER BY started_at, id)) "
                "WHERE ok=0 OR prev=0 OR next=0 ORDER BY started_at",
                (service, start, end),
            ).fetchall()
        return [(float(t), bool(ok)) for t, ok in rows]

    def first_failures(self, services: Sequence[str], start: float, end: float,
                       window_seconds: int) -> dict[int, FirstFailure]:
        """Per window (aligned to the epoch) of [start, end): the first failed attempt of
        any of `services` (role service). One grouped scan of the month's failures, so a
        report names each down window's first error without reading every attempt."""
        if not services:
            return {}
        marks = ", ".join("?" for _ in services)
        with self._read() as conn:
            # SQLite takes the bare columns from the row that gives MIN(started_at)
            rows = conn.execute(
                "SELECT CAST(started_at / ? AS INTEGER) * ? AS w, MIN(started_at), service, "
                "check_name, COALESCE(failure_class, ''), detail FROM attempts "
                f"WHERE started_at >= ? AND started_at < ? AND ok=0 AND role='service' "
                f"AND service IN ({marks}) GROUP BY w ORDER BY w",
                (window_seconds, window_seconds, start, end, *services),
            ).fetchall()
        return {int(r[0]): FirstFailure(int(r[0]), float(r[1]), r[2], r[3], r[4], r[5])
                for r in rows}

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

    def windows_page(
        self, contract: str, start: int, end: int, scope: str = "local", *,
        service: str | None = None, after: tuple[str, int] | None = None, limit: int = 1000,
    ) -> list[WindowVerdict]:
        """At most `limit` current verdicts in [start, end), by service then window start,
        from just after the row `after` (service, window_start): one page of the API.

        Walks the primary key (contract, service, scope, window_start) from the cursor, so
        a page costs the same at the end of a 432k-window month as at its start; the `+`
        keeps SQLite from preferring `windows_month` and sorting the whole range."""
        service_from, start_after = after if after is not None else ("", start - 1)
        sql = (f"SELECT {_WINDOW_COLUMNS} FROM windows WHERE contract=? AND scope=? "
               "AND +window_start >= ? AND +window_start < ? "
               "AND (service, scope, window_start) > (?, ?, ?)")
        args: list[Any] = [contract, scope, start, end, service_from, scope, start_after]
        if service is not None:
            sql += " AND service=?"
            args.append(service)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY service, scope, window_start LIMIT ?",
                                [*args, limit]).fetchall()
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

    def first_window(self, contract: str, scope: str = "local") -> int | None:
        """The start of the oldest decided window of `contract`, or None."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT MIN(window_start) FROM windows WHERE contract=? AND scope=?",
                (contract, scope)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

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

    def declared_exclusions(self) -> list[Declared]:
        """Every exclusion recorded with `sla-probe exclude`, reverted ones included."""
        with self._read() as conn:
            return exclusions.all_records(conn)

    def ticket_events(self, contract: str | None = None) -> list[TicketEvent]:
        """Support ticket events (issue 16, item 7), in the order recorded."""
        with self._read() as conn:
            return tickets.events(conn, contract)


if TYPE_CHECKING:
    # mypy proves that the store serves everything the pure contract core reads.
    _source: WindowSource = LedgerReader(Path())
