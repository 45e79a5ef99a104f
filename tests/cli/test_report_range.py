"""`report --format csv` lists every window of the month; `--since`/`--until` narrow it
(issue 13, item 17)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from probe.store import Ledger


def report(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "c.yml"
    config.write_text(
        f"probe: {{state_dir: '{tmp_path}/s'}}\n"
        "services:\n  - name: api\n"
        '    checks: [{name: h, type: http, url: "http://127.0.0.1:9/"}]\n'
        "contracts:\n  - {name: c, window: 1h, objectives: [{service: api, target: 99}]}\n")
    Ledger(tmp_path / "s").close()
    return subprocess.run(
        [sys.executable, "-m", "probe", "report", "-c", str(config), "--month", "2026-01",
         "--format", "csv", *extra], capture_output=True, text=True, timeout=60, check=False)


def test_the_whole_month_is_one_row_per_window(tmp_path: Path) -> None:
    proc = report(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(_windows(proc.stdout)) == 1 + 31 * 24


def test_since_and_until_keep_the_windows_starting_in_between(tmp_path: Path) -> None:
    proc = report(tmp_path, "--since", "2026-01-05", "--until", "2026-01-06T00:00Z")
    assert proc.returncode == 0, proc.stderr
    rows = _windows(proc.stdout)[1:]
    assert len(rows) == 24
    assert rows[0][0] == "2026-01-05T00:00:00Z"
    assert rows[-1][0] == "2026-01-05T23:00:00Z"


def test_since_with_a_summary_format_is_refused(tmp_path: Path) -> None:
    proc = report(tmp_path, "--since", "2026-01-05")
    proc = subprocess.run([*proc.args[:-4], "--format", "json", "--since", "2026-01-05"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "apply to --format csv" in proc.stderr


def _windows(text: str) -> list[list[str]]:
    """The window table: the CSV's rows up to the blank line before the readings table."""
    rows = list(csv.reader(io.StringIO(text)))
    return rows[:rows.index([])] if [] in rows else rows
