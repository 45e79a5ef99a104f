"""`sla-probe demo`: a simulated vendor with scripted outages, and the daemon, zero config."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from probe.cli.common import EXIT_FAILED, log_setup


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", default="60s",
                        help="window length (e.g. 5s for a quick look)")
    parser.add_argument("--duration", default=None, help="stop after this long (default: never)")
    parser.add_argument("--listen", default="127.0.0.1:9464", help="HOST:PORT for /metrics")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="keep the demo ledger here (default: a temporary directory)")


def main(args: argparse.Namespace) -> int:
    from probe.daemon import ListenError  # noqa: PLC0415
    from probe.demo import run_demo  # noqa: PLC0415
    from probe.durations import parse_positive_duration  # noqa: PLC0415

    log_setup(args, "error")
    window = parse_positive_duration(args.window, "--window")
    duration = parse_positive_duration(args.duration, "--duration") if args.duration else None
    try:
        return asyncio.run(run_demo(window=window, duration=duration, listen=args.listen,
                                    state_dir=args.state_dir, out=sys.stdout))
    except ListenError as exc:
        print(f"sla-probe demo: {exc}: choose another address with --listen HOST:PORT",
              file=sys.stderr)
        return EXIT_FAILED
