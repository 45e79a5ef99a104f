"""The readings of one contract-month, gathered for the report (see probe/contracts/readings).

Each other reading is recomputed here from the same sources: the maintenance entries judged
again with elapsed notice, the overall objectives derived again under the other `down_when`,
the interval outages counted again under the other rounding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from probe.contracts.accounts import interval_outages
from probe.contracts.composite import composite_rows
from probe.contracts.maintenance import assess
from probe.contracts.readings import (
    Reading,
    denominator_readings,
    interval_readings,
    notice_readings,
    overall_readings,
    response_readings,
    tier_readings,
)
from probe.model import Verdict

if TYPE_CHECKING:
    from probe.config import Config
    from probe.contracts.accounts import ObjectiveAccount
    from probe.contracts.maintenance import Assessment
    from probe.contracts.model import ContractConfig
    from probe.store import LedgerReader

_OTHER_ROUNDING = {"floor": "ceil", "ceil": "floor", "nearest": "floor", "exact": "ceil"}


def contract_readings(
    config: Config, contract: ContractConfig, reader: LedgerReader, *,
    accounts: Sequence[ObjectiveAccount], maintenance: Sequence[Assessment],
    incidents: Sequence[Mapping[str, Any]], start: int, end: int, now: float, scope: str,
) -> list[Reading]:
    out = tier_readings(contract, accounts)
    out += denominator_readings(contract, accounts)
    refs = {a.entry.reference for a in maintenance}
    entries = [m for m in config.maintenance if m.contract == contract.name]
    elapsed = [a for a in assess(entries, contract.maintenance_rules, contract.zone,
                                 contract.window_seconds, notice_counting="elapsed")
               if a.entry.reference in refs]
    out += notice_readings(contract, maintenance, elapsed)
    per = contract.window_seconds / 60
    other_down: dict[str, float] = {}
    for o in contract.objectives:
        if o.of:
            flipped = o.model_copy(update={"down_when": "all" if o.down_when == "any"
                                           else "any"})
            rows = composite_rows(reader, contract.name, flipped, start=start, end=end,
                                  scope=scope)
            other_down[o.service] = per * sum(1 for v in rows if v.verdict == Verdict.DOWN)
    out += overall_readings(contract, accounts, other_down)
    if contract.measurement.method == "intervals":
        rounding = _OTHER_ROUNDING[contract.measurement.rounding]
        for o in contract.objectives:
            taken = interval_outages(reader, contract, o, start=start, end=end, now=now,
                                     scope=scope)
            other = interval_outages(reader, contract, o, start=start, end=end, now=now,
                                     scope=scope, rounding=rounding)
            if taken is not None and other is not None:
                out.append(interval_readings(
                    contract, o.service, sum(x.counted_minutes for x in taken),
                    sum(x.counted_minutes for x in other), rounding))
    out += response_readings(contract, incidents)
    return out
