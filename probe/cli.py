"""`sla-probe` (and `python -m probe`): run, check, validate, report, exclude, demo."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from probe import __version__
from probe.contracts.exclusions import add_exclude_arguments, cli_exclude
from probe.yamlsource import ConfigError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, type=Path, help="YAML config file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sla-probe",
        description="An independent witness of a vendor's availability SLA.",
    )
    parser.add_argument("--version", action="version", version=f"sla-probe {__version__}")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", choices=["auto", "json", "console"], default="auto")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon")
    _config_arg(run)
    run.add_argument("--web.config.file", dest="web_config_file", type=Path,
                     help="TLS and basic auth for the listener (exporter-toolkit format)")

    check = sub.add_parser("check", help="one attempt of each (or the named) check, now")
    _config_arg(check)
    check.add_argument("name", nargs="?", help="CHECK or SERVICE/CHECK")

    validate = sub.add_parser("validate", help="validate a config file (and a web config file)")
    _config_arg(validate)
    validate.add_argument("--web.config.file", dest="web_config_file", type=Path,
                          help="also check this web config (default: probe.web_config_file)")

    report = sub.add_parser("report", help="the month report")
    _config_arg(report)
    report.add_argument("--month", required=True, help="YYYY-MM, in each contract's time zone")
    report.add_argument("--format", default="text",
                        choices=["text", "json", "csv", "markdown", "html"])
    report.add_argument("--scope", default="local", choices=["local", "quorum"])
    report.add_argument("-o", "--output", type=Path, help="write to a file instead of stdout")

    exclude = sub.add_parser("exclude", help="declare (or --revert) an exclusion in the ledger")
    add_exclude_arguments(exclude)

    demo = sub.add_parser("demo", help="a simulated vendor with scripted outages, and the daemon")
    demo.add_argument("--window", default="60s", help="window length (e.g. 5s for a quick look)")
    demo.add_argument("--duration", default=None, help="stop after this long (default: never)")
    demo.add_argument("--listen", default="127.0.0.1:9464", help="HOST:PORT for /metrics")
    demo.add_argument("--state-dir", type=Path, default=None,
                      help="keep the demo ledger here (default: a temporary directory)")
    return parser


def _log_setup(args: argparse.Namespace, default: str = "info") -> None:
    from probe.logs import configure  # noqa: PLC0415 - keep `--help` fast

    fmt = args.log_format
    configure(args.log_level or default, json=None if fmt == "auto" else fmt == "json")


def cmd_validate(args: argparse.Namespace) -> int:
    """The checks `run` makes at start, with no listener: the config and the web config
    (`--web.config.file`, else `probe.web_config_file`), every problem of both at once."""
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
    print(f"{args.config}: valid ({len(config.services)} services, {checks} checks, "
          f"{len(config.controls)} controls, {len(config.contracts)} contracts)")
    if web is not None:
        tls = web.tls
        print(f"{web_file}: valid (TLS {'on, ' + tls.auth_type if tls else 'off'}, "
              f"{len(web.users)} basic auth users)")
        for notice in web.notices:
            print(f"note: {notice}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from probe.config import load_config  # noqa: PLC0415
    from probe.oneshot import run_checks  # noqa: PLC0415

    config = load_config(args.config)
    _log_setup(args, "warning")
    return asyncio.run(run_checks(config, args.name, sys.stdout))


def cmd_run(args: argparse.Namespace) -> int:
    from probe.config import load_config  # noqa: PLC0415
    from probe.daemon import Daemon  # noqa: PLC0415

    config = load_config(args.config)
    if args.web_config_file is not None:
        config = config.model_copy(
            update={"probe": config.probe.model_copy(
                update={"web_config_file": args.web_config_file})}
        )
    _log_setup(args, config.probe.log_level)
    daemon = Daemon(config, config_path=args.config)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(daemon.serve())


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
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


def cmd_report(args: argparse.Namespace) -> int:
    import time  # noqa: PLC0415

    from probe.config import load_config  # noqa: PLC0415
    from probe.contracts.month import Month  # noqa: PLC0415
    from probe.ledger import LEDGER_FILE, Ledger  # noqa: PLC0415
    from probe.report import render  # noqa: PLC0415

    config = load_config(args.config)
    month = Month.parse(args.month)
    if not (config.probe.state_dir / LEDGER_FILE).exists():
        print(f"sla-probe: no ledger in {config.probe.state_dir} (has the daemon run?)",
              file=sys.stderr)
        return EXIT_FAILED
    reader = Ledger.reader(config.probe.state_dir)
    try:
        text = render(config, reader, month, args.format, time.time(), scope=args.scope)
    finally:
        reader.close()
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from probe.demo import run_demo  # noqa: PLC0415
    from probe.durations import parse_duration  # noqa: PLC0415

    _log_setup(args, "error")
    window = parse_duration(args.window)
    duration = parse_duration(args.duration) if args.duration else None
    return asyncio.run(run_demo(window=window, duration=duration, listen=args.listen,
                                state_dir=args.state_dir, out=sys.stdout))


COMMANDS = {
    "validate": cmd_validate, "check": cmd_check, "run": cmd_run, "report": cmd_report,
    "demo": cmd_demo, "exclude": cli_exclude,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        print("sla-probe: configuration refused", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        print(f"sla-probe: {exc}", file=sys.stderr)
        return EXIT_FAILED
