"""`sla-probe run -c FILE`: the daemon, on uvloop when installed."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from probe.cli.common import EXIT_FAILED, config_arg, log_setup

if TYPE_CHECKING:
    from probe.config import Config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_arg(parser)
    parser.add_argument("--web.config.file", dest="web_config_file", type=Path,
                        help="TLS and basic auth for the listener (exporter-toolkit format)")
    parser.add_argument("--shard", metavar="INDEX/COUNT", default=None,
                        help="run only the contracts that hash into shard INDEX of COUNT "
                             "(overrides probe.shard; see docs/deployment.md)")
    parser.add_argument("--new-ledger", action="store_true",
                        help="start a new ledger where the state directory held one that is "
                             "now missing, empty or another (the history is lost)")


def main(args: argparse.Namespace) -> int:
    from probe.cli import tty  # noqa: PLC0415
    from probe.clock import SystemClock  # noqa: PLC0415
    from probe.config import load_config, location_of  # noqa: PLC0415
    from probe.daemon import Daemon, ListenError  # noqa: PLC0415

    config = load_config(args.config)
    if args.web_config_file is not None:
        config = config.model_copy(
            update={"probe": config.probe.model_copy(
                update={"web_config_file": args.web_config_file})}
        )
    config = _sharded(config, getattr(args, "shard", None))
    log_setup(args, config.probe.log_level)
    lines = None
    if tty.wanted(args, sys.stderr):
        lines = tty.WindowLines(lambda: daemon.config, config.probe.state_dir,
                                SystemClock(), sys.stderr)
    daemon = Daemon(config, config_path=args.config, new_ledger=args.new_ledger,
                    verdict_listeners=[lines] if lines is not None else [])
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        try:
            return runner.run(daemon.serve())
        except ListenError as exc:
            where = location_of(Path(args.config), ("probe", "listen"))
            print(f"sla-probe: {exc}: choose another address with probe.listen ({where})",
                  file=sys.stderr)
            return EXIT_FAILED
        finally:
            if lines is not None:
                lines.close()


def _sharded(config: Config, flag: str | None) -> Config:
    """The config cut to its shard: `--shard i/N` wins over `probe.shard`."""
    from probe.config import Shard  # noqa: PLC0415
    from probe.shard import shard_config  # noqa: PLC0415

    if flag is None:
        return shard_config(config)
    try:
        shard = Shard.model_validate(flag)
    except ValueError as exc:
        raise SystemExit(f"sla-probe run: --shard: {exc}") from None
    return shard_config(config, shard)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The daemon's event loop: uvloop when installed (`pip install 'sla-probe[fast]'`,
    about a third less CPU per attempt, see BENCHMARKS.md), else asyncio's own;
    `SLA_PROBE_LOOP=asyncio|uvloop` chooses explicitly."""
    choice = os.environ.get("SLA_PROBE_LOOP", "auto")
    if choice not in ("auto", "asyncio", "uvloop"):
        raise ValueError(f"SLA_PROBE_LOOP must be auto, asyncio or uvloop, not {choice!r}")
    if choice == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        if choice == "auto":
            return None
        raise ValueError("SLA_PROBE_LOOP=uvloop needs: pip install 'sla-probe[fast]'") from None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
