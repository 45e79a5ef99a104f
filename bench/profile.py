"""py-spy profile of the daemon at 1,000 fresh-connection attempts/s (uvloop), summarized.

`python -m bench.profile` (needs `pip install py-spy` and ptrace rights): the daemon pinned
to core 0, the loopback target to core 1, 20 s of samples; prints the top leaf frames and
the share of samples per area. BENCHMARKS.md (issue 19 section) quotes one run.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PYTHON, free_port, spawn, stop, wait_port
from bench.cost import cost_config

AREAS = (
    ("aiohttp", "aiohttp client"), ("uvloop", "uvloop/transports"), ("ssl", "ssl"),
    ("probe/store", "ledger thread (store)"), ("probe/scheduler", "scheduler"),
    ("probe/pipeline", "pipeline (decider, writer)"), ("checks/", "checks"),
    ("structlog", "logging"), ("prometheus", "metrics"), ("asyncio", "asyncio"),
)


def record(seconds: int = 20, rate: int = 250) -> Path:
    work = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    tport = free_port()
    target = spawn([PYTHON, "-m", "bench.servers", "fast", "--port", str(tport), "--uvloop"],
                   core=1)
    wait_port(tport, proc=target)
    port = free_port()
    config = work / "profile.yaml"
    config.write_text(cost_config(work / "state", f"http://127.0.0.1:{tport}/health", port,
                                  1000, 1.0, 5))
    daemon = spawn([PYTHON, "-m", "probe", "run", "-c", str(config)], core=0,
                   env={"SLA_PROBE_LOOP": "uvloop"})
    raw = work / "raw.txt"
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    try:
        wait_port(port, 120, proc=daemon)
        time.sleep(6)
        subprocess.run([pyspy, "record", "-p", str(daemon.pid), "-d", str(seconds),
                        "-r", str(rate), "--nonblocking", "-f", "raw", "-o", str(raw)],
                       check=True, capture_output=True)
    finally:
        stop(daemon)
        stop(target)
    return raw


def summarize(raw: Path) -> str:
    leaves: collections.Counter[str] = collections.Counter()
    areas: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        leaves[frames[-1]] += n
        for area in {name for f in frames for key, name in AREAS if key in f}:
            areas[area] += n
    out = [f"samples: {total}", "## top leaf frames"]
    out += [f"{100 * n / total:5.1f}%  {f}" for f, n in leaves.most_common(20)]
    out.append("## by area (a sample counts once per area on its stack)")
    out += [f"{100 * n / total:5.1f}%  {a}" for a, n in areas.most_common()]
    return "\n".join(out)


if __name__ == "__main__":
    print(summarize(record()))
