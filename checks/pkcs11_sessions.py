"""One logged-in session per PKCS#11 token, shared by every `pkcs11` check of the process.

PKCS#11 login state belongs to the token and the process, not to a session: when each check
opened its own session and called C_Login / C_Logout, one check's logout logged the others
out mid-signature (`UserAlreadyLoggedIn`, `GeneralError`, `NoSuchKey` for a key that exists:
8 of 97 attempts failed with three checks on one SoftHSM2 token). So the pool owns the login:
one session per (library, token label), opened and logged in on first use, used by one
check at a time (a lock), logged out and closed when the last check using it is closed, and
dropped (to be reopened by the next attempt) after a token-level error. A login that finds
the token already logged in (`UserAlreadyLoggedIn`) is taken as logged in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import pkcs11 as _p11
from pkcs11 import exceptions as _p11_errors

from checks import base
from checks.base import CheckFailure

TOKEN = "token"  # noqa: S105 - a failure class, not a password
AUTH = "auth"

# After these the session is gone or unusable: reopen (and log in) on the next attempt.
_SESSION_LOST = (
    _p11_errors.SessionClosed, _p11_errors.SessionHandleInvalid, _p11_errors.DeviceRemoved,
    _p11_errors.DeviceError, _p11_errors.TokenNotPresent, _p11_errors.UserNotLoggedIn,
    _p11_errors.GeneralError,
)

_LIB_LOCK = threading.Lock()


def load_library(path: str) -> Any:
    """The process's PKCS#11 library (loaded and initialised once; one library per process)."""
    with _LIB_LOCK:
        try:
            return _p11.lib(path)
        except _p11_errors.AlreadyInitialized:
            raise CheckFailure(
                base.ERROR, "a different PKCS#11 library is already loaded in this process"
            ) from None
        except (RuntimeError, OSError) as exc:
            raise CheckFailure(TOKEN, f"cannot load PKCS#11 library {path}: {exc}") from None


@dataclasses.dataclass(eq=False)
class TokenSession:
    """The shared session of one token; `users` counts the checks holding it."""

    library: str
    token_label: str
    pin: str
    users: int = 0
    session: Any = None
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def _open(self) -> Any:
        token = load_library(self.library).get_token(token_label=self.token_label)
        try:
            return token.open(user_pin=self.pin)
        except _p11_errors.UserAlreadyLoggedIn:
            return token.open()  # the token is logged in for this process: use that

    def _close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            with contextlib.suppress(Exception):
                session.close()  # C_Logout (when this session logged in) and C_CloseSession

    @contextlib.contextmanager
    def use(self, pin: str) -> Iterator[Any]:
        """The logged-in session, for one attempt at a time (blocking)."""
        if pin != self.pin:
            raise CheckFailure(AUTH, "another pkcs11 check logs in to this token with a "
                                     "different PIN (login is per token: one PIN per token)")
        with self.lock:
            if self.session is None:
                self.session = self._open()
            try:
                yield self.session
            except _SESSION_LOST:
                self._close()
                raise


class SessionPool:
    """The process's token sessions, by (library, token label)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], TokenSession] = {}

    def acquire(self, library: str, token_label: str, pin: str) -> TokenSession:
        with self._lock:
            entry = self._tokens.get((library, token_label))
            if entry is None:
                entry = TokenSession(library, token_label, pin)
                self._tokens[(library, token_label)] = entry
            entry.users += 1
            return entry

    def release(self, entry: TokenSession) -> None:
        """The last check of a token logs out and closes its session (never waits on a
        hung token: if an attempt still holds the session, it is closed by whoever
        acquires the token next)."""
        with self._lock:
            entry.users -= 1
            if entry.users > 0:
                return
            self._tokens.pop((entry.library, entry.token_label), None)
        if entry.lock.acquire(blocking=False):
            try:
                entry._close()
            finally:
                entry.lock.release()


POOL = SessionPool()
