"""The store: the only package that speaks SQL.

SQLite in WAL mode, the embedded default ledger. `schema` holds every migration, `reader`
the read-only queries (what the pure contract core reads through), `writer` the one writer,
`worker` the thread it runs on, `exclusions` and `quorum` the tables of those features.
"""

from probe.store.reader import LedgerReader
from probe.store.schema import LEDGER_FILE, LedgerError
from probe.store.worker import LedgerWorker
from probe.store.writer import Ledger

__all__ = ["LEDGER_FILE", "Ledger", "LedgerError", "LedgerReader", "LedgerWorker"]
