"""`sla-probe evidence`: write the evidence pack of one contract's month (docs/evidence.md).

A month that has not closed (or has no head signed after it yet) gives a pack marked
provisional. The command signs a fresh chain head first (with the vantage key, created if
the daemon never ran), so the pack ends at a head that covers everything it holds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from probe.cli.common import EXIT_OK, EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="the sla-probe YAML file")
    parser.add_argument("--contract", required=True)
    parser.add_argument("--month", required=True, help="YYYY-MM, in the contract's time zone")
    parser.add_argument("--out", required=True, type=Path, help="a new (or empty) directory")


def main(args: argparse.Namespace) -> int:
    from probe.config import load_config  # noqa: PLC0415
    from probe.contracts.month import Month  # noqa: PLC0415
    from probe.evidence.keys import load_vantage_key  # noqa: PLC0415
    from probe.evidence.pack import PackError, write_pack_now  # noqa: PLC0415
    from probe.shard import shard_config  # noqa: PLC0415
    from probe.store import Ledger  # noqa: PLC0415

    # a sharded pod's ledger holds only its shard's contracts (probe.shard)
    config = shard_config(load_config(args.config))
    month = Month.parse(args.month)
    try:
        contract = config.contract(args.contract)
    except KeyError:
        print(f"sla-probe evidence: unknown contract {args.contract!r}", file=sys.stderr)
        return EXIT_USAGE
    key = load_vantage_key(config)
    now = time.time()
    ledger = Ledger(config.probe.state_dir)
    try:
        info = write_pack_now(config, ledger, key, contract.name, month, out=args.out, now=now)
    except PackError as exc:
        print(f"sla-probe evidence: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        ledger.close()
    state = "provisional" if info.provisional else "closed"
    print(f"{info.path}: {state} pack of {contract.name} {month}: {info.attempts} attempts, "
          f"{info.revisions} verdict revisions, {info.records} chain records, "
          f"{info.bytes} bytes")
    return EXIT_OK
