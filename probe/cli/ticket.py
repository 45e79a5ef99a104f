"""`sla-probe ticket open|update|resolve`: record a support ticket in the ledger.

A ticket is what the customer told the vendor and what the vendor answered: the probe cannot
see either, so the customer records them, and the report judges them against the support
terms (`probe.support.tickets`). Each event is a chained ledger row (`Ledger.record_ticket`).
`open` links the ticket to the incident under way when it was opened unless `--incident`
names one (the `id` of `/api/v1/incidents`, e.g. `dfns/dfns-api/1792472400`).
"""

from __future__ import annotations

import argparse
import sys
import time

from probe.cli.common import EXIT_OK, EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (("open", "record a ticket opened with the vendor"),
                         ("update", "record a vendor answer (the first is the first response)"),
                         ("resolve", "record the ticket's resolution")):
        p = sub.add_parser(action, help=text)
        p.add_argument("-c", "--config", required=True, help="the sla-probe YAML file")
        p.add_argument("--contract", required=True)
        p.add_argument("--reference", required=True, help="the vendor's ticket number")
        p.add_argument("--at", default=None,
                       help="ISO 8601 with offset (default: now): when it happened")
        p.add_argument("--by", default=None, help="who records it (default: $USER)")
        if action == "open":
            p.add_argument("--severity", required=True, help="a severity of the contract")
            p.add_argument("--channel", required=True, choices=["phone", "portal", "email"])
            p.add_argument("--incident", default=None,
                           help="incident id (default: the one under way when opened)")
        elif action == "update":
            p.add_argument("--note", default="", help="what the vendor said")
        else:
            p.add_argument("--resolution", default="", help="how it was resolved")


def main(args: argparse.Namespace) -> int:
    """0 recorded, 2 refused (unknown contract or severity, a bad time, no such ticket)."""
    from probe.cli.exclude import _instant, _user  # noqa: PLC0415
    from probe.config import load_config  # noqa: PLC0415
    from probe.store import Ledger, LedgerError  # noqa: PLC0415
    from probe.support.tickets import link_incident, make_event  # noqa: PLC0415
    from probe.yamlsource import ConfigError  # noqa: PLC0415

    now = time.time()
    try:
        config = load_config(args.config)
        ledger = Ledger(config.probe.state_dir)
    except (ConfigError, LedgerError) as exc:
        print(f"sla-probe ticket: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        contract = config.contract(args.contract)
        at = now if args.at is None else _instant(args.at)
        fields = {k: getattr(args, k, None) for k in
                  ("severity", "channel", "incident", "note", "resolution")}
        if args.action == "open" and not args.incident:
            fields["incident"] = link_incident(contract, ledger, at, now)
        event = make_event(contract, args.action, args.reference, at=at, fields=fields,
                           by=args.by or _user(), now=now)
        ledger.record_ticket(event)
    except (KeyError, ValueError) as exc:
        message = f"unknown contract {exc}" if isinstance(exc, KeyError) else str(exc)
        print(f"sla-probe ticket: {message}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        ledger.close()
    linked = event.data.get("incident")
    print(f"ticket {event.reference} ({event.contract}): {event.action} recorded"
          + (f", linked to incident {linked}" if linked else ""))
    return EXIT_OK
