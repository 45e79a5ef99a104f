"""What the pure contract core reads, as small Protocols: the windows and their totals
(`WindowSource`), and the contract terms of a config (`ContractTerms`).

The core (`probe.contracts`, `probe.support`) imports neither the store nor `probe.config`:
the store's `LedgerReader` implements `WindowSource` (mypy checks it in
`probe/store/reader.py`) and `probe.config.Config` implements `ContractTerms`, so the core is
tested on in-memory fakes (tests/contracts/fakes.py) with no database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from probe.model import Verdict, WindowVerdict

if TYPE_CHECKING:
    from probe.contracts.maintenance import Assessment
    from probe.contracts.model import ContractConfig, Declared, DeclaredExclusion

# Per service and (verdict, reason): (windows, attempts, failures).
Totals = dict[str, dict[tuple[str, str], tuple[int, int, int]]]


class FirstFailure(NamedTuple):
    """The first failed attempt of a window: what the vendor's endpoint said first."""

    window_start: int
    started_at: float
    service: str
    check: str
    failure_class: str
    detail: str


class WindowSource(Protocol):
    """Current window verdicts, read by contract, scope and time."""

    def windows(self, contract: str, start: int, end: int, scope: str = "local",
                service: str | None = None) -> list[WindowVerdict]:
        """Current verdicts with `start <= window_start < end`, by service, oldest first."""
        ...

    def window_totals(self, contract: str, start: int, end: int,
                      scope: str = "local") -> Totals:
        """Per service and (verdict, reason): (windows, attempts, failures) in [start, end)."""
        ...

    def month_counts(self, contract: str, start: int, end: int,
                     scope: str = "local") -> dict[str, Counter[tuple[str, str]]]:
        """Per service, how many windows in [start, end) have each (verdict, reason)."""
        ...

    def windows_by_verdict(
        self, contract: str, verdict: Verdict, start: int, end: int, *,
        scope: str = "local", service: str | None = None, limit: int | None = None,
        newest_first: bool = False,
    ) -> list[WindowVerdict]:
        """Current verdicts equal to `verdict`, by service then time; `limit` caps rows."""
        ...

    def window_counts(self, scope: str = "local") -> list[tuple[str, str, str, str, int]]:
        """(contract, service, verdict, reason, decisions) over all time."""
        ...

    def declared_exclusions(self) -> list[Declared]:
        """Exclusions recorded with `sla-probe exclude`, reverted ones included."""
        ...

    def outage_samples(self, service: str, start: float, end: float
                       ) -> list[tuple[float, bool]]:
        """(started_at, ok) of the service's own attempts in [start, end), oldest first:
        every failed attempt and every success next to a failure (the `intervals`
        measurement needs nothing else)."""
        ...

    def first_failures(self, services: Sequence[str], start: float, end: float,
                       window_seconds: int) -> dict[int, FirstFailure]:
        """Per window (aligned to the epoch) of [start, end): the first failed attempt of
        any of `services` (role service), with its redacted-at-write detail."""
        ...


class ContractTerms(Protocol):
    """The contract facts of a config: contracts, maintenance judged, declared exclusions."""

    @property
    def contracts(self) -> Sequence[ContractConfig]: ...

    @property
    def exclusions(self) -> Sequence[DeclaredExclusion]: ...

    @property
    def maintenance_plan(self) -> Mapping[str, Sequence[Assessment]]:
        """Per contract, its maintenance entries judged against its rules."""
        ...
