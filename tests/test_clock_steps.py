"""Wall-clock steps under libfaketime: the real daemon, its wall clock stepped −1.5 s, +7 s
and −60 s just after a window end while the vendor fails for 1.5 s (rule `any`).

After each, every decided window's verdict equals the one recomputed from its stored
attempts (`probe.consistency`), and the step was detected and logged. The monotonic clock
is left alone (`FAKETIME_DONT_FAKE_MONOTONIC`), as an NTP step leaves it.
"""

from __future__ import annotations

import asyncio
import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from probe.config import load_config
from probe.consistency import mismatches
from probe.store import Ledger
from tests.conftest import free_port
from tests.realtools import require_tool
from tests.servers import ScheduledTarget, wait_until
from tests.test_daemon import config_text, verdicts

W = 2


def _libfaketime() -> str:
    """Debian `faketime`'s library, or skip (fail under SLA_PROBE_REQUIRE_REAL=1)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
                   + glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    return require_tool(found[0] if found else "/usr/lib/faketime/libfaketime.so.1")


@pytest.mark.parametrize("step", [-1.5, 7.0, -60.0])
async def test_verdicts_agree_with_attempts_across_a_clock_step(
    step: float, state_dir: Path, tmp_path: Path
) -> None:
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    # History before the start (caught up as no_data): a step back lands in decided windows.
    back = int(time.time()) // W * W - 100
    ledger = Ledger(state_dir)
    ledger.write_verdicts([], "decider", {("all", "local"): back, ("any", "local"): back})
    ledger.close()
    failing_until = [0.0]  # the test's own clock is real: the vendor fails by real time
    async with ScheduledTarget(lambda t: t < failing_until[0]) as target, \
            ScheduledTarget() as control:
        path = tmp_path / "config.yaml"
        path.write_text(config_text(state_dir, target.url, control.url, free_port(), W))
        env = os.environ | {
            "LD_PRELOAD": str(_libfaketime()), "FAKETIME_TIMESTAMP_FILE": str(offset),
            "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }
        log = tmp_path / "daemon.log"
        with log.open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "probe", "run", "-c", str(path)],
                                    stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:
            await wait_until(lambda: len(verdicts(state_dir, "any")) >= 2, 30)
            # just after a window end (the daemon's clock is still the real one)
            await wait_until(lambda: 0.1 <= time.time() % W < 0.3, 10, 0.01)
            offset.write_text(f"{step:+g}\n")
            failing_until[0] = time.time() + 1.5
            await asyncio.sleep(4 * W)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    text = log.read_text()
    assert "clock_step" in text, text
    config = load_config(path)
    reader = Ledger.reader(state_dir)
    try:
        found = [m.describe() for m in mismatches(config, reader, time.time())]
    finally:
        reader.close()
    assert found == []
