"""The monthly evidence pack: one directory that proves one contract's month.

The pack holds a contiguous segment of the chain, from just before the month (less a
margin) to a signed head: for each record, the rows of its parts that concern the contract
(its services' and the controls' attempts, its verdict revisions, exclusions and maintenance
entries) and only the digests of the others. A month whose end has passed by `MARGIN`, with
a head signed after that, gives a closed pack; any other a provisional one. Files are
written into a temporary directory and renamed into place, so a pack is whole or absent.
The format is docs/evidence.md.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import os
import platform
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from probe import __version__
from probe.config import Config
from probe.contracts.month import Month
from probe.evidence import format as fmt
from probe.evidence import recompute
from probe.evidence.format import (
    ATTEMPTS_FILE,
    CERTIFICATES_FILE,
    CHAIN_FILE,
    CONTRACT_FILE,
    ENTRIES_FILE,
    FIGURES_FILE,
    HEADS_FILE,
    MANIFEST,
    SIGNATURE,
    VANTAGE_FILE,
    VERDICTS_FILE,
)
from probe.evidence.keys import VantageKey
from probe.evidence.terms import PackTerms, in_scope_services, terms_json
from probe.model import Attempt, WindowVerdict
from probe.store import LedgerReader, Transaction, chain
from probe.store import feeds as feed_store
from probe.support.tickets import month_tickets

MARGIN = 3600.0  # a month's segment starts this long before it, a closing head this after
CHUNK = 5000


class PackError(Exception):
    """No pack can be written (no signed head yet, output exists); the message says why."""


@dataclasses.dataclass(frozen=True)
class PackInfo:
    path: Path
    provisional: bool
    records: int
    attempts: int
    revisions: int
    bytes: int


def closing_head(reader: LedgerReader, end: float) -> int | None:
    """The seq of the head that closes a month ending at `end`, if one is signed yet."""
    return reader.read(lambda c: chain.first_head_after(c, fmt.ms(end + MARGIN)))


def write_pack(config: Config, reader: LedgerReader, key: VantageKey, name: str, month: Month,
               *, out: Path, now: float) -> PackInfo:
    """Write the pack of `name` for `month` to the new directory `out`."""
    contract = config.contract(name)
    start, end = month.bounds(contract.zone)
    closed = closing_head(reader, end) if now >= end + MARGIN else None
    last_head = reader.read(chain.last_head)
    if last_head is None:
        raise PackError("the ledger has no signed chain head yet (start the daemon once)")
    last = closed if closed is not None else last_head[0]
    first = min(last, reader.read(lambda c: chain.first_seq_since(c, fmt.ms(start - MARGIN))))
    if out.exists() and any(out.iterdir()):
        raise PackError(f"{out} exists and is not empty")
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        info = _write(config, reader, key, name, month, out=tmp,
                      now=now, first=first, last=last, provisional=closed is None)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dataclasses.replace(info, path=out)


def _lines(handle: IO[bytes] | gzip.GzipFile, lines: list[tuple[int, str]]) -> None:
    for _, line in lines:
        handle.write(line.encode() + b"\n")


def _write(config: Config, reader: LedgerReader, key: VantageKey, name: str, month: Month,
           *, out: Path, now: float, first: int, last: int, provisional: bool) -> PackInfo:
    contract = config.contract(name)
    start, end = month.bounds(contract.zone)
    services = in_scope_services(contract)
    heads = reader.read(lambda c: chain.heads(c, first, last))
    as_of = max((json.loads(h[1])["at"] for h in heads if h[0] == last), default=fmt.ms(now))
    attempts: list[Attempt] = []
    current: dict[tuple[str, str, int], WindowVerdict] = {}
    n_records = n_attempts = n_revisions = 0
    with gzip.GzipFile(out / ATTEMPTS_FILE, "wb", mtime=0) as att, \
            gzip.GzipFile(out / VERDICTS_FILE, "wb", mtime=0) as ver, \
            (out / ENTRIES_FILE).open("wb") as ent, \
            gzip.GzipFile(out / CHAIN_FILE, "wb", mtime=0) as chn:
        for lo in range(first, last + 1, CHUNK):
            hi = min(last, lo + CHUNK - 1)

            def segment(conn: Transaction, lo: int = lo, hi: int = hi) -> list[Any]:
                return list(chain.covered_rows(conn, chain.records(conn, lo, hi)))

            for rec, rows in reader.read(segment):
                seq, kind, at, prev, parts, hash_ = rec[:6]
                n_records += 1
                chn.write(fmt.canon({"seq": seq, "kind": kind, "at": at, "prev": prev,
                                     "hash": hash_, "parts": [list(p) for p in parts]}
                                    ).encode() + b"\n")
                for subject, _digest, _count in parts:
                    got = rows.get(subject, [])
                    if kind == fmt.ATTEMPTS and subject in services:
                        _lines(att, got)
                        n_attempts += len(got)
                        attempts += [recompute.attempt_from(json.loads(line)) for _, line in got
                                     if start <= json.loads(line)[0] < end]
                    elif kind == fmt.REVISIONS and subject == name:
                        _lines(ver, got)
                        n_revisions += len(got)
                        for _, line in got:
                            v, _author = recompute.verdict_from(json.loads(line))
                            if v.scope == "local" and start <= v.window_start < end:
                                current[(v.service, v.scope, v.window_start)] = v
                    elif kind not in (fmt.ATTEMPTS, fmt.REVISIONS) and subject == name:
                        _lines(ent, got)
    with (out / HEADS_FILE).open("wb") as hf:
        for _seq, payload, signature, token in heads:
            hf.write(fmt.canon({"payload": payload, "signature": signature,
                                "timestamp": None if token is None
                                else base64.b64encode(token).decode()}).encode() + b"\n")
    terms_data = terms_json(config, name, reader.declared_exclusions())
    terms = PackTerms.load(terms_data)
    _json(out / CONTRACT_FILE, terms_data)
    _json(out / VANTAGE_FILE, {"vantage": config.probe.vantage, "public_key": key.public_b64,
                               "public_key_pem": key.public_pem, "key_source": key.source})
    _json(out / CERTIFICATES_FILE, recompute.certificates(attempts))
    _json(out / FIGURES_FILE, recompute.figures(terms, list(current.values()), attempts, month,
                                                as_of / 1000))
    # the tickets as judged at the pack's moment; their events are chained in ENTRIES_FILE
    _json(out / fmt.TICKETS_FILE, {"tickets": month_tickets(
        contract, reader.ticket_events(name), start, end, as_of / 1000)})
    # the vendor's announcements for the month, every version with our first sighting beside
    # the vendor's created_at; each version is chained (kind `announcement` in ENTRIES_FILE)
    feeds = [f.name for f in config.vendor_feeds if f.contract == name]
    announced = reader.read(lambda c: feed_store.month_versions(c, feeds, start, end,
                                                                as_of / 1000))
    with (out / fmt.ANNOUNCEMENTS_FILE).open("wb") as ann:
        for version in announced:
            ann.write(fmt.canon(version).encode() + b"\n")
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(out.iterdir()):
        data = path.read_bytes()
        files[path.name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest = {
        "format": fmt.FORMAT, "contract": name, "month": str(month),
        "timezone": contract.timezone, "month_start": start, "month_end": end,
        "provisional": provisional, "as_of": as_of, "written_at": fmt.ms(now),
        "vantage": config.probe.vantage,
        "software": {"name": "sla-probe", "version": __version__,
                     "python": platform.python_version()},
        "chain": {"first": first, "last": last}, "files": files,
    }
    text = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    (out / MANIFEST).write_bytes(text)
    (out / SIGNATURE).write_text(base64.b64encode(key.sign(text)).decode() + "\n")
    size = sum(int(f["bytes"]) for f in files.values()) + len(text)
    return PackInfo(out, provisional, n_records, n_attempts, n_revisions, size)


def _json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def sign_head(ledger: Any, key: VantageKey, vantage: str, now: float) -> bool:
    """Sign the chain's tip now (in one ledger transaction); False for an empty chain."""
    sign: Callable[[bytes], bytes] = key.sign
    return ledger.write(lambda c: chain.sign_head(c, vantage, key.public, sign, now)) is not None


def write_pack_now(config: Config, ledger: Any, key: VantageKey, name: str, month: Month,
                   *, out: Path, now: float) -> PackInfo:
    """What `sla-probe evidence` and `claim` write on demand: the pack of `name` for `month`,
    after signing the chain's tip if no signed head closes the month yet (so a provisional
    pack also ends at a signed head)."""
    end = month.bounds(config.contract(name).zone)[1]
    if closing_head(ledger, end) is None:
        sign_head(ledger, key, config.probe.vantage, now)
    return write_pack(config, ledger, key, name, month, out=out, now=now)
