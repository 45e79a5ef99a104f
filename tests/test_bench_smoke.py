"""The benches in their tiny mode: they run end to end and write what BENCHMARKS.md quotes.

Only the structure of the results is checked here: the figures are measurements of a shared
machine and are never asserted (run `python -m bench all` for them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_bench(which: str, out: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", which, "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data: dict[str, object] = json.loads((out / f"{which}-quick.json").read_text())
    assert {"nproc", "cpu_model", "mem_gib"} <= set(data["machine"])  # type: ignore[arg-type]
    return data


@pytest.mark.parametrize("which", ["accuracy", "cost", "resilience", "readers"])
def test_bench_runs_in_tiny_mode(which: str, tmp_path: Path) -> None:
    data = run_bench(which, tmp_path)
    if which == "accuracy":
        assert set(data["sla_probe"]) == {"all", "any", "ratio>=0.5"}  # type: ignore[arg-type]
        for rule in data["sla_probe"].values():  # type: ignore[attr-defined]
            assert set(rule["matrix"]) == {"up", "down", "excluded", "no_data"}
        assert "end_to_metrics_s" in data["freshness"]  # type: ignore[operator]
    elif which == "cost":
        side = data["side_by_side"]
        assert {"bare_aiohttp", "sla_probe"} <= set(side)  # type: ignore[arg-type]
        assert "cpu_s_per_1000" in side["sla_probe"]  # type: ignore[index]
        assert data["rate_sweep"]
        assert data["scale"]
        assert "render_json_s" in data["month_report"]  # type: ignore[operator]
    elif which == "readers":
        assert data["load"]["rows_per_client"] == [data["windows"]] * 3  # type: ignore[index]
    else:
        assert {"kill9", "hostile", "secrets"} <= set(data)
        assert "lost" in data["kill9"]  # type: ignore[operator]
        assert "occurrences" in data["secrets"]  # type: ignore[operator]


def test_poison_bench_runs_in_tiny_mode(tmp_path: Path) -> None:
    data = run_bench("poison", tmp_path)
    assert {"attack", "phases", "votes_lost", "decode_us_by_kind"} <= set(data)
    assert set(data["phases"]) == {"baseline", "attack"}  # type: ignore[arg-type]
    for phase in data["phases"].values():  # type: ignore[attr-defined]
        assert {"lag_p50_s", "lag_p99_s", "lag_max_s", "rss_peak_bytes", "votes_expected",
                "votes_stored", "votes_lost", "rejected", "rejected_by_vantage"} <= set(phase)
    assert "poison_by_kind" in data["attack"]  # type: ignore[operator]


def test_heap_bench_runs_in_tiny_mode(tmp_path: Path) -> None:
    data = run_bench("heap", tmp_path)
    assert {"checks", "heap_n", "heap_2n", "per_check_bytes"} <= set(data)
