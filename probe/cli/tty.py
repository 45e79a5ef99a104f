"""On a terminal, `run` says what it decides: one short line per decided window.

Without it, a newcomer watching `sla-probe run` sees `started` and then nothing until a
window goes down. Only when stderr is a terminal and the log format is not JSON: the journal
and JSON consumers get exactly the log events they always had.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from probe.clock import Clock
from probe.config import Config
from probe.contracts.accounts import month_accounts
from probe.contracts.month import Month, utc_iso
from probe.model import WindowVerdict
from probe.store import Ledger, LedgerReader


def wanted(args: argparse.Namespace, stream: TextIO) -> bool:
    """A person is watching: stderr is a terminal and logs are not asked to be JSON."""
    return args.log_format != "json" and stream.isatty()


class WindowLines:
    """A verdict listener: `<window> <service> <verdict>  <contract>, month to date <x>%`."""

    def __init__(self, config: Callable[[], Config], state_dir: Path, clock: Clock,
                 out: TextIO) -> None:
        self._config = config
        self._state_dir = state_dir
        self._clock = clock
        self._out = out
        self._reader: LedgerReader | None = None

    def _uptimes(self, verdicts: Sequence[WindowVerdict]) -> dict[tuple[str, str], float]:
        if self._reader is None:
            self._reader = Ledger.reader(self._state_dir)
        config, now = self._config(), self._clock.wall()
        out: dict[tuple[str, str], float] = {}
        for contract in config.contracts:
            if not any(v.contract == contract.name for v in verdicts):
                continue
            single = config.model_copy(update={"contracts": [contract]})
            month = Month.containing(now, contract.zone)
            for acc in month_accounts(single, self._reader, month, now):
                out[(acc.contract, acc.service)] = acc.uptime_percent
        return out

    def __call__(self, verdicts: Sequence[WindowVerdict]) -> None:
        uptime = self._uptimes(verdicts)
        for v in verdicts:
            verdict = v.verdict.value + (f" ({v.reason.value})" if v.reason.value else "")
            mtd = uptime.get((v.contract, v.service))
            month = f", month to date {mtd:.4f}%" if mtd is not None else ""
            self._out.write(f"{utc_iso(v.window_start)}  {v.service}  {verdict}  "
                            f"[{v.contract}{month}]\n")
        self._out.flush()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
