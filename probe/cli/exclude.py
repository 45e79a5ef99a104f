"""`sla-probe exclude`: record (or revert) a declared exclusion in the ledger.

The record and the verdict revisions it causes are written in one SQLite transaction
(`Ledger.record_exclusion`), so concurrent `exclude` runs serialise on the ledger's write
lock and none is lost, and a kill leaves either both or neither. A retry of the same
reference with the same terms (after a kill, a lost answer) succeeds and changes nothing; a
conflicting one is refused. The command never runs the decider: it only re-lays exclusions
on windows already decided. See docs/exclusions.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import datetime

from probe.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def _user() -> str:
    import getpass  # noqa: PLC0415

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _check_services(known: list[str], args: argparse.Namespace) -> None:
    for service in args.service:
        if service not in known:
            raise ValueError(f"{service!r} is not an objective of contract {args.contract!r}")


def main(args: argparse.Namespace) -> int:
    """0 recorded (or already recorded exactly so), 1 ledger trouble, 2 refused (bad
    arguments, unknown contract, a conflicting record with the reference, nothing to revert)."""
    from pydantic import ValidationError  # noqa: PLC0415

    from probe.config import load_config  # noqa: PLC0415
    from probe.contracts.exclusions import revisions_due  # noqa: PLC0415
    from probe.contracts.model import Declared, DeclaredExclusion  # noqa: PLC0415
    from probe.store import Ledger, LedgerError  # noqa: PLC0415
    from probe.yamlsource import ConfigError  # noqa: PLC0415

    now = time.time()
    try:
        config = load_config(args.config)
        ledger = Ledger(config.probe.state_dir)
    except ConfigError as exc:
        print(f"sla-probe exclude: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LedgerError as exc:
        print(f"sla-probe exclude: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        _check_services(config.contract(args.contract).services(), args)
        start, end = _instant(args.start), _instant(args.end)
        DeclaredExclusion.model_validate({
            "contract": args.contract, "services": args.service, "start": args.start,
            "end": args.end, "reason": args.reason, "reference": args.reference})
        who = args.by or _user()
        record = Declared(args.contract, tuple(args.service), start, end, args.reason,
                          args.reference, who, "ledger", at=now)
        if args.revert:
            record = replace(record, reverted_at=now, reverted_by=who)
        stored, written, new = ledger.record_exclusion(
            record, lambda r: revisions_due(config, ledger, now, args.scope,
                                            since=r.start, until=r.end))
    except (KeyError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            message = "; ".join(f"--{e['loc'][0] if e['loc'] else 'args'}: {e['msg']}"
                                for e in exc.errors())
        else:
            message = f"unknown contract {exc}" if isinstance(exc, KeyError) else str(exc)
        print(f"sla-probe exclude: {message}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        ledger.close()
    action = "reverted" if args.revert else "recorded"
    if not new:
        action = f"was already {action} (nothing changed)"
    print(f"exclusion {stored.reference} ({stored.reason}) {action} by "
          f"{stored.reverted_by or stored.by}; {written} window revisions written")
    return EXIT_OK
