"""Exclusions that the contract grants: valid maintenance and declared events.

Two ways in, one overlay. At decision time the decider passes each fresh verdict through
`apply_exclusions`, so maintenance known in advance is applied before the window is written.
When an entry or exclusion arrives after the fact (config edit, `sla-probe exclude`),
`revisions_due` yields the new revisions for the windows already decided, and a revert yields
the measured verdicts back. The measured verdict is kept in the note (`|was:down:`), so an
exclusion can always be undone without guessing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from probe.contracts.maintenance import Assessment, assess
from probe.contracts.month import Month
from probe.model import Reason, Verdict, WindowVerdict

if TYPE_CHECKING:
    from probe.config import Config
    from probe.ledger import Ledger, LedgerReader

REGISTRY_KEY = "declared_exclusions"
_WAS = "|was:"


class DeclaredExclusion(BaseModel):
    """A time range the contract excludes for a stated reason (top-level `exclusions:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract: str
    services: list[str] = Field(default_factory=list)
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    reference: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/#-]*$", max_length=128)
    by: str = "config"
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> DeclaredExclusion:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


@dataclasses.dataclass(frozen=True, slots=True)
class Declared:
    """A declared exclusion from config or from the ledger, with who and when."""

    contract: str
    services: tuple[str, ...]
    start: float
    end: float
    reason: str
    reference: str
    by: str
    source: str
    at: float | None = None
    reverted_at: float | None = None
    reverted_by: str | None = None

    @property
    def active(self) -> bool:
        return self.reverted_at is None

    def covers(self, v: WindowVerdict) -> bool:
        return (v.contract == self.contract and self.start <= v.window_start < self.end
                and (not self.services or v.service in self.services))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"services": list(self.services)}


def from_config(item: DeclaredExclusion) -> Declared:
    return Declared(item.contract, tuple(item.services), item.start.timestamp(),
                    item.end.timestamp(), item.reason, item.reference, item.by, "config")


def ledger_exclusions(reader: LedgerReader) -> list[Declared]:
    """Every exclusion recorded with `sla-probe exclude`, reverted ones included."""
    raw = reader.meta(REGISTRY_KEY)
    if not raw:
        return []
    return [Declared(**(r | {"services": tuple(r["services"])})) for r in json.loads(raw)]


def declared_exclusions(config: Config, reader: LedgerReader | None) -> list[Declared]:
    found = [from_config(e) for e in config.exclusions]
    return found + (ledger_exclusions(reader) if reader is not None else [])


_PLANS: dict[int, tuple[Config, dict[str, list[Assessment]]]] = {}


def assessments(config: Config) -> dict[str, list[Assessment]]:
    """Per contract, its maintenance entries judged against its rules (cached per config)."""
    cached = _PLANS.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    plan = {
        c.name: assess([m for m in config.maintenance if m.contract == c.name],
                       c.maintenance_rules, c.zone, c.window_seconds)
        for c in config.contracts
    }
    if len(_PLANS) > 8:
        _PLANS.clear()
    _PLANS[id(config)] = (config, plan)
    return plan


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


def overlay(config: Config, verdict: WindowVerdict,
            declared: Sequence[Declared]) -> WindowVerdict:
    """`verdict` (as measured) with the exclusions that apply; declared wins over maintenance."""
    base = measured(verdict)
    for d in declared:
        if d.active and d.covers(base):
            return _excluded(base, Reason.DECLARED, f"declared:{d.reason}:{d.reference}")
    w = base.window_start
    for a in assessments(config).get(base.contract, ()):
        if (a.entry.start.timestamp() <= w < a.entry.end.timestamp()
                and a.entry.covers(base.service) and w in a.excluded):
            return _excluded(base, Reason.MAINTENANCE, f"maintenance:{a.entry.reference}")
    return base


def apply_exclusions(config: Config, verdict: WindowVerdict) -> WindowVerdict:
    """The decider's hook: a freshly decided verdict with config maintenance/exclusions."""
    return overlay(config, verdict, [from_config(e) for e in config.exclusions])


def _author(v: WindowVerdict) -> str:
    tag = v.note.partition(_WAS)[0]
    if tag.startswith("maintenance:"):
        return tag
    if tag.startswith("declared:"):
        return "exclusion:" + tag.split(":", 2)[2]
    return "exclusion:restore"


def revisions_due(
    config: Config, reader: LedgerReader, now: float, scope: str = "local",
    *, since: float | None = None, until: float | None = None,
) -> Iterator[tuple[str, list[WindowVerdict]]]:
    """(author, revisions) for decided windows whose exclusions changed.

    Scans from the start of the previous month (or `since`) to `until`/now: call it at start,
    on config reload and after `sla-probe exclude`, not on every tick.
    """
    declared = declared_exclusions(config, reader)
    batches: dict[str, list[WindowVerdict]] = defaultdict(list)
    for contract in config.contracts:
        start = since
        if start is None:
            this = Month.containing(now, contract.zone)
            previous = Month(this.year - (this.month == 1), (this.month - 2) % 12 + 1)
            start = previous.bounds(contract.zone)[0]
        end = now if until is None else min(until, now)
        for v in reader.windows(contract.name, int(start), int(end) + 1, scope):
            want = overlay(config, v, declared)
            if want.same_decision(v) and want.note == v.note:
                continue
            batches[_author(want)].append(replace(want, decided_at=now))
    yield from batches.items()


def write_due_revisions(ledger: Ledger, config: Config, now: float, scope: str = "local",
                        *, since: float | None = None, until: float | None = None) -> int:
    """Write what `revisions_due` finds; returns the number of revisions written."""
    due = list(revisions_due(config, ledger, now, scope, since=since, until=until))
    return sum(len(ledger.write_verdicts(batch, author)) for author, batch in due)


def add_exclude_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `sla-probe exclude`."""
    parser.add_argument("-c", "--config", required=True, help="the sla-probe YAML file")
    parser.add_argument("--contract", required=True)
    parser.add_argument("--service", action="append", default=[],
                        help="repeatable; default: every service of the contract")
    parser.add_argument("--start", required=True, help="ISO 8601 with offset, e.g. ...Z")
    parser.add_argument("--end", required=True, help="ISO 8601 with offset (exclusive)")
    parser.add_argument("--reason", required=True, help="e.g. emergency_patch, force_majeure")
    parser.add_argument("--reference", required=True, help="ticket or notice reference")
    parser.add_argument("--by", default=None, help="who declares it (default: $USER)")
    parser.add_argument("--revert", action="store_true",
                        help="withdraw the exclusion with this reference")
    parser.add_argument("--scope", default="local", choices=["local", "quorum"])


def _instant(text: str) -> float:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (add Z or +01:00)")
    return parsed.timestamp()


def _record(args: argparse.Namespace, config: Config, records: list[Declared],
            now: float) -> Declared:
    contract = config.contract(args.contract)
    for service in args.service:
        if service not in contract.services():
            raise ValueError(f"{service!r} is not an objective of contract {contract.name!r}")
    start, end = _instant(args.start), _instant(args.end)
    DeclaredExclusion.model_validate({
        "contract": args.contract, "services": args.service, "start": args.start,
        "end": args.end, "reason": args.reason, "reference": args.reference})
    who = args.by or _user()
    if args.revert:
        for i, r in enumerate(records):
            if r.contract == args.contract and r.reference == args.reference and r.active:
                records[i] = replace(r, reverted_at=now, reverted_by=who)
                return records[i]
        raise ValueError(f"no active exclusion {args.reference!r} for {args.contract!r}")
    if any(r.contract == args.contract and r.reference == args.reference and r.active
           for r in records):
        raise ValueError(f"exclusion {args.reference!r} is already recorded (--revert first)")
    record = Declared(args.contract, tuple(args.service), start, end, args.reason,
                      args.reference, who, "ledger", at=now)
    records.append(record)
    return record


def _user() -> str:
    import getpass  # noqa: PLC0415

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cli_exclude(args: argparse.Namespace) -> int:
    """`sla-probe exclude`: record (or revert) a declared exclusion; 0 ok, 2 refused."""
    from pydantic import ValidationError  # noqa: PLC0415

    from probe.config import load_config  # noqa: PLC0415
    from probe.ledger import Ledger, LedgerError  # noqa: PLC0415
    from probe.yamlsource import ConfigError  # noqa: PLC0415

    now = time.time()
    try:
        config = load_config(args.config)
        ledger = Ledger(config.probe.state_dir)
    except (ConfigError, LedgerError) as exc:
        print(f"sla-probe exclude: {exc}", file=sys.stderr)
        return 2
    try:
        records = ledger_exclusions(ledger)
        record = _record(args, config, records, now)
        ledger.set_meta(REGISTRY_KEY, json.dumps([r.to_json() for r in records]))
        written = write_due_revisions(ledger, config, now, args.scope,
                                      since=record.start, until=record.end)
    except (KeyError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            message = "; ".join(f"--{e['loc'][0] if e['loc'] else 'args'}: {e['msg']}"
                                for e in exc.errors())
        else:
            message = f"unknown contract {exc}" if isinstance(exc, KeyError) else str(exc)
        print(f"sla-probe exclude: {message}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
    action = "reverted" if args.revert else "recorded"
    print(f"exclusion {record.reference} ({record.reason}) {action} by "
          f"{record.reverted_by or record.by}; {written} window revisions written")
    return 0
