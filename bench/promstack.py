"""Prometheus and blackbox_exporter (the Debian packages) on free loopback ports, fresh
storage, started and stopped by the bench, never as system services."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import free_port, spawn, stop, wait_port

PROMETHEUS = shutil.which("prometheus")
BLACKBOX = shutil.which("prometheus-blackbox-exporter") or shutil.which("blackbox_exporter")


def available() -> bool:
    return PROMETHEUS is not None and BLACKBOX is not None


def blackbox_config(timeout: float, body_regex: str | None = None) -> str:
    lines = [
        "modules:",
        "  http_sla:",
        "    prober: http",
        f"    timeout: {int(timeout * 1000)}ms",
        "    http:",
        "      valid_status_codes: [200]",
        "      preferred_ip_protocol: ip4",
        "      ip_protocol_fallback: false",
    ]
    if body_regex is not None:
        lines.append(f"      fail_if_body_not_matches_regexp: [{json.dumps(body_regex)}]")
    return "\n".join(lines) + "\n"


class Blackbox:
    def __init__(self, workdir: Path, timeout: float, body_regex: str | None = None,
                 core: int | None = None) -> None:
        self.workdir = workdir
        self.timeout = timeout
        self.body_regex = body_regex
        self.core = core
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Blackbox:
        assert BLACKBOX is not None
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "blackbox.yml"
        config.write_text(blackbox_config(self.timeout, self.body_regex))
        self.port = free_port()
        self.proc = spawn(
            [BLACKBOX, f"--config.file={config}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--timeout-offset=0.05",
             "--log.level=warn"],
            core=self.core, log=self.workdir / "blackbox.log",
            env={"GOMAXPROCS": "1"} if self.core is not None else None,
        )
        wait_port(self.port, proc=self.proc)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.proc)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class Prometheus:
    """Scrapes blackbox's /probe for `target` every `interval` seconds."""

    def __init__(self, workdir: Path, blackbox_port: int, target: str, interval: float,
                 scrape_timeout: float) -> None:
        self.workdir = workdir
        self.blackbox_port = blackbox_port
        self.target = target
        self.interval = interval
        self.scrape_timeout = scrape_timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Prometheus:
        assert PROMETHEUS is not None
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(f"""\
global:
  scrape_interval: {int(self.interval * 1000)}ms
  scrape_timeout: {int(self.scrape_timeout * 1000)}ms
scrape_configs:
  - job_name: bb
    metrics_path: /probe
    params: {{module: [http_sla]}}
    static_configs: [{{targets: [{json.dumps(self.target)}]}}]
    relabel_configs:
      - {{source_labels: [__address__], target_label: __param_target}}
      - {{source_labels: [__param_target], target_label: instance}}
      - {{target_label: __address__, replacement: "127.0.0.1:{self.blackbox_port}"}}
""")
        self.port = free_port()
        self.proc = spawn(
            [PROMETHEUS, f"--config.file={config}",
             f"--storage.tsdb.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            log=self.workdir / "prometheus.log",
        )
        wait_port(self.port, 30, proc=self.proc)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.proc)

    def api(self, path: str, **params: Any) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=30) as resp:
            data = json.loads(resp.read())
        if data.get("status") != "success":
            raise RuntimeError(f"Prometheus query failed: {data}")
        return data["data"]

    def range_values(self, query: str, start: float, end: float, step: float
                     ) -> dict[float, float]:
        """{evaluation time: value} of a one-series range query."""
        data = self.api("query_range", query=query, start=f"{start:.3f}", end=f"{end:.3f}",
                        step=f"{step:g}")
        out: dict[float, float] = {}
        for series in data["result"]:
            for t, v in series["values"]:
                out[round(float(t), 3)] = float(v)
        return out
