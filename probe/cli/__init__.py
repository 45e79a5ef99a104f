"""`sla-probe` (and `python -m probe`): one module per command in this package.

Each command module has `add_arguments(parser)` and `main(args) -> exit code`; this module
builds the parser from the table below and turns the errors every command may meet
(a refused config, a bad value, a file that cannot be read) into one line and exit 1.
Command modules import what they need lazily, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from probe import __version__
from probe.cli import (
    check,
    claim,
    demo,
    evidence,
    exclude,
    export,
    report,
    run,
    ticket,
    validate,
    verify,
)
from probe.cli.common import EXIT_FAILED
from probe.yamlsource import ConfigError

# command → (module, one-line help), in the order `--help` lists them
COMMANDS: dict[str, tuple[ModuleType, str]] = {
    "run": (run, "run the daemon"),
    "check": (check, "one attempt of each (or the named) check, now"),
    "validate": (validate, "validate a config file (and a web config file)"),
    "report": (report, "the month report"),
    "exclude": (exclude, "declare (or --revert) an exclusion in the ledger"),
    "evidence": (evidence, "write the evidence pack of a contract's month"),
    "verify": (verify, "verify an evidence pack (no config, no ledger needed)"),
    "demo": (demo, "a simulated vendor with scripted outages, and the daemon"),
    "export": (export, "the objectives as OpenSLO v1 SLO documents"),
    "claim": (claim, "the credit claim letter of a contract's month (Markdown and PDF)"),
    "ticket": (ticket, "record a support ticket: open, update (vendor answer), resolve"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sla-probe",
        description="An independent witness of a vendor's availability SLA.",
    )
    parser.add_argument("--version", action="version", version=f"sla-probe {__version__}")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", choices=["auto", "json", "console"], default="auto")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, text) in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = COMMANDS[args.command][0].main
    try:
        return command(args)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        print("sla-probe: configuration refused", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        print(f"sla-probe: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        # Ledger trouble (missing, empty, malformed, locked, read-only) is one clear line
        # and exit 1 in every command, never a traceback. Imported here: `--help` stays fast.
        from probe.store import LedgerError, SQLiteError  # noqa: PLC0415

        if isinstance(exc, LedgerError):
            print(f"sla-probe: {exc}", file=sys.stderr)
        elif isinstance(exc, SQLiteError):
            print(f"sla-probe: ledger error: {exc}", file=sys.stderr)
        else:
            raise
        return EXIT_FAILED
