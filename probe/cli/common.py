"""What every command shares: exit codes, the config option, logging set-up."""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, type=Path, help="YAML config file")


def log_setup(args: argparse.Namespace, default: str = "info") -> None:
    from probe.logs import configure  # noqa: PLC0415 - keep `--help` fast

    fmt = args.log_format
    configure(args.log_level or default, json=None if fmt == "auto" else fmt == "json")
