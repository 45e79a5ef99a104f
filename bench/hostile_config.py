"""Hostile config files: each refused with `file:line`, and what refusing it costs.

`python -m bench.hostile_config`: every case runs `sla-probe validate` in a fresh process
(under a 4 GB address-space limit, so a regression cannot take the machine down) and
records the exit code, the first line of the answer, the wall time and the process's peak
RSS beside an empty-config baseline (the "extra" is the difference). BENCHMARKS.md, hostile
input, lists the results; tests/test_hostile_yaml.py checks the refusals and a memory bound.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import table

LIMIT = 4 << 30


def alias_bomb(levels: int = 9, fan: int = 9) -> str:
    lines = [f"a0: &a0 [{','.join(['lol'] * fan)}]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * fan)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


CASES: dict[str, str] = {
    "baseline (a valid one-check config)": (
        "services:\n  - name: a\n    checks: [{name: h, type: http, "
        "url: 'http://127.0.0.1:9/'}]\n"),
    "alias bomb, 9 levels of 9 (9^9 nodes)": alias_bomb(),
    "alias inside its own anchor": "x: &x [1, *x]\n",
    "5,000 nested brackets": "[" * 5000 + "]" * 5000 + "\n",
    "duplicate key (peers: {b: K1, c: K2, b: K2})": "quorum:\n  peers: {b: K1, c: K2, b: K2}\n",
    "17 MiB file (sparse)": "",
}


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def run_case(name: str, text: str, workdir: Path) -> dict[str, Any]:
    path = workdir / f"case-{len(name)}.yml"
    if name.startswith("17 MiB"):
        with path.open("wb") as out:
            out.truncate(17 << 20)
    else:
        path.write_text(text)
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "probe", "validate", "-c", str(path)],
            stdout=out_file, stderr=err_file, text=True,
            preexec_fn=_limit)  # noqa: PLW1509 - a resource limit, no threads
        _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    rss = usage.ru_maxrss
    parse = _parse_seconds(path)
    answer = (err or out).splitlines()
    return {"case": name, "bytes": path.stat().st_size, "exit": proc.returncode,
            "answer": answer[0].replace(str(path), "FILE") if answer else "",
            "seconds": round(seconds, 3), "parse_ms": round(parse * 1000, 1),
            "peak_rss_mib": round(rss / 1024, 1)}


def _parse_seconds(path: Path) -> float:
    """In this (warm) process: the loader's own time, without the interpreter's start."""
    from probe.config import load_config  # noqa: PLC0415
    from probe.yamlsource import ConfigError  # noqa: PLC0415

    start = time.perf_counter()
    with contextlib.suppress(ConfigError):
        load_config(path)
    return time.perf_counter() - start


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-hostile-config-") as tmp:
        return [run_case(name, text, Path(tmp)) for name, text in CASES.items()]


def main() -> int:
    rows = run()
    print(table(["case", "bytes", "exit", "answer", "process s", "load ms", "peak RSS MiB"],
                [[r["case"], r["bytes"], r["exit"], r["answer"], r["seconds"], r["parse_ms"],
                  r["peak_rss_mib"]] for r in rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
