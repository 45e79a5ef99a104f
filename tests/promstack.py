"""Real Prometheus and Alertmanager on loopback for end-to-end tests, plus rule scaling.

Each server gets free ports and fresh storage under the test's tmp_path, is polled until
ready (bounded), and is stopped (SIGTERM, then SIGKILL) when the test ends. Their logs stay
in tmp_path and are attached to assertion messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.conftest import free_port

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "deploy" / "prometheus" / "rules.yml"
ALERTMANAGER_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "sla-probe.json"

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def parse_prom_duration(text: str) -> float:
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def _fmt(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


def scale_rules(text: str, factor: float) -> str:
    """The rules with every range selector `[d]` and every `for: d` multiplied by `factor`.

    With 1 s windows instead of 60 s, `factor = 1/60` keeps every burn-rate ratio and
    threshold identical while hours become seconds.
    """

    def scale_range(match: re.Match[str]) -> str:
        return f"[{_fmt(parse_prom_duration(match.group(1)) * factor)}]"

    doc = yaml.safe_load(text)
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule["expr"] = re.sub(r"\[(\d+(?:ms|s|m|h|d|w|y)(?:\d+(?:ms|s|m|h|d|w|y))*)\]",
                                  scale_range, rule["expr"])
            if "for" in rule:
                rule["for"] = _fmt(parse_prom_duration(rule["for"]) * factor)
    return yaml.safe_dump(doc, sort_keys=False)


def dashboard_queries() -> list[str]:
    """Every PromQL query of the Grafana dashboard: panel targets and variable queries."""
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            exprs.append(query["query"])
    return exprs


def as_promql(query: str, rate_interval: str = "5m") -> str:
    """A dashboard query with Grafana's variables filled in (label_values -> its selector)."""
    expr = query
    if expr.startswith("label_values("):
        expr = expr[len("label_values("):].rpartition(",")[0]
    return (expr.replace("$__rate_interval", rate_interval).replace("$__interval", "1m")
            .replace("$contract", ".*").replace("$service", ".*").replace("$scope", "local"))


class Server:
    """A real server process with its log file."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, port: int) -> None:
        self.name = name
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def logs(self, tail: int = 4000) -> str:
        try:
            return f"--- {self.name} log ---\n" + self.log.read_text(errors="replace")[-tail:]
        except OSError:
            return f"--- {self.name}: no log ---"

    async def wait_ready(self, path: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"{self.name} exited with {self.proc.returncode}\n"
                                         + self.logs())
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(self.url + path) as response:
                        if response.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name} not ready in {timeout}s\n" + self.logs())
                await asyncio.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_alertmanager(binary: str, directory: Path, config: dict[str, Any]) -> Server:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    return Server("alertmanager", [
        binary, f"--config.file={path}", f"--storage.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        "--log.level=debug",
    ], directory / "alertmanager.log", port)


def start_prometheus(binary: str, directory: Path, *, rules: str, scrape_port: int,
                     alertmanager_port: int, interval: str = "1s") -> Server:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "rules.yml").write_text(rules)
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   "scrape_timeout": interval},
        "rule_files": [str(directory / "rules.yml")],
        "alerting": {"alertmanagers": [
            {"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]},
        "scrape_configs": [{"job_name": "sla-probe",
                            "static_configs": [{"targets": [f"127.0.0.1:{scrape_port}"]}]}],
    }
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    return Server("prometheus", [
        binary, f"--config.file={path}", f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--rules.alert.resend-delay=1s",
        "--log.level=debug",
    ], directory / "prometheus.log", port)


def fast_alertmanager_config(base: dict[str, Any], webhook: str) -> dict[str, Any]:
    """The real config with test timing and every webhook pointed at `webhook`/RECEIVER."""
    config: dict[str, Any] = yaml.safe_load(yaml.safe_dump(base))

    def fast(route: dict[str, Any]) -> None:
        for key, value in (("group_wait", "0s"), ("group_interval", "1s"),
                           ("repeat_interval", "1h")):
            if key in route or route is config["route"]:
                route[key] = value
        for child in route.get("routes", []):
            fast(child)

    fast(config["route"])
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"{webhook}/{receiver['name']}"
    return config
