"""`sla-probe validate -c FILE [--web.config.file FILE]`: the checks `run` makes at start,
with no listener: the config and the web config, every problem of both at once."""

from __future__ import annotations

import argparse
from pathlib import Path

from probe.cli.common import EXIT_OK, config_arg
from probe.yamlsource import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_arg(parser)
    parser.add_argument("--web.config.file", dest="web_config_file", type=Path,
                        help="also check this web config (default: probe.web_config_file)")


def main(args: argparse.Namespace) -> int:
    from probe.config import Config, load_config  # noqa: PLC0415
    from probe.web.config import WebConfig, load_web_config  # noqa: PLC0415

    problems: list[str] = []
    config: Config | None = None
    web: WebConfig | None = None
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        problems += exc.problems
    web_file = args.web_config_file
    if web_file is None and config is not None:
        web_file = config.probe.web_config_file
    if web_file is not None:
        try:
            web = load_web_config(web_file)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    assert config is not None
    checks = sum(len(s.checks) + len(s.dependencies) for s in config.services)
    counts = ", ".join(plural(n, word) for n, word in (
        (len(config.services), "service"), (checks, "check"),
        (len(config.controls), "control"), (len(config.contracts), "contract")))
    print(f"{args.config}: valid ({counts})")
    if web is not None:
        tls = web.tls
        print(f"{web_file}: valid (TLS {'on, ' + tls.auth_type if tls else 'off'}, "
              f"{plural(len(web.users), 'basic auth user')})")
        for notice in web.notices:
            print(f"note: {notice}")
    return EXIT_OK


def plural(count: int, word: str) -> str:
    """'1 service', '2 services', '0 services'."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
