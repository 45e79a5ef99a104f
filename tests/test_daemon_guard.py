"""Guards around the daemon, with real processes: one daemon per state directory, the
listener bound before catch-up, a dead log pipe, ledger trouble as one line and exit 1.

Each test bounds its waits; none asserts a timing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from probe.store import LEDGER_FILE, Ledger
from tests.conftest import free_port
from tests.servers import ScheduledTarget, wait_until
from tests.test_daemon import config_text, verdicts

W = 1


def _spawn(config: Path, *extra: str, stderr: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "probe", "run", "-c", str(config), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE if stderr is None else stderr,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    if proc.stderr is not None:
        proc.stderr.close()


def _cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "probe", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def _one_clear_line(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr


def _config(tmp_path: Path, state_dir: Path, port: int, target: str = "http://127.0.0.1:9/",
            control: str | None = None, window: int = W) -> Path:
    path = tmp_path / f"config-{port}.yaml"
    path.write_text(config_text(state_dir, target, control or target, port, window))
    return path


class TestOneWriterPerLedger:
    def test_a_second_run_exits_1_naming_the_directory_and_the_holder(
        self, state_dir: Path, tmp_path: Path
    ) -> None:
        first = _spawn(_config(tmp_path, state_dir, free_port()))
        second: subprocess.Popen[bytes] | None = None
        try:
            deadline = time.monotonic() + 20
            while not verdicts(state_dir, "all") and time.monotonic() < deadline:
                assert first.poll() is None
                time.sleep(0.1)
            second = _spawn(_config(tmp_path, state_dir, free_port()))
            _, err = second.communicate(timeout=20)
            assert second.returncode == 1
            text = err.decode()
            _one_clear_line(text)
            assert str(state_dir) in text
            assert f"pid {first.pid}" in text
            assert first.poll() is None, "the first daemon keeps running"
        finally:
            _stop(first)
            if second is not None:
                _stop(second)

    def test_a_taken_port_fails_before_catch_up_decides_anything(
        self, state_dir: Path, tmp_path: Path
    ) -> None:
        # A ledger whose cursors lie 30 windows back: a catch-up would decide 30 windows.
        back = int(time.time()) - 30
        ledger = Ledger(state_dir)
        ledger.write_verdicts([], "decider", {("all", "local"): back, ("any", "local"): back})
        ledger.close()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            proc = _spawn(_config(tmp_path, state_dir, port))
            try:
                _, err = proc.communicate(timeout=30)
            finally:
                _stop(proc)
        assert proc.returncode == 1, err
        assert "Traceback" not in err.decode()
        assert verdicts(state_dir, "all") == {}, "nothing was decided by a daemon that failed"


class TestDeadLogPipe:
    async def test_sigterm_stops_the_daemon_after_its_log_reader_exited(
        self, state_dir: Path, tmp_path: Path
    ) -> None:
        async with ScheduledTarget(lambda _t: True) as target, ScheduledTarget() as control:
            port = free_port()  # every window is down: the vendor fails, the control answers
            path = _config(tmp_path, state_dir, port, target.url, control.url)
            read_end, write_end = os.pipe()
            # the reader takes one byte and exits, like `tee` after Ctrl-C
            reader = subprocess.Popen(["head", "-c", "1"], stdin=read_end,
                                      stdout=subprocess.DEVNULL)
            proc = _spawn(path, stderr=write_end)
            os.close(read_end)
            os.close(write_end)
            try:
                reader.wait(20)
                await wait_until(lambda: "down" in verdicts(state_dir, "all").values(), 30)
                await wait_until(lambda: len(verdicts(state_dir, "all")) >= 3, 30)
                assert proc.poll() is None, "a dead log pipe does not kill the daemon"
                url = f"http://127.0.0.1:{port}/metrics"
                body = urllib.request.urlopen(url, timeout=10).read().decode()
                errors = next(line for line in body.splitlines()
                              if line.startswith("sla_probe_log_write_errors_total"))
                assert float(errors.split()[-1]) > 0
                stopped_at = time.time()
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(15) == 0
            finally:
                _stop(proc)
                if reader.poll() is None:
                    reader.kill()
                    reader.wait(5)
        after = verdicts(state_dir, "all")
        first = min(after)
        ended = range(first, int(stopped_at) // W * W, W)
        assert [w for w in ended if w not in after] == [], "every ended window is decided"


class TestLedgerTrouble:
    def _ledger_with_history(self, state_dir: Path) -> None:
        ledger = Ledger(state_dir)
        back = int(time.time()) - 100
        ledger.write_verdicts([], "decider", {("all", "local"): back, ("any", "local"): back})
        ledger.close()

    def test_an_empty_ledger_is_refused_by_run_and_report(
        self, state_dir: Path, tmp_path: Path
    ) -> None:
        self._ledger_with_history(state_dir)
        (state_dir / LEDGER_FILE).write_bytes(b"")
        path = _config(tmp_path, state_dir, free_port())
        proc = _spawn(path)
        try:
            _, err = proc.communicate(timeout=20)
        finally:
            _stop(proc)
        assert proc.returncode == 1
        _one_clear_line(err.decode())
        assert "empty" in err.decode()
        report = _cli("report", "-c", str(path), "--month", "2026-01")
        assert report.returncode == 1
        _one_clear_line(report.stderr)

    def test_a_missing_ledger_is_refused_unless_new_ledger(self, state_dir: Path) -> None:
        self._ledger_with_history(state_dir)
        for name in os.listdir(state_dir):
            if name.startswith(LEDGER_FILE):
                (state_dir / name).unlink()
        with pytest.raises(Exception, match="missing"):
            Ledger(state_dir)
        Ledger(state_dir, new_ledger=True).close()
        Ledger(state_dir).close()  # the new one is now the directory's ledger

    def test_report_refuses_a_malformed_ledger(self, state_dir: Path, tmp_path: Path) -> None:
        from probe.model import Attempt, Role  # noqa: PLC0415

        self._ledger_with_history(state_dir)
        ledger = Ledger(state_dir)
        t0 = time.time() - 50
        ledger.record_attempts(
            Attempt(t0 + i * 0.001, "api", "health", Role.SERVICE, True, None, 0.01,
                    detail="x" * 300) for i in range(20000))
        ledger.close()
        # Zero a page near the end of the file: the attempts table, which a report never
        # reads, so only an integrity check can tell.
        data = bytearray((state_dir / LEDGER_FILE).read_bytes())
        page = 4096
        at = (len(data) // page - 20) * page
        data[at:at + page] = bytes(page)
        (state_dir / LEDGER_FILE).write_bytes(bytes(data))
        path = _config(tmp_path, state_dir, free_port())
        report = _cli("report", "-c", str(path), "--month", "2026-01")
        assert report.returncode == 1, report.stdout
        _one_clear_line(report.stderr)
        assert "malformed" in report.stderr

    def test_ledger_errors_are_one_line_in_every_command(self, tmp_path: Path) -> None:
        not_a_dir = tmp_path / "state"
        not_a_dir.write_text("a file where the state directory should be")
        path = _config(tmp_path, not_a_dir, free_port())
        for args in (["run", "-c", str(path)],
                     ["exclude", "-c", str(path), "--contract", "all", "--start",
                      "2026-01-01T00:00:00Z", "--end", "2026-01-01T01:00:00Z",
                      "--reason", "force_majeure", "--reference", "R-1"]):
            done = _cli(*args)
            assert done.returncode == 1, (args, done.stderr)
            _one_clear_line(done.stderr)
