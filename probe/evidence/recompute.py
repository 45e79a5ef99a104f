"""Verdicts and month figures recomputed from a pack's own rows, with the pure core.

The pack writer computes `figures.json` and `certificates.json` with these functions from
the rows it writes, and the verifier recomputes them from the rows it reads: both sides run
the same `probe.verdicts.decide`, exclusion overlay and month accounts as the daemon and
the report.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from probe.contracts.accounts import ObjectiveAccount, month_accounts
from probe.contracts.exclusions import declared_exclusions, overlay
from probe.contracts.model import Declared
from probe.contracts.month import Month, utc_iso
from probe.evidence.terms import PackTerms, PackWindows
from probe.model import CONTROL_SERVICE, Attempt, Reason, Role, Verdict, WindowVerdict
from probe.verdicts import decide, window_start


def attempt_from(row: Sequence[Any]) -> Attempt:
    """An attempt line (a JSON array, `format.ATTEMPT_FIELDS`) as an `Attempt`."""
    if not isinstance(row, list) or len(row) != 10:
        raise ValueError("not an array of 10 fields")
    started, service, check, role, ok, fclass, latency, detail, evidence, retried = row
    if not (isinstance(started, float) and isinstance(service, str) and isinstance(check, str)
            and isinstance(ok, bool) and isinstance(latency, float)
            and isinstance(evidence, str) and isinstance(retried, bool)):
        raise ValueError("a field has the wrong type")
    return Attempt(started, service, check, Role(role), ok, fclass, latency, detail,
                   json.loads(evidence), retried)


def verdict_from(obj: dict[str, Any]) -> tuple[WindowVerdict, str]:
    """A verdict line as (`WindowVerdict`, author)."""
    v = WindowVerdict(
        contract=obj["contract"], service=obj["service"], window_start=int(obj["window_start"]),
        window_seconds=int(obj["window_seconds"]), verdict=Verdict(obj["verdict"]),
        reason=Reason(obj["reason"]), attempts=int(obj["attempts"]),
        failures=int(obj["failures"]), failure_classes=tuple(obj["failure_classes"]),
        scope=obj["scope"], revision=int(obj["revision"]), decided_at=float(obj["decided_at"]),
        note=obj["note"])
    return v, str(obj["author"])


def expected_verdict(terms: PackTerms, recorded: WindowVerdict, attempts: Sequence[Attempt],
                     declared: Sequence[Declared]) -> WindowVerdict:
    """What the attempts of `recorded`'s window decide, with the contract's exclusions."""
    c = terms.contract
    mine = [a for a in attempts if a.service == recorded.service]
    measured = decide(
        contract=c.name, service=recorded.service, start=recorded.window_start,
        window_seconds=c.window_seconds, rule=c.rule,
        service_attempts=[a for a in mine if a.role == Role.SERVICE],
        control_attempts=[a for a in attempts
                          if a.role == Role.CONTROL and a.service == CONTROL_SERVICE],
        dependency_attempts=[a for a in mine if a.role == Role.DEPENDENCY],
        decided_at=recorded.decided_at)
    return overlay(terms, measured, declared)


def by_window(attempts: Iterable[Attempt], seconds: int) -> dict[int, list[Attempt]]:
    out: dict[int, list[Attempt]] = defaultdict(list)
    for a in attempts:
        out[window_start(a.started_at, seconds)].append(a)
    return out


def describe(v: WindowVerdict) -> str:
    reason = f"/{v.reason.value}" if v.reason.value else ""
    return (f"{v.verdict.value}{reason} ({v.attempts} attempts, {v.failures} failed"
            f"{', ' + v.note if v.note else ''})")


def window_name(v: WindowVerdict) -> str:
    return f"{v.service} window {utc_iso(v.window_start)}"


def all_declared(terms: PackTerms) -> list[Declared]:
    return declared_exclusions(terms, PackWindows([], terms.ledger_exclusions))


def figures(terms: PackTerms, current: Sequence[WindowVerdict], attempts: Sequence[Attempt],
            month: Month, as_of: float) -> list[dict[str, Any]]:
    """Every objective's month, as figures.json holds it (the `intervals` method reads the
    month's raw attempts)."""
    source = PackWindows(current, terms.ledger_exclusions, attempts)
    return [account_figures(a) for a in month_accounts(terms, source, month, as_of)]


def account_figures(a: ObjectiveAccount) -> dict[str, Any]:
    c = a.credit
    return {
        "service": a.service, "method": a.method, "target": a.target, "clause": a.clause,
        "uptime": f"{a.uptime.numerator}/{a.uptime.denominator}",
        "uptime_percent": round(a.uptime_percent, 6), "met": a.met, "final": a.final,
        "up_minutes": a.up_minutes, "down_minutes": a.down_minutes,
        "downtime_minutes": a.downtime_minutes, "excluded_minutes": a.excluded_minutes,
        "no_data_minutes": a.no_data_minutes, "pending_minutes": a.pending_minutes,
        "denominator_minutes": a.denominator_minutes, "requests": a.requests,
        "failed_requests": a.failed_requests,
        "credit": {"status": c.status, "unit": c.unit, "amount": str(c.amount), "tier": c.tier,
                   "capped": c.capped},
    }


def certificates(attempts: Iterable[Attempt]) -> list[dict[str, Any]]:
    """Each TLS certificate seen per check: fingerprint, subject, issuer, first/last seen."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for a in attempts:
        fp = a.evidence.get("tls_peer_sha256")
        if not fp:
            continue
        key = (a.service, a.check, fp)
        item = seen.get(key)
        if item is None:
            seen[key] = {"service": a.service, "check": a.check, "sha256": fp,
                         "subject": a.evidence.get("tls_subject", ""),
                         "issuer": a.evidence.get("tls_issuer", ""),
                         "not_after": a.evidence.get("tls_not_after", ""),
                         "first_seen": a.started_at, "last_seen": a.started_at, "attempts": 1}
        else:
            item["first_seen"] = min(item["first_seen"], a.started_at)
            item["last_seen"] = max(item["last_seen"], a.started_at)
            item["attempts"] += 1
    return [seen[k] for k in sorted(seen)]
