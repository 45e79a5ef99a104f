"""`sla-probe check -c FILE [NAME]`: one attempt of each selected check, now, one line each."""

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


def main(args: argparse.Namespace) -> int:
    from probe.config import load_config  # noqa: PLC0415

    config = load_config(args.config)
    log_setup(args, "warning")
    return asyncio.run(run_checks(config, args.name, sys.stdout))


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
