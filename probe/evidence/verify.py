"""`sla-probe verify DIR`: check a pack with nothing but the pack (docs/evidence.md).

In order: the manifest's signature (under the pinned key if one is given), every file's
SHA-256, each head's signature and timestamp token, the chain from record to record up to a
signed head, every part's digest against the rows in the files, then the meaning: each
window verdict recomputed from the raw attempts under the contract in the pack, each month
figure from the verdicts, the certificates from the attempts. The first disagreement stops
it with the file, the row and what differs.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from probe.contracts.month import Month
from probe.evidence import format as fmt
from probe.evidence import format as p
from probe.evidence import recompute
from probe.evidence.terms import PackTerms, in_scope_services
from probe.evidence.tsa import verify_token
from probe.model import Attempt, WindowVerdict
from probe.quorum.codec import KeyFormatError, load_public_key, raw_public


class InconsistentError(Exception):
    """The first thing in the pack that does not agree; the message names it."""


@dataclasses.dataclass
class Verified:
    manifest: dict[str, Any]
    figures: list[dict[str, Any]]
    notes: list[str]


def _read_json(directory: Path, name: str) -> Any:
    try:
        return json.loads((directory / name).read_text())
    except (OSError, ValueError) as exc:
        raise InconsistentError(f"{name}: not readable JSON ({type(exc).__name__})") from None


def _signature(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InconsistentError(f"{what}: signature is not base64") from None


def _public(directory: Path, key_pem: str | None) -> tuple[Ed25519PublicKey, str]:
    vantage = _read_json(directory, p.VANTAGE_FILE)
    try:
        own = load_public_key(str(vantage["public_key"]))
    except (KeyError, KeyFormatError, ValueError) as exc:
        raise InconsistentError(f"{p.VANTAGE_FILE}: no usable public_key ({exc})") from None
    if key_pem is not None:
        pinned = load_public_key(key_pem)
        if raw_public(pinned) != raw_public(own):
            raise InconsistentError(f"{p.VANTAGE_FILE}: public_key is not the given --key "
                               "(another vantage's key)")
    return own, base64.b64encode(raw_public(own)).decode()


def _files(directory: Path, manifest: dict[str, Any]) -> None:
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise InconsistentError(f"{p.MANIFEST}: no files")
    for name, want in sorted(listed.items()):
        path = directory / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise InconsistentError(f"{name}: listed in {p.MANIFEST} but missing")
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != want.get("sha256"):
            raise InconsistentError(f"{name}: SHA-256 {got[:16]}… differs from {p.MANIFEST}")
    for path in sorted(directory.iterdir()):
        if path.name not in listed and path.name not in (p.MANIFEST, p.SIGNATURE):
            raise InconsistentError(f"{path.name}: not listed in {p.MANIFEST}")
    for name in (p.ATTEMPTS_FILE, p.VERDICTS_FILE, p.ENTRIES_FILE, p.CHAIN_FILE, p.HEADS_FILE,
                 p.CONTRACT_FILE, p.VANTAGE_FILE, p.CERTIFICATES_FILE, p.FIGURES_FILE):
        if name not in listed:
            raise InconsistentError(f"{name}: missing from {p.MANIFEST}")


def _heads(directory: Path, key: Ed25519PublicKey, key_b64: str, vantage: str, *,
           tsa_ca: bytes | None, notes: list[str]) -> dict[int, str]:
    """{seq: hash} of every validly signed head."""
    out: dict[int, str] = {}
    stamped = 0
    for row, line in enumerate((directory / p.HEADS_FILE).read_text().splitlines(), 1):
        where = f"{p.HEADS_FILE} row {row}"
        try:
            head = json.loads(line)
            payload = json.loads(head["payload"])
        except (ValueError, KeyError, TypeError):
            raise InconsistentError(f"{where}: not a signed head") from None
        try:
            key.verify(_signature(head["signature"], where), head["payload"].encode())
        except InvalidSignature:
            raise InconsistentError(f"{where}: signature does not verify with the vantage key"
                               ) from None
        if payload.get("vantage") != vantage or payload.get("public_key") != key_b64:
            raise InconsistentError(f"{where}: signed by another vantage or key")
        if head.get("timestamp"):
            when, problem = verify_token(base64.b64decode(head["timestamp"]),
                                         head["payload"].encode(), tsa_ca)
            if problem:
                raise InconsistentError(f"{where}: timestamp token: {problem}")
            stamped += 1
            if when.timestamp() * 1000 < payload["at"] - 60_000:
                raise InconsistentError(f"{where}: timestamp {when.isoformat()} is before the head")
        out[int(payload["seq"])] = str(payload["hash"])
    if not out:
        raise InconsistentError(f"{p.HEADS_FILE}: no signed head")
    tsa = "checked against --tsa-ca" if tsa_ca else "imprints checked (no --tsa-ca)"
    notes.append(f"{len(out)} signed heads, {stamped} RFC 3161 timestamps ({tsa})")
    return out


class _Rows:
    """A pack file's lines, consumed in chain order; names the rows it hands out."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self._lines = data.decode().split("\n")
        if self._lines and self._lines[-1] == "":
            self._lines.pop()
        self.next = 0

    def take(self, count: int) -> list[str]:
        got = self._lines[self.next:self.next + count]
        self.next += count
        return got

    def rows(self, count: int) -> str:
        first = self.next - count + 1
        return f"row {first}" if count == 1 else f"rows {first}-{self.next}"

    def leftover(self) -> None:
        if self.next < len(self._lines):
            raise InconsistentError(f"{self.name} row {self.next + 1}: not covered by any chain "
                               "record")


