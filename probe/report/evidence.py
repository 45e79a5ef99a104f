"""What each down window or outage rests on: its first error, redacted, and the vantage.

A figure alone ("42 minutes down") invites "your numbers are made up"; the first error the
endpoint gave (`HTTP 503`, a TLS alert, a signature that does not verify), when, on which
check and from which vantage, is what a vendor's engineer can match against their own logs.
The details come from the raw attempts (`LedgerReader.first_failures`, one grouped scan per
objective); they are redacted here, before any renderer escapes or encodes them, so a secret
echoed by a hostile endpoint cannot slip past the final redaction as `&amp;`-escaped HTML or
inside a compressed PDF stream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from probe.contracts.month import utc_iso
from probe.secrets import redact

if TYPE_CHECKING:
    from probe.contracts.model import Objective
    from probe.store import LedgerReader

DETAIL_CHARS = 300


@dataclasses.dataclass(frozen=True, slots=True)
class Evidence:
    """The first failed attempt behind a down window, run of windows or outage."""

    vantage: str
    first_failure: float | None = None
    """When the first failed attempt started; None when the attempts are gone (pruned
    after the month's evidence pack was written: the pack holds them)."""
    service: str = ""
    check: str = ""
    failure_class: str = ""
    detail: str = ""
    """Redacted, at most `DETAIL_CHARS` characters."""

    def text(self) -> str:
        """`2026-05-04T10:00:03.120Z sign-hash (dfns-signature) timeout: read timed out`."""
        if self.first_failure is None:
            return f"vantage {self.vantage}: no raw attempt kept (see the evidence pack)"
        what = f"{self.failure_class}: {self.detail}" if self.detail else self.failure_class
        return (f"{iso_ms(self.first_failure)} {self.check} ({self.service}) {what} "
                f"[vantage {self.vantage}]")

    def to_json(self) -> dict[str, Any]:
        return {"vantage": self.vantage,
                "first_failure": None if self.first_failure is None
                else iso_ms(self.first_failure),
                "first_failure_check": self.check or None,
                "first_failure_service": self.service or None,
                "first_failure_class": self.failure_class or None,
                "first_error": self.detail or None}


def iso_ms(t: float) -> str:
    whole = utc_iso(int(t))
    frac = round(t - int(t), 3)
    return whole if not frac else whole[:-1] + f"{frac:.3f}"[1:] + "Z"


def objective_evidence(reader: LedgerReader, objective: Objective, vantage: str, *,
                       start: int, end: int, window_seconds: int) -> dict[int, Evidence]:
    """Per window start: the first failure among the objective's services (a composite
    objective's components), redacted."""
    services = list(objective.of) if objective.of else [objective.service]
    found = reader.first_failures(services, start, end, window_seconds)
    return {w: Evidence(vantage, f.started_at, f.service, f.check, f.failure_class,
                        redact(f.detail)[:DETAIL_CHARS])
            for w, f in found.items()}


def first_in(found: Mapping[int, Evidence], start: float, end: float, vantage: str,
             window_seconds: int) -> Evidence:
    """The earliest failure at or after `start` in the windows that overlap `[start, end)`
    (a run of down windows, or an outage that began mid-window)."""
    for w in sorted(found):
        if w >= end:
            break
        e = found[w]
        if w + window_seconds > start and e.first_failure is not None and \
                e.first_failure >= start:
            return e
    return Evidence(vantage)
