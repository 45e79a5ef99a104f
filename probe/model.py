"""The records that flow through the pipeline: attempts in, verdicts out."""

from __future__ import annotations

import bisect
import dataclasses
import enum
from collections.abc import Mapping

# The failure class of an attempt a worker process did not live to finish (probe/workers/):
# never up, and never held against the vendor (probe/verdicts.py leaves it out of the rule).
LOST = "lost"
CONTROL_SERVICE = "_controls"  # the pseudo-service under which control attempts are kept
# Upper bounds (seconds) of the attempt-latency histogram: the ledger counts attempts per
# bucket and the metrics collector exports them as `sla_probe_attempt_duration_seconds`.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# The most windows decided (or re-decided) in one ledger transaction, so a long catch-up
# never holds the ledger thread for long.
MAX_WINDOWS_PER_BATCH = 1440


def bucket_index(latency: float) -> int:
    """Index of the first bucket whose upper bound holds `latency` (len = +Inf)."""
    return bisect.bisect_left(LATENCY_BUCKETS, latency)


class Role(enum.StrEnum):
    SERVICE = "service"
    CONTROL = "control"
    DEPENDENCY = "dependency"


class Verdict(enum.StrEnum):
    UP = "up"
    DOWN = "down"
    EXCLUDED = "excluded"
    NO_DATA = "no_data"


class Reason(enum.StrEnum):
    NONE = ""
    MAINTENANCE = "maintenance"
    VANTAGE = "vantage"
    DEPENDENCY = "dependency"
    DECLARED = "declared"


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """One run of one check, as stored; `started_at` (UTC epoch) picks its window."""

    started_at: float
    service: str
    check: str
    role: Role
    ok: bool
    failure_class: str | None
    latency: float
    detail: str = ""
    evidence: Mapping[str, str] = dataclasses.field(default_factory=dict)
    retried: bool = False
    lag: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class WindowVerdict:
    """The decision for one service of one contract in one window."""

    contract: str
    service: str
    window_start: int
    window_seconds: int
    verdict: Verdict
    reason: Reason = Reason.NONE
    attempts: int = 0
    failures: int = 0
    failure_classes: tuple[str, ...] = ()
    scope: str = "local"
    revision: int = 0
    decided_at: float = 0.0
    note: str = ""

    def same_decision(self, other: WindowVerdict) -> bool:
        return (self.verdict, self.reason, self.attempts, self.failures,
                self.failure_classes) == (other.verdict, other.reason, other.attempts,
                                          other.failures, other.failure_classes)
