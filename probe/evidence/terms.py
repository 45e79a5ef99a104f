"""What a pack says about its contract, and the in-memory ledger a verifier reads it from.

`contract.json` holds the contract as configured (secrets masked), its services' checks, the
maintenance entries and declared exclusions. `PackTerms` turns it back into what the pure
contract core reads (`ContractTerms`), and `PackWindows` serves the pack's verdicts as a
`WindowSource`, so the verifier recomputes the month with the very code the report uses.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from probe.contracts import memory
from probe.contracts.maintenance import Assessment, MaintenanceEntry, assess
from probe.contracts.model import ContractConfig, Declared, DeclaredExclusion
from probe.contracts.source import FirstFailure
from probe.evidence.format import canon, sha256_hex
from probe.model import CONTROL_SERVICE, Attempt, Role, Verdict, WindowVerdict
from probe.secrets import redact

if TYPE_CHECKING:
    from probe.config import Config
    from probe.contracts.source import ContractTerms, Totals, WindowSource


def fingerprint(contract_json: Mapping[str, Any]) -> str:
    """SHA-256 of the contract's canonical JSON (the quorum's contract fingerprint too)."""
    text = canon(contract_json)
    return sha256_hex(text.encode())


def _masked(value: Any) -> Any:
    """A dumped model with every string passed through the secret redactor."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


def terms_json(config: Config, name: str, ledger_exclusions: Sequence[Declared]) -> dict[str, Any]:
    """contract.json: the contract and everything its figures depend on, no secrets."""
    contract = config.contract(name)
    # The contract's terms hold no secrets (no `Secret` field in contracts or support
    # terms), and the verifier recomputes the figures from them: a redactor that replaced a
    # secret that happens to occur inside a term ("business_days") would change the terms.
    # Check configs may carry secrets in plain fields (a URL), so they are masked.
    dumped = contract.model_dump(mode="json")
    services = {}
    for service in contract.services():
        s = config.service(service)
        services[service] = {
            "description": s.description,
            "checks": [_masked(c.model_dump(mode="json")) for c in s.checks],
            "dependencies": [_masked(c.model_dump(mode="json")) for c in s.dependencies],
        }
    return {
        "contract": dumped, "fingerprint": fingerprint(dumped), "services": services,
        "controls": [_masked(c.model_dump(mode="json")) for c in config.controls],
        "maintenance": [_masked(m.model_dump(mode="json")) for m in config.maintenance
                        if m.contract == name],
        "config_exclusions": [_masked(e.model_dump(mode="json")) for e in config.exclusions
                              if e.contract == name],
        "ledger_exclusions": [_masked(d.to_json()) for d in ledger_exclusions
                              if d.contract == name],
    }


@dataclasses.dataclass
class PackTerms:
    """`ContractTerms` from contract.json (one contract)."""

    contract: ContractConfig
    maintenance: list[MaintenanceEntry]
    config_exclusions: list[DeclaredExclusion]
    ledger_exclusions: list[Declared]
    service_names: list[str]

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> PackTerms:
        ledger = [Declared(**(d | {"services": tuple(d["services"])}))
                  for d in data["ledger_exclusions"]]
        return cls(ContractConfig.model_validate(data["contract"]),
                   [MaintenanceEntry.model_validate(m) for m in data["maintenance"]],
                   [DeclaredExclusion.model_validate(e) for e in data["config_exclusions"]],
                   ledger, sorted(data["services"]))

    @property
    def contracts(self) -> Sequence[ContractConfig]:
        return [self.contract]

    @property
    def exclusions(self) -> Sequence[DeclaredExclusion]:
        return self.config_exclusions

    @cached_property
    def maintenance_plan(self) -> Mapping[str, Sequence[Assessment]]:
        c = self.contract
        return {c.name: assess(self.maintenance, c.maintenance_rules, c.zone, c.window_seconds)}


def in_scope_services(contract: ContractConfig) -> set[str]:
    """Whose attempts a contract's pack holds: its services and the controls."""
    return {*contract.services(), CONTROL_SERVICE}


class PackWindows:
    """The current verdicts of one pack as a `WindowSource`."""

    def __init__(self, verdicts: Iterable[WindowVerdict], declared: Sequence[Declared],
                 attempts: Iterable[Attempt] = ()) -> None:
        self._rows = sorted(verdicts, key=lambda v: (v.service, v.window_start))
        self._declared = list(declared)
        self._attempts = sorted(attempts, key=lambda a: a.started_at)

    def windows(self, contract: str, start: int, end: int, scope: str = "local",
                service: str | None = None) -> list[WindowVerdict]:
        return memory.select(self._rows, contract, start, end, scope, service)

    def window_totals(self, contract: str, start: int, end: int,
                      scope: str = "local") -> Totals:
        return memory.totals(memory.select(self._rows, contract, start, end, scope))

    def month_counts(self, contract: str, start: int, end: int,
                     scope: str = "local") -> dict[str, Counter[tuple[str, str]]]:
        return memory.counts(self.window_totals(contract, start, end, scope))

    def windows_by_verdict(
        self, contract: str, verdict: Verdict, start: int, end: int, *,
        scope: str = "local", service: str | None = None, limit: int | None = None,
        newest_first: bool = False,
    ) -> list[WindowVerdict]:
        rows = memory.select(self._rows, contract, start, end, scope, service)
        return memory.by_verdict(rows, verdict, limit, newest_first)

    def window_counts(self, scope: str = "local") -> list[tuple[str, str, str, str, int]]:
        counts = Counter((v.contract, v.service, v.verdict.value, v.reason.value)
                         for v in self._rows if v.scope == scope)
        return sorted((*key, n) for key, n in counts.items())

    def declared_exclusions(self) -> list[Declared]:
        return list(self._declared)

    def outage_samples(self, service: str, start: float, end: float
                       ) -> list[tuple[float, bool]]:
        """As the store answers it: failed service attempts and the successes beside them."""
        return memory.outage_samples([
            (a.started_at, a.ok) for a in self._attempts
            if a.service == service and a.role == Role.SERVICE and start <= a.started_at < end])

    def first_failures(self, services: Sequence[str], start: float, end: float,
                       window_seconds: int) -> dict[int, FirstFailure]:
        """As the store answers it: each window's first failed service attempt."""
        out: dict[int, FirstFailure] = {}
        for a in self._attempts:
            w = int(a.started_at // window_seconds) * window_seconds
            if (a.ok or a.role != Role.SERVICE or a.service not in services
                    or not start <= a.started_at < end or w in out):
                continue
            out[w] = FirstFailure(w, a.started_at, a.service, a.check, a.failure_class or "",
                                  a.detail)
        return out


if TYPE_CHECKING:
    _source: WindowSource = PackWindows([], [])
    _terms: ContractTerms = PackTerms.load({})
