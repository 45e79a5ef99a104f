"""A pack from a real daemon run, with a real local TSA, verifies; tampering is named."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from probe.cli import main
from probe.config import parse_config
from probe.daemon import Daemon
from probe.evidence.keys import PUB_FILE
from probe.store import LEDGER_FILE
from tests.evidence.tsa_server import LocalTsa
from tests.servers import ScheduledTarget, wait_until
from tests.test_daemon import W, config_text, verdicts


async def test_a_real_run_gives_a_pack_that_verifies(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    tsa = LocalTsa(tmp_path / "tsa")
    await tsa.start()
    first = math.ceil(time.time() / W) * W + W
    try:
        async with ScheduledTarget(lambda t: first + W <= t < first + 2 * W + 0.1) as target, \
                ScheduledTarget() as control:
            text = config_text(state, target.url, control.url)
            text += f"evidence: {{tsa_url: \"{tsa.url}\"}}\n"
            (tmp_path / "c.yaml").write_text(text)
            daemon = Daemon(parse_config(text), install_signals=False)
            task = asyncio.create_task(daemon.serve())
            await wait_until(lambda: first + 3 * W in verdicts(state, "all"), 30)
            assert daemon.evidence is not None
            await daemon.evidence.tick()  # what the evidence task does each minute
            assert daemon.evidence.heads_signed == 1
            assert daemon.evidence.timestamps == 1
            daemon.request_stop()
            await asyncio.wait_for(task, 10)
    finally:
        await tsa.stop()
    month = datetime.now(UTC).strftime("%Y-%m")
    out = tmp_path / "pack"
    capsys.readouterr()
    assert main(["evidence", "-c", str(tmp_path / "c.yaml"), "--contract", "all",
                 "--month", month, "--out", str(out)]) == 0
    assert "provisional pack of all" in capsys.readouterr().out
    pub = state / "evidence" / PUB_FILE
    assert main(["verify", str(out), "--key", str(pub), "--tsa-ca", str(tsa.ca)]) == 0
    printed = capsys.readouterr().out
    assert "(provisional): consistent" in printed
    assert "(checked against --tsa-ca)" in printed
    assert "0 RFC 3161" not in printed

    # a row edited directly in SQLite is named by the next verification
    conn = sqlite3.connect(state / LEDGER_FILE)
    with conn:
        conn.execute("UPDATE attempts SET ok=1, failure_class=NULL WHERE ok=0 AND id = "
                     "(SELECT MIN(id) FROM attempts WHERE ok=0 AND service='api')")
    conn.close()
    assert main(["evidence", "-c", str(tmp_path / "c.yaml"), "--contract", "all",
                 "--month", month, "--out", str(tmp_path / "again")]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "again"), "--key", str(pub)]) == 1
    assert "attempts.jsonl.gz row" in capsys.readouterr().err
