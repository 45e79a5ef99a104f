"""`sla-probe report -c FILE --month YYYY-MM`: the month report from the ledger."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from probe.cli.common import EXIT_FAILED, EXIT_OK, config_arg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_arg(parser)
    parser.add_argument("--month", required=True, help="YYYY-MM, in each contract's time zone")
    parser.add_argument("--format", default="text",
                        choices=["text", "json", "csv", "markdown", "html"])
    parser.add_argument("--scope", default="local", choices=["local", "quorum"])
    parser.add_argument("-o", "--output", type=Path, help="write to a file instead of stdout")
    parser.add_argument("--since", type=instant, help="csv: windows starting at or after this "
                        "UTC time (2026-03-05 or 2026-03-05T14:00)")
    parser.add_argument("--until", type=instant, help="csv: windows starting before this UTC time")


def instant(text: str) -> float:
    """An ISO date or date-time; UTC unless it names an offset."""
    import datetime  # noqa: PLC0415

    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time (e.g. 2026-03-05 or 2026-03-05T14:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def main(args: argparse.Namespace) -> int:
    import time  # noqa: PLC0415

    from probe.config import load_config  # noqa: PLC0415
    from probe.contracts.month import Month  # noqa: PLC0415
    from probe.report import render  # noqa: PLC0415
    from probe.shard import shard_config  # noqa: PLC0415
    from probe.store import LEDGER_FILE, Ledger  # noqa: PLC0415
    from probe.store.identity import check_present  # noqa: PLC0415

    # a sharded pod's ledger holds only its shard's contracts (probe.shard)
    config = shard_config(load_config(args.config))
    month = Month.parse(args.month)
    if not (config.probe.state_dir / LEDGER_FILE).exists():
        print(f"sla-probe: no ledger in {config.probe.state_dir} (has the daemon run?)",
              file=sys.stderr)
        return EXIT_FAILED
    check_present(config.probe.state_dir)
    reader = Ledger.reader(config.probe.state_dir)
    try:
        reader.verify()
        text = render(config, reader, month, args.format, time.time(), scope=args.scope,
                      since=args.since, until=args.until)
    finally:
        reader.close()
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK
