"""`sla-probe check -c FILE [NAME]`: one attempt of each selected check, now, one line each.

`sla-probe check -c FILE --consistency [--since ISO]`: no probing; recompute every decided
window from its stored attempts and name each verdict that differs (exit 1 if any), a
self-check to run before a start (`ExecStartPre=`) or after an incident.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from checks.base import Resources
from probe.cli.common import config_arg, log_setup
from probe.clock import SystemClock
from probe.config import Config
from probe.jobs import build_jobs, close_jobs
from probe.scheduler import Job, run_attempt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_arg(parser)
    parser.add_argument("name", nargs="?", help="CHECK or SERVICE/CHECK")
    parser.add_argument("--consistency", action="store_true",
                        help="probe nothing: recompute decided windows from their stored "
                             "attempts and name every verdict that differs")
    parser.add_argument("--since", help="with --consistency: from this ISO 8601 time on")


def main(args: argparse.Namespace) -> int:
    from probe.config import load_config  # noqa: PLC0415
    from probe.shard import shard_config  # noqa: PLC0415

    # a sharded pod's ledger holds only its shard's contracts (probe.shard)
    config = shard_config(load_config(args.config))
    log_setup(args, "warning")
    if args.consistency:
        return check_consistency(config, args.since, sys.stdout)
    return asyncio.run(run_checks(config, args.name, sys.stdout))


def check_consistency(config: Config, since: str | None, out: TextIO) -> int:
    """0: every decided window agrees with its attempts; 1: some differ (each named)."""
    import time  # noqa: PLC0415
    from datetime import datetime  # noqa: PLC0415

    from probe.consistency import mismatches  # noqa: PLC0415
    from probe.store import Ledger  # noqa: PLC0415
    from probe.store.identity import check_present  # noqa: PLC0415

    start = None if since is None else datetime.fromisoformat(since).timestamp()
    check_present(config.probe.state_dir)
    reader = Ledger.reader(config.probe.state_dir)
    try:
        reader.verify()
        found = 0
        for m in mismatches(config, reader, time.time(), since=start):
            found += 1
            out.write(m.describe() + "\n")
    finally:
        reader.close()
    out.write(f"{found} window(s) differ from their attempts\n" if found
              else "every decided window agrees with its stored attempts\n")
    return 1 if found else 0


def _selected(jobs: list[Job], name: str | None) -> list[Job]:
    if name is None:
        return jobs
    return [j for j in jobs if name in (j.name, j.key)]


def format_outcome(job: Job, ok: bool, failure_class: str | None, latency: float,
                   detail: str) -> str:
    status = "OK  " if ok else f"FAIL {failure_class}"
    return f"{job.key:<32} {status:<20} {latency * 1000:8.1f} ms  {detail}"


async def run_checks(config: Config, name: str | None, out: TextIO) -> int:
    clock = SystemClock()
    jobs = build_jobs(config, Resources(clock=clock))
    selected = _selected(jobs, name)
    if not selected:
        out.write(f"no check named {name!r}\n")
        await close_jobs(jobs)
        return 2
    failed = 0
    try:
        for job in selected:
            result = await run_attempt(job.check, job.timeout, clock)
            failed += not result.ok
            out.write(format_outcome(job, result.ok, result.failure_class,
                                     result.latency or 0.0, result.detail) + "\n")
    finally:
        await close_jobs(jobs)
    return 1 if failed else 0
