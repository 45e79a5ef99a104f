"""`sla-probe verify DIR`: check an evidence pack with nothing but the pack.

Exit 0 only when every hash, the chain, the signatures, the timestamp tokens, every window
verdict and every month figure agree; otherwise exit 1 and name the first inconsistency
(file, row, what differs). No config and no ledger are read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from probe.cli.common import EXIT_FAILED, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, help="the evidence pack")
    parser.add_argument("--key", type=Path, help="the vantage's public key (PEM or base64) "
                        "to pin; without it the pack's own key is only shown")
    parser.add_argument("--tsa-ca", type=Path, help="PEM of the CA the TSA chains to")


def main(args: argparse.Namespace) -> int:
    from probe.evidence.verify import InconsistentError, verify_pack  # noqa: PLC0415

    key = args.key.read_text() if args.key else None
    ca = args.tsa_ca.read_bytes() if args.tsa_ca else None
    try:
        result = verify_pack(args.directory, key, ca)
    except InconsistentError as exc:
        print(f"INCONSISTENT: {exc}", file=sys.stderr)
        return EXIT_FAILED
    m = result.manifest
    state = "provisional" if m.get("provisional") else "closed"
    print(f"{m['contract']} {m['month']} ({state}): consistent")
    for note in result.notes:
        print(f"  {note}")
    for f in result.figures:
        credit = f["credit"]
        owed = f" {credit['amount']} {credit['unit']}" if credit["unit"] else ""
        print(f"  {f['service']}: uptime {f['uptime_percent']:.4f}% (target {f['target']}%, "
              f"{'met' if f['met'] else 'missed'}), down {f['down_minutes']:g} min, "
              f"no data {f['no_data_minutes']:g} min, credit {credit['status']}{owed}")
    return EXIT_OK
