"""The ledger's own thread: SQLite blocks, so every write (and the decider's reads) runs
here, one at a time, and the event loop only awaits the result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from probe.store.writer import Ledger

P = ParamSpec("P")
T = TypeVar("T")


class LedgerWorker:
    """Runs ledger calls on one thread, so the event loop never waits on the disk."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.ledger.close()
