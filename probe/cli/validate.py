"""`sla-probe validate -c FILE`: load and validate the config, say what it holds."""

from __future__ import annotations

import argparse

from probe.cli.common import EXIT_OK, config_arg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_arg(parser)


def main(args: argparse.Namespace) -> int:
    from probe.config import load_config  # noqa: PLC0415

    config = load_config(args.config)
    checks = sum(len(s.checks) + len(s.dependencies) for s in config.services)
    print(f"{args.config}: valid ({len(config.services)} services, {checks} checks, "
          f"{len(config.controls)} controls, {len(config.contracts)} contracts)")
    return EXIT_OK
