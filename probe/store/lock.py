"""One daemon per state directory: an exclusive `flock` on `state_dir/run.lock`.

Two daemons on one ledger double every window's attempts and re-decide each other's windows
(one may decide a window whose failed attempt the other still has in flight). `run` takes
this lock before it reads or writes anything; a second `run` fails at once, naming the
directory and the PID written in the lock file by the holder. The kernel drops a `flock`
when its holder dies (kill -9 included), so a stale file never blocks a restart. CLI writers
(`sla-probe exclude`) do not take it: they coordinate with the daemon through SQLite
transactions.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from probe.store.schema import LedgerError

LOCK_FILE = "run.lock"


class StateDirLockedError(LedgerError):
    """Another process holds the state directory's run lock."""


class StateDirLock:
    """Held from `acquire` until `release` (or the process's death)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise LedgerError(f"cannot open the lock {self.path}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StateDirLockedError(
                f"state directory {self.path.parent} is in use by another sla-probe "
                f"(pid {holder} holds {self.path})") from None
        except OSError as exc:
            os.close(fd)
            raise LedgerError(f"cannot lock {self.path}: {exc}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Unlock; the file stays (removing it would race a starting daemon's open)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