def _read(directory: Path, name: str) -> bytes:
    data = (directory / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


def _chain(directory: Path, terms: PackTerms, heads: dict[int, str], month_start: int,
           ) -> Iterator[tuple[str, str, str]]:
    """Check the chain and every in-scope digest; yields (file, row name, line)."""
    contract = terms.contract.name
    services = in_scope_services(terms.contract)
    files = {fmt.ATTEMPTS: _Rows(p.ATTEMPTS_FILE, _read(directory, p.ATTEMPTS_FILE)),
             fmt.REVISIONS: _Rows(p.VERDICTS_FILE, _read(directory, p.VERDICTS_FILE))}
    entries = _Rows(p.ENTRIES_FILE, _read(directory, p.ENTRIES_FILE))
    prev: str | None = None
    seq = 0
    lines = _read(directory, p.CHAIN_FILE).decode().splitlines()
    for row, line in enumerate(lines, 1):
        where = f"{p.CHAIN_FILE} row {row}"
        try:
            rec = json.loads(line)
            parts = [(str(s), str(d), int(n)) for s, d, n in rec["parts"]]
            seq, kind, at, rec_prev = int(rec["seq"]), rec["kind"], int(rec["at"]), rec["prev"]
        except (ValueError, KeyError, TypeError):
            raise InconsistentError(f"{where}: not a chain record") from None
        if prev is None and rec_prev != fmt.GENESIS and at >= month_start * 1000:
            raise InconsistentError(f"{where}: the chain segment starts after the month began")
        if prev is not None and rec_prev != prev:
            raise InconsistentError(f"{where}: record {seq} does not follow the row before "
                               "(a record removed, added or reordered)")
        hash_ = fmt.record_hash(seq, kind, at, rec_prev, parts)
        if hash_ != rec.get("hash"):
            raise InconsistentError(f"{where}: record {seq} hash differs from its content")
        if seq in heads and heads[seq] != hash_:
            raise InconsistentError(f"{where}: record {seq} is not the one its signed head covers")
        prev = hash_
        for subject, want, count in parts:
            mine = subject in services if kind == fmt.ATTEMPTS else subject == contract
            if not mine:
                continue
            source = files.get(kind, entries)
            got = source.take(count)
            rows = source.rows(count)
            if len(got) < count or fmt.digest(got) != want:
                raise InconsistentError(
                    f"{source.name} {rows}: {kind} of {subject} differ from chain record "
                    f"{seq} ({where}): a row changed, dropped or added")
            for text in got:
                yield source.name, rows, text
    if not lines or seq not in heads:
        raise InconsistentError(f"{p.CHAIN_FILE}: the segment does not end at a signed head")
    for rows_ in (*files.values(), entries):
        rows_.leftover()


def verify_pack(directory: Path, key_pem: str | None = None,
                tsa_ca: bytes | None = None) -> Verified:
    """Everything `sla-probe verify` checks; raises `InconsistentError` at the first problem."""
    notes: list[str] = []
    for name in (p.MANIFEST, p.SIGNATURE, p.VANTAGE_FILE):
        if not (directory / name).is_file():
            raise InconsistentError(f"{name}: missing")
    key, key_b64 = _public(directory, key_pem)
    text = (directory / p.MANIFEST).read_bytes()
    try:
        key.verify(_signature((directory / p.SIGNATURE).read_text(), p.SIGNATURE), text)
    except InvalidSignature:
        raise InconsistentError(f"{p.SIGNATURE}: the manifest's signature does not verify with "
                           "the vantage key") from None
    manifest = _read_json(directory, p.MANIFEST)
    notes.append(f"vantage {manifest.get('vantage')} key {key_b64}"
                 f"{' (pinned with --key)' if key_pem else ' (not pinned: pass --key)'}")
    _files(directory, manifest)
    heads = _heads(directory, key, key_b64, manifest["vantage"], tsa_ca=tsa_ca, notes=notes)
    terms = PackTerms.load(_read_json(directory, p.CONTRACT_FILE))
    month = Month.parse(manifest["month"])
    start, end = month.bounds(terms.contract.zone)
    if terms.contract.name != manifest["contract"] or [start, end] != [
            manifest["month_start"], manifest["month_end"]]:
        raise InconsistentError(f"{p.CONTRACT_FILE}: contract or month differs from {p.MANIFEST}")
    attempts: list[Attempt] = []
    current: dict[tuple[str, int], tuple[WindowVerdict, str]] = {}
    last_revision: dict[tuple[str, str, int], int] = {}
    for name, rows, line in _chain(directory, terms, heads, start):
        try:
            if name == p.ATTEMPTS_FILE:
                a = recompute.attempt_from(json.loads(line))
                if start <= a.started_at < end:
                    attempts.append(a)
            elif name == p.VERDICTS_FILE:
                v, _author = recompute.verdict_from(json.loads(line))
                key3 = (v.service, v.scope, v.window_start)
                before = last_revision.get(key3)
                if (before is None and v.revision != 0 and start <= v.window_start) or (
                        before is not None and v.revision != before + 1):
                    raise InconsistentError(f"{name} {rows}: revision {v.revision} of "
                                       f"{recompute.window_name(v)} out of sequence")
                last_revision[key3] = v.revision
                if v.scope == "local" and start <= v.window_start < end:
                    current[(v.service, v.window_start)] = (v, rows)
        except (ValueError, KeyError, TypeError) as exc:
            raise InconsistentError(f"{name} {rows}: not a valid row ({exc})") from None
    _verdicts(terms, attempts, current)
    verdicts = [v for v, _ in current.values()]
    as_of = int(manifest["as_of"]) / 1000
    figures = recompute.figures(terms, verdicts, attempts, month, as_of)
    _same(p.FIGURES_FILE, _read_json(directory, p.FIGURES_FILE), figures)
    _same(p.CERTIFICATES_FILE, _read_json(directory, p.CERTIFICATES_FILE),
          recompute.certificates(attempts))
    notes.append(f"{len(attempts)} attempts in the month, {len(current)} window verdicts "
                 f"recomputed, as of {datetime.fromtimestamp(as_of, UTC):%Y-%m-%dT%H:%M:%SZ}")
    return Verified(manifest, figures, notes)


def _verdicts(terms: PackTerms, attempts: list[Attempt],
              current: dict[tuple[str, int], tuple[WindowVerdict, str]]) -> None:
    by = recompute.by_window(attempts, terms.contract.window_seconds)
    declared = recompute.all_declared(terms)
    for (_service, ws), (v, rows) in sorted(current.items(), key=lambda kv: kv[1][1]):
        want = recompute.expected_verdict(terms, v, by.get(ws, []), declared)
        if not (want.same_decision(v) and want.note == v.note):
            raise InconsistentError(
                f"{p.VERDICTS_FILE} {rows}: {recompute.window_name(v)} is recorded "
                f"{recompute.describe(v)}, its attempts give {recompute.describe(want)}")


def _same(name: str, stated: Any, recomputed: Any, where: str = "") -> None:
    """The first difference between a stated and a recomputed JSON value, named."""
    recomputed = json.loads(json.dumps(recomputed))
    if isinstance(stated, dict) and isinstance(recomputed, dict):
        for k in sorted(set(stated) | set(recomputed)):
            _same(name, stated.get(k), recomputed.get(k), f"{where}.{k}" if where else k)
        return
    if isinstance(stated, list) and isinstance(recomputed, list) and \
            len(stated) == len(recomputed):
        for i, (a, b) in enumerate(zip(stated, recomputed, strict=True)):
            label = a.get("service", i) if isinstance(a, dict) else i
            _same(name, a, b, f"{where}[{label}]")
        return
    if stated != recomputed:
        raise InconsistentError(f"{name}: {where or 'content'} is {stated!r}, the pack's rows "
                           f"give {recomputed!r}")
