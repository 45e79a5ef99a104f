"""The tamper-evident ledger: a hash chain over every committed write that matters.

Each committed batch of attempts, each batch of verdict revisions, each exclusion record,
ticket event, vendor announcement version and maintenance entry becomes one row of `chain`,
written in the same transaction as the rows it covers. The row carries its parts (per service
or contract: the SHA-256 of the covered rows' canonical lines and how many there are,
`probe.evidence.format`), the hash of the previous row, and its own hash over both. The
covered rows point back at it (`attempts.batch`, `window_revisions.link`,
`chain_entries.seq`), so `audit` can recompute every digest from the rows as they are now and
name the first one an editor touched; a vendor announcement's entry is also compared with its
`vendor_announcements` row.
Signed heads (`chain_heads`) pin the chain at a moment; signing is the caller's (it holds the
key), storing and reading them is here.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from probe.evidence import format as fmt

Row = tuple[Any, ...]
ATTEMPT_COLUMNS = ("started_at, service, check_name, role, ok, failure_class, latency, detail, "
                   "evidence, retried")
REVISION_COLUMNS = ("contract, service, scope, window_start, window_seconds, verdict, reason, "
                    "attempts, failures, failure_classes, revision, decided_at, author, note")
ANNOUNCEMENT = "announcement"  # the chain entry kind of a vendor announcement version
ANNOUNCEMENT_COLUMNS = ("feed, vendor_id, version, first_seen, kind, title, status, created_at, "
                        "updated_at, start, end, components, impact, cancelled, url")
_ANNOUNCEMENT_FIELDS = tuple(c.strip() for c in ANNOUNCEMENT_COLUMNS.split(","))


def tip(conn: sqlite3.Connection) -> tuple[int, str]:
    """(seq, hash) of the newest record; (0, GENESIS) for an empty chain."""
    row = conn.execute("SELECT seq, hash FROM chain ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, fmt.GENESIS) if row is None else (int(row[0]), str(row[1]))


def append(conn: sqlite3.Connection, kind: str, at: int, parts: Sequence[fmt.Part], *,
           first_id: int | None = None, last_id: int | None = None) -> int:
    """Add one record after the tip, inside the caller's transaction; returns its seq."""
    seq, prev = tip(conn)
    seq += 1
    parts = sorted(parts)
    conn.execute(
        "INSERT INTO chain (seq, kind, at, prev, parts, hash, first_id, last_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, kind, at, prev, json.dumps([list(p) for p in parts]),
         fmt.record_hash(seq, kind, at, prev, parts), first_id, last_id),
    )
    return seq


def attempt_line(row: Row) -> str:
    """The canonical line of an attempt row in `ATTEMPT_COLUMNS` order."""
    return fmt.attempt_line(*row)


def revision_line(row: Row) -> str:
    """The canonical line of a window_revisions row in `REVISION_COLUMNS` order."""
    (contract, service, scope, start, seconds, verdict, reason, attempts, failures, classes,
     revision, decided_at, author, note) = row[:14]
    if isinstance(classes, str):
        classes = json.loads(classes)
    return fmt.revision_line(contract, service, scope, start, seconds, verdict, reason,
                             attempts, failures, classes, revision, decided_at, author, note)


def announcement(row: Row) -> dict[str, Any]:
    """A vendor_announcements row (`ANNOUNCEMENT_COLUMNS` order) as the JSON object that is
    chained (the entry's `announcement`) and written to the pack's announcements file."""
    out = dict(zip(_ANNOUNCEMENT_FIELDS, row[:len(_ANNOUNCEMENT_FIELDS)], strict=True))
    out["version"] = int(out["version"])
    for name in ("first_seen", "created_at", "updated_at", "start", "end"):
        if out[name] is not None:
            out[name] = float(out[name])
    if isinstance(out["components"], str):
        out["components"] = json.loads(out["components"])
    out["cancelled"] = bool(out["cancelled"])
    return out


def announcement_key(feed: str, vendor_id: str, version: int) -> str:
    """The chain_entries key of one version: finds it again and keeps it chained once."""
    return f"{ANNOUNCEMENT}:{fmt.canon([feed, vendor_id, int(version)])}"


def announcement_prefix(feed: str) -> str:
    """What every `announcement_key` of `feed` starts with."""
    return f"{ANNOUNCEMENT}:{fmt.canon([feed])[:-1]},"


def _parts(lines: Sequence[tuple[str, str]]) -> list[fmt.Part]:
    by: dict[str, list[str]] = defaultdict(list)
    for subject, line in lines:
        by[subject].append(line)
    return [(subject, fmt.digest(ls), len(ls)) for subject, ls in by.items()]


