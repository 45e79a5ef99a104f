"""A ledger's identity, recorded beside it, so that losing the ledger is noticed.

SQLite opens a missing or 0-byte file as an empty database, and the daemon would migrate it
and carry on: the history is gone and the next month report says "target met". Every ledger
holds a random `ledger_id` in `meta` (migration 6), and the state directory keeps a copy in
`ledger.id`. A directory whose `ledger.id` names a ledger that is now missing, empty or a
different one is refused, as is a 0-byte ledger file; `sla-probe run --new-ledger` starts
over on purpose.
"""

from __future__ import annotations

import os
from pathlib import Path

from probe.store.schema import LEDGER_FILE, LedgerError

ID_FILE = "ledger.id"


def recorded_id(state_dir: Path) -> str | None:
    try:
        return (Path(state_dir) / ID_FILE).read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeError) as exc:
        raise LedgerError(f"cannot read {Path(state_dir) / ID_FILE}: {exc}") from None


def check_present(state_dir: Path) -> None:
    """Before opening: refuse a ledger that is gone or empty where one was kept."""
    path = Path(state_dir) / LEDGER_FILE
    known = recorded_id(state_dir)
    hint = "; restore it from a backup, or start over with `sla-probe run --new-ledger`"
    if not path.exists():
        if known is not None:
            raise LedgerError(f"ledger {path} is missing but {state_dir} held ledger {known}"
                              + hint)
        return
    if path.stat().st_size == 0:
        raise LedgerError(f"ledger {path} is empty (0 bytes)" + hint)


def check_same(state_dir: Path, ledger_id: str) -> None:
    """After migrating: refuse a ledger that is not the one this directory held."""
    known = recorded_id(state_dir)
    if known is not None and known != ledger_id:
        raise LedgerError(
            f"ledger {Path(state_dir) / LEDGER_FILE} is ledger {ledger_id}, but {state_dir} "
            f"held ledger {known}; restore the right file, or start over with "
            "`sla-probe run --new-ledger`")


def record(state_dir: Path, ledger_id: str) -> None:
    """Write `ledger.id` atomically (a crash leaves the old copy or the new one)."""
    path = Path(state_dir) / ID_FILE
    if recorded_id(state_dir) == ledger_id:
        return
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(ledger_id + "\n", encoding="ascii")
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as exc:
        raise LedgerError(f"cannot write {path}: {exc}") from None
