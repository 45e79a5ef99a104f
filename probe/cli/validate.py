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
    counts = ", ".join(plural(n, word) for n, word in (
        (len(config.services), "service"), (checks, "check"),
        (len(config.controls), "control"), (len(config.contracts), "contract")))
    print(f"{args.config}: valid ({counts})")
    return EXIT_OK


def plural(count: int, word: str) -> str:
    """'1 service', '2 services', '0 services'."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
