"""`sla-probe exclude` as real processes: concurrent runs, kills at any point, retries.

The record and its verdict revisions commit in one SQLite transaction, so twenty runs at
once give twenty exclusions, a kill leaves both or neither, and a retry of the same
reference completes what a killed run did not and is a no-op after one that finished.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from probe.model import Reason, Verdict
from probe.store import Ledger
from tests.cli.test_exclude import _config_file
from tests.contracts.builders import at, windows

DAY = "2026-10-05"
RUNS = 20


def _argv(path: Path, n: int, *extra: str) -> list[str]:
    """Exclusion n covers the three minutes from 10:0n*3 (distinct ranges, one service)."""
    start = at(f"{DAY} 10:00") + 180 * n
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 180))
    return [sys.executable, "-m", "probe", "exclude", "-c", str(path), "--contract", "c",
            "--service", "sign", "--start", iso, "--end", end, "--reason", "emergency_patch",
            "--reference", f"REF-{n}", "--by", "test", *extra]


def _prepare(tmp_path: Path) -> Path:
    path = _config_file(tmp_path)
    ledger = Ledger(tmp_path)
    ledger.write_verdicts(windows("c", "sign", at(f"{DAY} 10:00"), 3 * RUNS, Verdict.DOWN))
    ledger.close()
    return path


def _state(tmp_path: Path) -> tuple[set[str], dict[int, str]]:
    """Active references, and for each window the reference excluding it ('' if none)."""
    ledger = Ledger(tmp_path)
    try:
        active = {d.reference for d in ledger.declared_exclusions() if d.active}
        rows = ledger.windows("c", at(f"{DAY} 10:00"), at(f"{DAY} 12:00"), service="sign")
    finally:
        ledger.close()
    by_window = {v.window_start: v.note.partition("|")[0].rpartition(":")[2]
                 if v.reason == Reason.DECLARED else "" for v in rows}
    return active, by_window


def _consistent(tmp_path: Path) -> set[str]:
    """Every active exclusion has all three of its windows, and no window has a stray one."""
    active, by_window = _state(tmp_path)
    for n in range(RUNS):
        start = at(f"{DAY} 10:00") + 180 * n
        want = f"REF-{n}" if f"REF-{n}" in active else ""
        got = [by_window[start + 60 * i] for i in range(3)]
        assert got == [want] * 3, (n, active, got)
    return active


class TestExcludeProcesses:
    def test_twenty_concurrent_runs_give_twenty_exclusions(self, tmp_path: Path) -> None:
        path = _prepare(tmp_path)
        procs = [subprocess.Popen(_argv(path, n), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for n in range(RUNS)]
        results = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0] * RUNS, results
        assert _consistent(tmp_path) == {f"REF-{n}" for n in range(RUNS)}

    def test_a_kill_at_any_point_leaves_both_or_neither_and_a_retry_completes(
        self, tmp_path: Path
    ) -> None:
        path = _prepare(tmp_path)
        # kills spread over a run's life: interpreter start, config, ledger open, transaction
        delays = [0.05 * i for i in range(12)]
        for n, delay in enumerate(delays):
            proc = subprocess.Popen(_argv(path, n), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(delay)
            proc.kill()
            proc.wait(10)
            _consistent(tmp_path)  # both or neither, whatever the moment
            retry = subprocess.run(_argv(path, n), capture_output=True, text=True,
                                   timeout=60, check=False)
            assert retry.returncode == 0, retry.stderr
            assert f"REF-{n}" in _consistent(tmp_path)

    def test_the_same_retry_is_a_no_op_and_a_conflict_is_refused(self, tmp_path: Path) -> None:
        path = _prepare(tmp_path)
        first = subprocess.run(_argv(path, 0), capture_output=True, text=True, timeout=60,
                               check=False)
        assert first.returncode == 0, first.stderr
        before = _state(tmp_path)
        again = subprocess.run(_argv(path, 0), capture_output=True, text=True, timeout=60,
                               check=False)
        assert again.returncode == 0, again.stderr
        assert "0 window revisions written" in again.stdout
        assert _state(tmp_path) == before
        other = _argv(path, 0)
        other[other.index("--reason") + 1] = "force_majeure"
        conflict = subprocess.run(other, capture_output=True, text=True, timeout=60,
                                  check=False)
        assert conflict.returncode == 2
        assert "already recorded with other terms" in conflict.stderr
        assert _state(tmp_path) == before
