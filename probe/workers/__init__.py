"""Checks in worker processes (`probe.workers: auto | N`): every core, one ledger writer.

`split` says which checks a worker runs, `child` is a worker process's whole life, `pool`
supervises the workers from the main process (which keeps the ledger, the decider, the
controls, metrics, status and API). See docs/architecture.md, "Workers".
"""

from probe.workers.pool import WorkerPool
from probe.workers.split import main_part, worker_count

__all__ = ["WorkerPool", "main_part", "worker_count"]
