"""`sla-probe claim`: the credit claim letter of a contract's month, as Markdown and PDF.

The letter cites the SHA-256 of the month's evidence pack, so the pack comes first: `--pack
DIR` reuses one already written (`sla-probe evidence`, or the daemon's at month close),
otherwise one is written into `OUT/evidence-pack` (signing a fresh chain head as
`sla-probe evidence` does). Writes `OUT/claim-CONTRACT-MONTH.md` and `.pdf`.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

from probe.cli.common import EXIT_OK, EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="the sla-probe YAML file")
    parser.add_argument("--contract", required=True)
    parser.add_argument("--month", required=True, help="YYYY-MM, in the contract's time zone")
    parser.add_argument("--out", type=Path, default=Path(),
                        help="directory for the letter (default: the current one)")
    parser.add_argument("--pack", type=Path, default=None,
                        help="an evidence pack already written for this month")
    parser.add_argument("--no-pdf", action="store_true", help="Markdown only")


def main(args: argparse.Namespace) -> int:
    from probe.config import load_config  # noqa: PLC0415
    from probe.contracts.month import Month  # noqa: PLC0415
    from probe.evidence.format import MANIFEST  # noqa: PLC0415
    from probe.evidence.keys import load_vantage_key  # noqa: PLC0415
    from probe.evidence.pack import PackError, write_pack_now  # noqa: PLC0415
    from probe.report.claim import claim_letter, write_pdf  # noqa: PLC0415
    from probe.shard import shard_config  # noqa: PLC0415
    from probe.store import Ledger  # noqa: PLC0415

    # a sharded pod's ledger holds only its shard's contracts (probe.shard)
    config = shard_config(load_config(args.config))
    month = Month.parse(args.month)
    try:
        contract = config.contract(args.contract)
    except KeyError:
        print(f"sla-probe claim: unknown contract {args.contract!r}", file=sys.stderr)
        return EXIT_USAGE
    now = time.time()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(config.probe.state_dir)
    try:
        pack = args.pack
        if pack is None:
            pack = out / f"evidence-pack-{contract.name}-{month}"
            key = load_vantage_key(config)
            write_pack_now(config, ledger, key, contract.name, month, out=pack, now=now)
        manifest = pack / MANIFEST
        if not manifest.is_file():
            print(f"sla-probe claim: {pack} is not an evidence pack (no {MANIFEST})",
                  file=sys.stderr)
            return EXIT_USAGE
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
        letter = claim_letter(config, ledger, contract.name, month, now,
                              pack_sha256=digest, pack_name=pack.name)
    except PackError as exc:
        print(f"sla-probe claim: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        ledger.close()
    stem = out / f"claim-{contract.name}-{month}"
    stem.with_suffix(".md").write_text(letter.markdown)
    written = [stem.with_suffix(".md")]
    if not args.no_pdf:
        stem.with_suffix(".pdf").write_bytes(write_pdf(letter.html))
        written.append(stem.with_suffix(".pdf"))
    print(f"claim letter {', '.join(str(p) for p in written)}; evidence pack {pack} "
          f"(manifest SHA-256 {digest})")
    return EXIT_OK