def chain_attempts(conn: sqlite3.Connection, rows: Sequence[Row]) -> int:
    """Chain a batch of attempt rows (`ATTEMPT_COLUMNS` order) about to be inserted, in this
    order, by the caller; returns the seq the caller stores in `attempts.batch`."""
    first = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM attempts").fetchone()[0]) + 1
    lines = [(r[1], attempt_line(r)) for r in rows]
    at = fmt.ms(max(float(r[0]) for r in rows))
    return append(conn, fmt.ATTEMPTS, at, _parts(lines), first_id=first,
                  last_id=first + len(rows) - 1)


def chain_revisions(conn: sqlite3.Connection, seq: int, rows: Sequence[Row],
                    first_id: int, last_id: int) -> None:
    """Chain the revision rows just inserted with `link = seq` (`REVISION_COLUMNS` order)."""
    at = fmt.ms(max(float(r[11]) for r in rows))
    got = append(conn, fmt.REVISIONS, at, _parts([(r[0], revision_line(r)) for r in rows]),
                 first_id=first_id, last_id=last_id)
    assert got == seq, "revisions chained out of order"


def next_seq(conn: sqlite3.Connection) -> int:
    return tip(conn)[0] + 1


def chain_entry(conn: sqlite3.Connection, kind: str, subject: str, content: dict[str, Any], *,
                at: float, key: str | None = None) -> int | None:
    """Chain an exclusion or maintenance entry. With `key` (what the entry says, without
    when it was seen), an entry already chained under that key is not chained again."""
    if key is not None and conn.execute(
            "SELECT 1 FROM chain_entries WHERE key=? LIMIT 1", (key,)).fetchone():
        return None
    line = fmt.canon({"kind": kind, **content})
    seq = append(conn, kind, fmt.ms(at), [(subject, fmt.digest([line]), 1)])
    conn.execute("INSERT INTO chain_entries (seq, subject, kind, line, key) VALUES (?, ?, ?, ?, ?)",
                 (seq, subject, kind, line, key))
    return seq


# -- heads ---------------------------------------------------------------------------------

def sign_head(conn: sqlite3.Connection, vantage: str, public_key: bytes,
              sign: Callable[[bytes], bytes], now: float) -> tuple[int, str, str] | None:
    """Sign the current tip; returns (id, payload, signature b64), None for an empty chain."""
    import base64  # noqa: PLC0415

    seq, hash_ = tip(conn)
    if seq == 0:
        return None
    payload = fmt.head_payload(vantage, seq, hash_, fmt.ms(now), public_key)
    signature = base64.b64encode(sign(payload.encode())).decode()
    cur = conn.execute("INSERT INTO chain_heads (seq, at, payload, signature) VALUES (?, ?, ?, ?)",
                       (seq, fmt.ms(now), payload, signature))
    return int(cur.lastrowid or 0), payload, signature


