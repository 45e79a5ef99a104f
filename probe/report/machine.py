"""JSON (the machine-readable truth) and CSV (one row per window, for a spreadsheet)."""

from __future__ import annotations

import csv
import io
import json

from probe.contracts.month import utc_iso
from probe.report.data import MonthReport, report_json

CSV_COLUMNS = ("window_start", "contract", "service", "verdict", "reason", "attempts",
               "failures", "failure_classes", "vantage", "evidence")


def render_json(report: MonthReport) -> str:
    return json.dumps(report_json(report), indent=2, sort_keys=False) + "\n"


READING_COLUMNS = ("reading_contract", "topic", "subject", "clause", "taken",
                   "figure_taken", "other", "figure_other")


def render_csv(report: MonthReport, since: float | None = None,
               until: float | None = None) -> str:
    """Every ended window of every objective; unmeasured windows appear as `no_data`.

    That is one row per window since the month began (120,000 rows for 10 s windows late in
    a month): `since`/`until` (UTC seconds, `--since`/`--until`) keep the windows that start
    in [since, until). After the windows, a blank line and the readings as a second table
    (its own header), so a spreadsheet shows them and a reader of the windows stops at the
    blank line.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for contract in report.contracts:
        for objective in contract.objectives:
            for v in objective.timeline:
                if (since is not None and v.window_start < since) or (
                        until is not None and v.window_start >= until):
                    continue
                # `evidence`: the window's first failed attempt (redacted) where it failed
                seen = objective.evidence.get(v.window_start) if v.failures else None
                writer.writerow((utc_iso(v.window_start), v.contract, v.service,
                                 v.verdict.value, v.reason.value, v.attempts, v.failures,
                                 ";".join(v.failure_classes), report.vantage,
                                 "" if seen is None else seen.text()))
    readings = [(c.name, r) for c in report.contracts for r in c.readings]
    if readings:
        writer.writerow(())
        writer.writerow(READING_COLUMNS)
        for name, r in readings:
            writer.writerow((name, r.topic, r.subject, r.clause, r.taken, r.figure_taken,
                             r.other, r.figure_other))
    return out.getvalue()
