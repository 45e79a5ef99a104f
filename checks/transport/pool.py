"""One aiohttp session per (event loop, TLS context) for fresh-connection HTTP checks.

Why: a session, its connector and its cookie jar cost about 6 KiB of heap and a few
objects the cyclic collector walks; with one per check, 10,000 checks pay that 10,000
times for machinery that, with `fresh_connection: true` (the default), holds no state
between attempts anyway: the connector is `force_close` (every request opens and closes
its own TCP and TLS connection) and does not cache DNS. Sharing it therefore changes no
measurement. What a shared session must not share is state, so:

- the cookie jar is a `DummyCookieJar`: no check sends a cookie another check (or an
  earlier attempt) received, which is what a new client sees;
- the key is the TLS context object: checks with the same TLS options already share one
  context (checks/transport/tls.py), a check with its own CA or client certificate gets
  its own context and so its own session; there is no proxy (`trust_env=False`);
- checks with `fresh_connection: false` keep a session of their own (a warm pool is
  state), built by the caller.

Sessions are counted: each client acquires once and releases on close, and the session is
closed when its last client is; a reload that builds new checks before closing the old
ones therefore keeps the session open across the switch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Callable

import aiohttp


@dataclasses.dataclass(slots=True)
class _Entry:
    session: aiohttp.ClientSession
    users: int


_Key = tuple[asyncio.AbstractEventLoop, ssl.SSLContext | None]
_SHARED: dict[_Key, _Entry] = {}


def acquire(ssl_context: ssl.SSLContext | None,
            connector: Callable[[ssl.SSLContext | None], aiohttp.BaseConnector],
            ) -> aiohttp.ClientSession:
    """The shared fresh-connection session for this loop and TLS context (one more user)."""
    key = (asyncio.get_running_loop(), ssl_context)
    entry = _SHARED.get(key)
    if entry is None or entry.session.closed:
        session = aiohttp.ClientSession(
            connector=connector(ssl_context), auto_decompress=True, trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        entry = _SHARED[key] = _Entry(session, 0)
    entry.users += 1
    return entry.session


async def release(session: aiohttp.ClientSession) -> None:
    """One user fewer; the last one closes the session."""
    for key, entry in list(_SHARED.items()):
        if entry.session is session:
            entry.users -= 1
            if entry.users <= 0:
                del _SHARED[key]
                await session.close()
                await asyncio.sleep(0)
            return
    if not session.closed:  # not (or no longer) shared: close it as its own
        await session.close()


def shared_sessions() -> int:
    """How many shared sessions are open (for tests and the heap bench)."""
    return len(_SHARED)
