"""The month report: one set of facts (`data.build`), then five renderings of it.

`data` is the model (built from the store through the pure contract core); `text`, `html`
and `machine` (json, csv) only render it. `render` is what `sla-probe report` prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from probe.report.data import build
from probe.report.html import render_html
from probe.report.machine import render_csv, render_json
from probe.report.text import render_markdown, render_text
from probe.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Callable

    from probe.config import Config
    from probe.contracts.month import Month
    from probe.report.data import MonthReport
    from probe.store import LedgerReader

FORMATS: dict[str, Callable[[MonthReport], str]] = {
    "text": render_text,
    "json": render_json,
    "csv": render_csv,
    "markdown": render_markdown,
    "html": render_html,
}

__all__ = ["FORMATS", "render"]


def render(  # noqa: PLR0917 - the CLI-facing signature
    config: Config, reader: LedgerReader, month: Month, fmt: str, now: float,
    scope: str = "local", *, since: float | None = None, until: float | None = None,
) -> str:
    """The month report in `fmt` (text, json, csv, markdown, html); secrets are redacted.

    `since`/`until` narrow the CSV's rows (one per window) to windows starting in
    [since, until); the other formats summarise the whole month and refuse them.
    """
    renderer = FORMATS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown report format {fmt!r} (use {', '.join(FORMATS)})")
    report = build(config, reader, month, now, scope)
    if fmt == "csv":
        return redact(render_csv(report, since, until))
    if since is not None or until is not None:
        raise ValueError("--since and --until apply to --format csv (one row per window)")
    return redact(renderer(report))
