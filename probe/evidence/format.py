"""The canonical bytes of the tamper-evident ledger and of the evidence pack.

Everything hashed is a line of canonical JSON (UTF-8, keys sorted, no spaces), and a part's
digest is the SHA-256 of its lines each followed by `\\n`: exactly the bytes those rows take
in the pack's JSONL files. A verifier therefore hashes the file's bytes as they are and never
re-serialises a number, so a third party in any language gets the same digests
(docs/evidence.md). Pure: no I/O, imported by the store (which hashes inside its write
transactions) and by the verifier.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

FORMAT = "sla-probe-evidence/1"
GENESIS = "0" * 64
# the files of a pack (docs/evidence.md)
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
ATTEMPTS_FILE = "attempts.jsonl.gz"
VERDICTS_FILE = "verdicts.jsonl.gz"
ENTRIES_FILE = "entries.jsonl"
CHAIN_FILE = "chain.jsonl.gz"
HEADS_FILE = "heads.jsonl"
CONTRACT_FILE = "contract.json"
VANTAGE_FILE = "vantage.json"
CERTIFICATES_FILE = "certificates.json"
FIGURES_FILE = "figures.json"
TICKETS_FILE = "tickets.json"  # support tickets, judged (issue 16, item 7); optional
ANNOUNCEMENTS_FILE = "announcements.jsonl"  # vendor announcement versions (issue 18); optional
# chain record kinds
ATTEMPTS = "attempts"
REVISIONS = "revisions"
EXCLUSION = "exclusion"
MAINTENANCE = "maintenance"
KINDS = (ATTEMPTS, REVISIONS, EXCLUSION, MAINTENANCE)

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# A part of a chain record: (subject, digest, rows). The subject is a service for attempts
# and a contract for everything else, so a pack for one contract can show the parts it
# holds and only the digests of the others.
Part = tuple[str, str, int]


def canon(obj: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, UTF-8 (not ASCII-escaped)."""
    return _ENCODER.encode(obj)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def attempt_line(  # noqa: PLR0917 - a stored row, column by column
    started_at: float, service: str, check: str, role: str, ok: object,
                 failure_class: str | None, latency: float, detail: str, evidence: str,
                 retried: object) -> str:
    """An attempt as a JSON array (the pack's bulk, so no keys): numbers as floats,
    `evidence` as the JSON text the ledger stores."""
    return _ENCODER.encode([float(started_at), service, check, role, bool(ok), failure_class,
                            float(latency), detail, evidence, bool(retried)])


ATTEMPT_FIELDS = ("started_at", "service", "check", "role", "ok", "failure_class", "latency",
                  "detail", "evidence", "retried")


def revision_line(  # noqa: PLR0917 - a stored row, column by column
    contract: str, service: str, scope: str, window_start: int,
                  window_seconds: int, verdict: str, reason: str, attempts: int, failures: int,
                  failure_classes: Sequence[str], revision: int, decided_at: float,
                  author: str, note: str) -> str:
    """One stored decision (a verdict revision) with its author."""
    return canon({
        "contract": contract, "service": service, "scope": scope,
        "window_start": int(window_start), "window_seconds": int(window_seconds),
        "verdict": verdict, "reason": reason, "attempts": int(attempts),
        "failures": int(failures), "failure_classes": list(failure_classes),
        "revision": int(revision), "decided_at": float(decided_at), "author": author,
        "note": note,
    })


def digest(lines: Iterable[str]) -> str:
    """SHA-256 of the lines, each followed by a newline: the bytes they take in a file."""
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()


def record_text(seq: int, kind: str, at: int, prev: str, parts: Sequence[Part]) -> str:
    """What a chain record's hash covers: its place, kind, time (ms), predecessor and parts."""
    return canon({"seq": seq, "kind": kind, "at": at, "prev": prev,
                  "parts": [list(p) for p in parts]})


def record_hash(seq: int, kind: str, at: int, prev: str, parts: Sequence[Part]) -> str:
    return sha256_hex(record_text(seq, kind, at, prev, parts).encode())


def head_payload(vantage: str, seq: int, hash_: str, at: int, public_key: bytes) -> str:
    """The text a vantage signs for a chain head (the signature covers its UTF-8 bytes)."""
    return canon({"format": FORMAT, "vantage": vantage, "seq": seq, "hash": hash_, "at": at,
                  "public_key": base64.b64encode(public_key).decode()})


def ms(t: float) -> int:
    """Instants in chain records and heads are integer milliseconds (no float formatting)."""
    return round(t * 1000)
