"""Exclusions that the contract grants: valid maintenance and declared events (pure core).

Two ways in, one overlay. At decision time the decider passes each fresh verdict through
`overlay`, so maintenance and exclusions known in advance are applied before the window is
written. When an entry or exclusion arrives after the fact (config edit, `sla-probe
exclude`), `revisions_due` yields the new revisions for the windows already decided, and a
revert yields the measured verdicts back. The measured verdict is kept in the note
(`|was:down:`), so an exclusion can always be undone without guessing. Reads go through the
`WindowSource` and `ContractTerms` protocols; storing is the store's job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from probe.contracts.model import Declared
from probe.contracts.month import Month
from probe.model import Reason, Verdict, WindowVerdict

if TYPE_CHECKING:
    from probe.contracts.model import DeclaredExclusion
    from probe.contracts.source import ContractTerms, WindowSource

_WAS = "|was:"


def from_config(item: DeclaredExclusion) -> Declared:
    return Declared(item.contract, tuple(item.services), item.start.timestamp(),
                    item.end.timestamp(), item.reason, item.reference, item.by, "config")


def declared_exclusions(terms: ContractTerms, source: WindowSource | None) -> list[Declared]:
    """The config's exclusions, then those recorded in the ledger (reverted ones included)."""
    found = [from_config(e) for e in terms.exclusions]
    return found + (source.declared_exclusions() if source is not None else [])


def measured(v: WindowVerdict) -> WindowVerdict:
    """The verdict as measured, before any maintenance or declared exclusion was laid on it."""
    head, sep, was = v.note.partition(_WAS)
    if not sep or not head.startswith(("maintenance:", "declared:")):
        return v
    verdict, _, reason = was.partition(":")
    return replace(v, verdict=Verdict(verdict), reason=Reason(reason), note="")


def _excluded(v: WindowVerdict, reason: Reason, tag: str) -> WindowVerdict:
    return replace(v, verdict=Verdict.EXCLUDED, reason=reason,
                   note=f"{tag}{_WAS}{v.verdict.value}:{v.reason.value}")


def overlay(terms: ContractTerms, verdict: WindowVerdict,
            declared: Sequence[Declared]) -> WindowVerdict:
    """`verdict` (as measured) with the exclusions that apply; declared wins over maintenance."""
    base = measured(verdict)
    for d in declared:
        if d.active and d.covers(base):
            return _excluded(base, Reason.DECLARED, f"declared:{d.reason}:{d.reference}")
    w = base.window_start
    for a in terms.maintenance_plan.get(base.contract, ()):
        if (a.entry.start.timestamp() <= w < a.entry.end.timestamp()
                and a.entry.covers(base.service) and w in a.excluded):
            return _excluded(base, Reason.MAINTENANCE, f"maintenance:{a.entry.reference}")
    return base


def apply_exclusions(terms: ContractTerms, verdict: WindowVerdict) -> WindowVerdict:
    """A freshly decided verdict with the config's maintenance and exclusions only."""
    return overlay(terms, verdict, [from_config(e) for e in terms.exclusions])


def _author(v: WindowVerdict) -> str:
    tag = v.note.partition(_WAS)[0]
    if tag.startswith("maintenance:"):
        return tag
    if tag.startswith("declared:"):
        return "exclusion:" + tag.split(":", 2)[2]
    return "exclusion:restore"


def revisions_due(
    terms: ContractTerms, source: WindowSource, now: float, scope: str = "local",
    *, since: float | None = None, until: float | None = None,
) -> Iterator[tuple[str, list[WindowVerdict]]]:
    """(author, revisions) for decided windows whose exclusions changed.

    Scans from the start of the previous month (or `since`) to `until`/now: call it at start,
    on config reload and after `sla-probe exclude`, not on every tick.
    """
    declared = declared_exclusions(terms, source)
    batches: dict[str, list[WindowVerdict]] = defaultdict(list)
    for contract in terms.contracts:
        start = since
        if start is None:
            this = Month.containing(now, contract.zone)
            previous = Month(this.year - (this.month == 1), (this.month - 2) % 12 + 1)
            start = previous.bounds(contract.zone)[0]
        end = now if until is None else min(until, now)
        for v in source.windows(contract.name, int(start), int(end) + 1, scope):
            want = overlay(terms, v, declared)
            if want.same_decision(v) and want.note == v.note:
                continue
            batches[_author(want)].append(replace(want, decided_at=now))
    yield from batches.items()