def last_head(conn: sqlite3.Connection) -> tuple[int, int] | None:
    """(seq, at ms) of the newest signed head."""
    row = conn.execute("SELECT seq, at FROM chain_heads ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def heads(conn: sqlite3.Connection, first_seq: int = 0,
          last_seq: int | None = None) -> list[tuple[int, str, str, bytes | None]]:
    """(seq, payload, signature, timestamp response) of heads over seqs in the range."""
    rows = conn.execute(
        "SELECT seq, payload, signature, tsa FROM chain_heads WHERE seq >= ? AND seq <= ? "
        "ORDER BY id", (first_seq, last_seq if last_seq is not None else 2**62)).fetchall()
    return [(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]


def untimestamped(conn: sqlite3.Connection, limit: int = 16) -> list[tuple[int, str, int]]:
    """(id, payload, tries) of heads still waiting for their RFC 3161 timestamp."""
    return conn.execute("SELECT id, payload, tsa_tries FROM chain_heads WHERE tsa IS NULL "
                        "ORDER BY id LIMIT ?", (limit,)).fetchall()


def count_untimestamped(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM chain_heads WHERE tsa IS NULL").fetchone()[0])


def set_timestamp(conn: sqlite3.Connection, head_id: int, response: bytes | None) -> None:
    """Store a head's timestamp response, or (None) count one more failed try."""
    if response is None:
        conn.execute("UPDATE chain_heads SET tsa_tries=tsa_tries+1 WHERE id=?", (head_id,))
    else:
        conn.execute("UPDATE chain_heads SET tsa=? WHERE id=?", (response, head_id))


# -- reading a segment back --------------------------------------------------------------

def first_seq_since(conn: sqlite3.Connection, at: int) -> int:
    """The record just before the first with `at >= at` (so a segment starts before it)."""
    row = conn.execute("SELECT MIN(seq) FROM chain WHERE at >= ?", (at,)).fetchone()
    if row is None or row[0] is None:
        return tip(conn)[0] + 1
    return max(1, int(row[0]) - 1)


def first_head_after(conn: sqlite3.Connection, at: int) -> int | None:
    """The seq of the first head signed at or after `at` (ms)."""
    row = conn.execute("SELECT seq FROM chain_heads WHERE at >= ? ORDER BY id LIMIT 1",
                       (at,)).fetchone()
    return None if row is None else int(row[0])


def records(conn: sqlite3.Connection, first: int, last: int) -> list[Row]:
    """(seq, kind, at, prev, parts, hash, first_id, last_id) of records first..last."""
    rows = conn.execute(
        "SELECT seq, kind, at, prev, parts, hash, first_id, last_id FROM chain "
        "WHERE seq BETWEEN ? AND ? ORDER BY seq", (first, last)).fetchall()
    return [(*r[:4], [tuple(p) for p in json.loads(r[4])], *r[5:]) for r in rows]


def _id_range(recs: Sequence[Row], kind: str) -> tuple[int, int] | None:
    ids = [(r[6], r[7]) for r in recs if r[1] == kind and r[6] is not None]
    return None if not ids else (min(i[0] for i in ids), max(i[1] for i in ids))


def covered_rows(conn: sqlite3.Connection, recs: Sequence[Row]) -> Iterator[
        tuple[Row, dict[str, list[tuple[int, str]]]]]:
    """Each record with its covered rows now in the ledger: subject → [(row id, line)]."""
    attempts = _grouped(conn, _id_range(recs, fmt.ATTEMPTS),
                        f"SELECT batch, id, {ATTEMPT_COLUMNS} FROM attempts", 1, attempt_line)
    revisions = _grouped(conn, _id_range(recs, fmt.REVISIONS),
                         f"SELECT link, id, {REVISION_COLUMNS} FROM window_revisions", 0,
                         revision_line)
    entries: dict[int, dict[str, list[tuple[int, str]]]] = defaultdict(dict)
    if recs:
        for seq, subject, line in conn.execute(
                "SELECT seq, subject, line FROM chain_entries WHERE seq BETWEEN ? AND ?",
                (recs[0][0], recs[-1][0])):
            entries[seq].setdefault(subject, []).append((seq, line))
    for rec in recs:
        source = {fmt.ATTEMPTS: attempts, fmt.REVISIONS: revisions}.get(rec[1], entries)
        yield rec, source.get(rec[0], {})


def _grouped(conn: sqlite3.Connection, ids: tuple[int, int] | None, select: str, subject: int,
             line: Callable[[Row], str]) -> dict[int, dict[str, list[tuple[int, str]]]]:
    out: dict[int, dict[str, list[tuple[int, str]]]] = defaultdict(dict)
    if ids is None:
        return out
    for row in conn.execute(f"{select} WHERE id BETWEEN ? AND ? ORDER BY id", ids):
        if row[0] is not None:
            out[int(row[0])].setdefault(row[2 + subject], []).append((row[1], line(row[2:])))
    return out


def audit(conn: sqlite3.Connection) -> str | None:
    """Walk the whole chain against the rows it covers; the first inconsistency, named, or
    None. Attempts pruned after their month's evidence pack was written are skipped."""
    pruned = conn.execute("SELECT value FROM meta WHERE key='chain_pruned_through'").fetchone()
    pruned_through = int(pruned[0]) if pruned else 0
    last, _ = tip(conn)
    prev, expect = fmt.GENESIS, 1
    step = 5000
    for first in range(1, last + 1, step):
        recs = records(conn, first, min(last, first + step - 1))
        for rec, rows in covered_rows(conn, recs):
            seq, kind, at, rec_prev, parts, hash_ = rec[:6]
            if seq != expect:
                return f"chain: record {expect} is missing (next is {seq})"
            if rec_prev != prev:
                return f"chain: record {seq} does not follow record {seq - 1} (prev hash differs)"
            if fmt.record_hash(seq, kind, at, rec_prev, parts) != hash_:
                return f"chain: record {seq} was edited (its hash differs)"
            prev, expect = hash_, seq + 1
            if kind == fmt.ATTEMPTS and seq <= pruned_through:
                continue
            problem = _check_parts(kind, seq, parts, rows)
            if problem:
                return problem
    problem = _audit_announcements(conn)
    if problem:
        return problem
    row = conn.execute("SELECT seq, payload FROM chain_heads WHERE seq > ? LIMIT 1",
                       (last,)).fetchone()
    if row is not None:
        return f"chain_heads: head over record {row[0]} but the chain ends at {last}"
    for seq, payload in conn.execute("SELECT seq, payload FROM chain_heads"):
        rec = conn.execute("SELECT hash FROM chain WHERE seq=?", (seq,)).fetchone()
        if rec is None or json.loads(payload).get("hash") != rec[0]:
            return f"chain_heads: the signed head over record {seq} does not match the chain"
    return None


def _audit_announcements(conn: sqlite3.Connection) -> str | None:
    """Each chained announcement version against its vendor_announcements row as it is now
    (edited, deleted), and rows never chained though written after chaining began (added)."""
    through = conn.execute(
        "SELECT value FROM meta WHERE key='announcements_unchained_through'").fetchone()
    if through is None:
        return None  # a ledger before migration 10 (read-only): nothing chained yet
    rows = {(r[0], r[1], int(r[2])): r for r in conn.execute(
        f"SELECT {ANNOUNCEMENT_COLUMNS}, id FROM vendor_announcements")}
    chained: set[tuple[str, str, int]] = set()
    for seq, line in conn.execute("SELECT seq, line FROM chain_entries WHERE kind=? "
                                  "ORDER BY seq", (ANNOUNCEMENT,)):
        content = json.loads(line)["announcement"]
        ident = (content["feed"], content["vendor_id"], int(content["version"]))
        chained.add(ident)
        name = f"{content['feed']} {content['vendor_id']} version {ident[2]}"
        row = rows.get(ident)
        if row is None:
            return f"vendor_announcements: {name} of record {seq} was deleted"
        if fmt.canon(announcement(row)) != fmt.canon(content):
            return (f"vendor_announcements row id {row[-1]} ({name}) of record {seq}: edited "
                    "(differs from the chain)")
    for ident, row in sorted(rows.items(), key=lambda kv: kv[1][-1]):
        if ident not in chained and int(row[-1]) > int(through[0]):
            return (f"vendor_announcements row id {row[-1]} ({ident[0]} {ident[1]} version "
                    f"{ident[2]}): added, no chain record holds it")
    return None


_TABLES = {fmt.ATTEMPTS: "attempts", fmt.REVISIONS: "window_revisions"}


def _check_parts(kind: str, seq: int, parts: Sequence[Any],
                 rows: dict[str, list[tuple[int, str]]]) -> str | None:
    table = _TABLES.get(kind, "chain_entries")
    for subject, want, count in parts:
        got = rows.get(subject, [])
        ids = ", ".join(str(i) for i, _ in got) or "none"
        where = f"{table} rows of record {seq} ({kind}, {subject}; ids {ids})"
        if len(got) != count:
            return f"{where}: {count - len(got)} row(s) deleted" if len(got) < count else \
                f"{where}: {len(got) - count} row(s) added"
        if fmt.digest(line for _, line in got) != want:
            return f"{where}: edited or reordered (digest differs from the chain)"
    extra = set(rows) - {p[0] for p in parts}
    if extra:
        return f"{table}: rows for {sorted(extra)[0]} claim record {seq}, which does not hold them"
    return None


def prune_attempts(conn: sqlite3.Connection, before: float) -> int:
    """Drop attempts of every batch chained before `before` (whole batches, so `audit` knows
    what is gone) and unchained ones older than it."""
    row = conn.execute(
        "SELECT MAX(seq), MAX(last_id) FROM chain WHERE kind=? AND seq <= "
        "(SELECT COALESCE(MIN(seq), (SELECT COALESCE(MAX(seq), 0) FROM chain) + 1) - 1 "
        " FROM chain WHERE kind=? AND at >= ?)",
        (fmt.ATTEMPTS, fmt.ATTEMPTS, fmt.ms(before))).fetchone()
    removed = 0
    if row is not None and row[0] is not None:
        removed += conn.execute("DELETE FROM attempts WHERE id <= ?", (row[1],)).rowcount
        conn.execute("INSERT INTO meta VALUES ('chain_pruned_through', ?) ON CONFLICT(key) "
                     "DO UPDATE SET value="
                     "MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                     (str(row[0]),))
    removed += conn.execute("DELETE FROM attempts WHERE started_at < ? AND batch IS NULL",
                            (before,)).rowcount
    return removed
