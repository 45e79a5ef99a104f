"""What a newcomer sees from `run` and `demo` (issue 13, items 5 and 9).

Real processes on real ports: a port that is taken gives one line naming the address and
the option that chooses another; `run` on a terminal (a pseudo-terminal here) prints a line
per decided window. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import pty
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.servers import ScheduledTarget


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def read_until(fd: int, marker: bytes, limit: float) -> bytes:
    """What `fd` gave until `marker` appeared or `limit` seconds passed."""
    seen = b""
    deadline = time.monotonic() + limit
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


def sla_probe(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "probe", *argv], capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_demo_on_a_taken_port_says_so_in_one_line_and_exits_1(taken_port: int) -> None:
    proc = sla_probe("demo", "--window", "5s", "--listen", f"127.0.0.1:{taken_port}")
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert f"127.0.0.1:{taken_port}" in line
    assert "--listen" in line
    assert "Traceback" not in proc.stderr


def test_run_on_a_taken_port_names_probe_listen_with_file_and_line(
    taken_port: int, tmp_path: Path
) -> None:
    config = tmp_path / "c.yml"
    config.write_text(f"probe:\n  state_dir: {tmp_path}/s\n  listen: 127.0.0.1:{taken_port}\n"
                      "services:\n  - name: a\n"
                      '    checks: [{name: h, type: http, url: "http://127.0.0.1:9/"}]\n')
    proc = sla_probe("run", "-c", str(config))
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert f"127.0.0.1:{taken_port}" in line
    assert f"probe.listen ({config}:3)" in line


async def test_run_on_a_terminal_prints_a_line_per_decided_window(tmp_path: Path) -> None:
    async with ScheduledTarget() as target:
        config = tmp_path / "c.yml"
        config.write_text(
            f"probe: {{state_dir: '{tmp_path}/s', listen: '127.0.0.1:{free_port()}',"
            " grace: 200ms, jitter: 0.05}\n"
            "services:\n  - name: api\n"
            f"    checks: [{{name: h, type: http, url: '{target.url}', interval: 500ms,"
            " timeout: 300ms}]\n"
            "contracts:\n  - {name: c, window: 1s, objectives: [{service: api, target: 99}]}\n")
        main, child = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "probe", "run", "-c", str(config)],
                                stdin=subprocess.DEVNULL, stdout=child, stderr=child)
        os.close(child)
        try:
            # read in a thread: the target serves on this test's event loop meanwhile
            seen = await asyncio.to_thread(read_until, main, b"month to date", 60.0)
        finally:
            proc.terminate()
            proc.wait(30)
            os.close(main)
        line = next(x for x in seen.decode(errors="replace").splitlines()
                    if "month to date" in x)
        assert "  api  " in line
        assert "[c, month to date " in line
