"""Which process runs which check.

A check goes to worker `shard_of("service/check", N)` (the same stable hash as shards,
probe/shard.py), so a restarted worker runs exactly the checks it ran before and the
split does not depend on the order of the config.

Controls stay in the main process, once: a control measures this vantage's reach for
every window the main process decides, so one series of control attempts is the right
count (running them in every worker would multiply their load on the reach targets N
times and their attempts per window with it); and the main process outlives worker
restarts, so the vantage view has no gap when a worker dies.
"""

from __future__ import annotations

import os

from probe.config import Config
from probe.shard import shard_of


def worker_count(config: Config) -> int:
    """`probe.workers` as a number: `auto` is the CPUs this process may run on."""
    value = config.probe.workers
    if value == "auto":
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    return int(value)


def worker_part(config: Config, index: int, count: int) -> Config:
    """The services' checks that hash to worker `index` of `count`; no controls."""
    services = []
    for service in config.services:
        checks = [c for c in service.checks
                  if shard_of(f"{service.name}/{c.name}", count) == index]
        deps = [c for c in service.dependencies
                if shard_of(f"{service.name}/{c.name}", count) == index]
        if checks or deps:
            services.append(service.model_copy(update={"checks": checks,
                                                       "dependencies": deps}))
    return _copy(config, {"services": services, "controls": []})


def main_part(config: Config) -> Config:
    """What the main process probes itself when workers run the rest: the controls."""
    return _copy(config, {"services": []})


def _copy(config: Config, update: dict[str, object]) -> Config:
    copy = config.model_copy(update=update)
    for cached in ("maintenance_plan", "_max_timeout"):
        copy.__dict__.pop(cached, None)
    return copy
