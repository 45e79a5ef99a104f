"""Jobs from a config: one per configured check, built (and so validated) by its plugin.

Beside the scheduler, which runs them: the daemon and `sla-probe check` both build their
jobs here, so the one-shot command never needs the daemon.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

import checks
from checks.base import Check, Resources
from probe import __version__
from probe.config import Config
from probe.model import CONTROL_SERVICE, Role
from probe.scheduler import Job

log = structlog.get_logger("sla_probe.jobs")


def build_jobs(config: Config, resources: Resources) -> list[Job]:
    """One job per configured check; fails fast if a check cannot be built."""
    resources.user_agent = user_agent(config.probe.vantage)
    jobs: list[Job] = []

    def add(service: str, role: Role, cfg: checks.CheckConfig) -> None:
        check: Check = checks.build(cfg, resources)
        jobs.append(Job(service, cfg.name, role, check, cfg.interval, cfg.timeout,
                        cfg.confirm_retry))

    for service in config.services:
        for cfg in service.checks:
            add(service.name, Role.SERVICE, cfg)
        for cfg in service.dependencies:
            add(service.name, Role.DEPENDENCY, cfg)
    for cfg in config.controls:
        add(CONTROL_SERVICE, Role.CONTROL, cfg)
    return jobs


def user_agent(vantage: str) -> str:
    """What every HTTP probe sends unless its check sets `User-Agent` in `headers`."""
    return f"sla-probe/{__version__} (vantage {vantage})"


async def close_jobs(jobs: Sequence[Job]) -> None:
    for job in jobs:
        aclose = getattr(job.check, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:
                log.exception("check_close_failed", check=job.key)
