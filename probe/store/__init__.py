"""The store: the only package that speaks SQL.

SQLite in WAL mode, the embedded default ledger. `schema` holds every migration, `reader`
the read-only queries (what the pure contract core reads through), `writer` the one writer,
`worker` the thread it runs on, `exclusions` and `quorum` the tables of those features.
"""

from sqlite3 import Connection as Transaction
from sqlite3 import Error as SQLiteError

from probe.store.lock import StateDirLock, StateDirLockedError
from probe.store.reader import LedgerReader
from probe.store.schema import LEDGER_FILE, LedgerError
from probe.store.worker import LedgerWorker
from probe.store.writer import Ledger

# What `Ledger.write` / `LedgerReader.read` hand to a feature's table functions (the quorum's
# in `probe.store.quorum`): callers pass it on and never import sqlite3 themselves;
# `SQLiteError` is what the CLI turns into one line instead of a traceback.
__all__ = [
    "LEDGER_FILE", "Ledger", "LedgerError", "LedgerReader", "LedgerWorker", "SQLiteError",
    "StateDirLock", "StateDirLockedError", "Transaction",
]
