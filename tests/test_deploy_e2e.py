"""End to end with the real servers: daemon -> Prometheus -> Alertmanager -> webhook.

The daemon runs as `sla-probe run -c` with 1 s windows against an aiohttp target that
goes down and recovers. Prometheus evaluates the real rules file with every range and
`for:` scaled by 1/60 (a minute becomes a second, so every ratio and threshold is the
real one), and Alertmanager routes with the real config, its webhooks pointed at a
receiver in this test.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from probe.web.app import start_site
from tests.conftest import free_port
from tests.promstack import (
    ALERTMANAGER_CONFIG,
    RULES,
    Server,
    as_promql,
    dashboard_queries,
    fast_alertmanager_config,
    parse_prom_duration,
    scale_rules,
    start_alertmanager,
    start_prometheus,
)
from tests.realtools import require_tool
from tests.servers import ScheduledTarget

pytestmark = pytest.mark.real


class WebhookReceiver:
    """Collects Alertmanager webhook notifications by receiver name."""

    def __init__(self) -> None:
        self.notifications: list[tuple[str, dict[str, Any]]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.notifications.append((request.match_info["receiver"], await request.json()))
        return web.Response(text="ok")

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/{receiver}", self.handle)
        self.runner, port = await start_site(app, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def alerts(self, receiver: str, status: str, alertname: str) -> list[dict[str, Any]]:
        return [alert for name, body in self.notifications if name == receiver
                for alert in body["alerts"]
                if alert["status"] == status and alert["labels"]["alertname"] == alertname]


async def eventually(predicate: Callable[[], bool | Awaitable[bool]], timeout: float,
                     what: str, servers: list[Server]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            logs = "\n".join(s.logs() for s in servers)
            raise AssertionError(f"not within {timeout}s: {what}\n{logs}")
        await asyncio.sleep(0.25)


@contextlib.asynccontextmanager
async def running(*servers: Server) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.stop()


def daemon_argv(config: Path) -> list[str]:
    script = Path(sys.executable).with_name("sla-probe")
    if script.exists():
        return [str(script), "run", "-c", str(config)]
    return [sys.executable, "-m", "probe", "run", "-c", str(config)]


class TestRulesScaling:
    def test_ranges_and_for_durations_shrink_but_thresholds_stay(self) -> None:
        scaled = yaml.safe_load(scale_rules(RULES.read_text(), 1 / 60))
        rules = {r.get("alert") or r["record"]: r for g in scaled["groups"] for r in g["rules"]}
        ratio_1h = rules["contract_service_scope:sla_probe_windows_down:ratio_rate1h"]["expr"]
        assert "[60s]" in ratio_1h
        assert "[1h]" not in ratio_1h
        fast = rules["SlaProbeErrorBudgetBurnFast"]
        assert parse_prom_duration(fast["for"]) == 1
        assert "14.4 *" in fast["expr"]
        assert "[4320s]" in rules["contract_service_scope:sla_probe_windows_down:ratio_rate3d"][
            "expr"]


class TestAlertReachesTheWebhook:
    async def test_outage_pages_through_alertmanager_and_resolves_after_recovery(
        self, tmp_path: Path
    ) -> None:
        prometheus_bin = require_tool("prometheus")
        alertmanager_bin = require_tool("/usr/bin/prometheus-alertmanager")
        down = False
        daemon_port = free_port()
        async with (
            WebhookReceiver() as webhook,
            ScheduledTarget(lambda _t: down) as target,
            ScheduledTarget() as control,
        ):
            config = tmp_path / "sla-probe.yml"
            config.write_text(textwrap.dedent(f"""\
                probe: {{vantage: e2e, state_dir: "{tmp_path / 'state'}",
                         listen: "127.0.0.1:{daemon_port}", grace: 300ms, jitter: 0.05}}
                services:
                  - name: signing
                    checks:
                      - {{name: health, type: http, url: "{target.url}",
                          interval: 250ms, timeout: 200ms}}
                controls:
                  - {{name: reach, type: http, url: "{control.url}",
                      interval: 250ms, timeout: 200ms}}
                contracts:
                  - {{name: vendor, window: 1s, down_rule: all,
                      objectives: [{{service: signing, target: 99.9}}]}}
                """))
            am_config = fast_alertmanager_config(
                yaml.safe_load(ALERTMANAGER_CONFIG.read_text()), webhook.url)
            alertmanager = start_alertmanager(alertmanager_bin, tmp_path / "am", am_config)
            prometheus = start_prometheus(
                prometheus_bin, tmp_path / "prom",
                rules=scale_rules(RULES.read_text(), 1 / 60),
                scrape_port=daemon_port, alertmanager_port=alertmanager.port,
            )
            daemon = Server("sla-probe", daemon_argv(config), tmp_path / "daemon.log",
                            daemon_port)
            servers = [alertmanager, prometheus, daemon]
            async with running(*servers):
                await alertmanager.wait_ready("/-/ready")
                await prometheus.wait_ready("/-/ready")
                await daemon.wait_ready("/-/ready")
                # healthy first: the recorded down ratio exists and is zero, nothing pages
                await eventually(
                    lambda: _query(prometheus, 'contract_service:sla_probe_windows_down:'
                                               'ratio_rate5m{contract="vendor"} == 0'),
                    60, "Prometheus records a zero down ratio", servers)
                await asyncio.sleep(3)
                assert webhook.alerts("sla-probe-page", "firing",
                                      "SlaProbeErrorBudgetBurnFast") == []
                down = True
                await eventually(
                    lambda: bool(webhook.alerts("sla-probe-page", "firing",
                                                "SlaProbeErrorBudgetBurnFast")),
                    90, "the fast-burn page reaches the webhook", servers)
                fired = webhook.alerts("sla-probe-page", "firing",
                                       "SlaProbeErrorBudgetBurnFast")[0]
                assert fired["labels"]["contract"] == "vendor"
                assert fired["labels"]["service"] == "signing"
                assert fired["labels"]["severity"] == "critical"
                assert fired["annotations"]["runbook_url"].endswith(
                    "#slaprobeerrorbudgetburnfast")
                await _dashboard_queries_answer(prometheus)
                down = False
                await eventually(
                    lambda: bool(webhook.alerts("sla-probe-page", "resolved",
                                                "SlaProbeErrorBudgetBurnFast")),
                    150, "the page resolves after the target recovers", servers)
        assert target.hits > 0


async def _dashboard_queries_answer(prometheus: Server) -> None:
    """Every dashboard query runs on the real Prometheus; all but credit/exclusions have data."""
    may_be_empty = ("sla_probe_month_credit", "sla_probe_month_excluded_seconds")
    empty: list[str] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for query in dashboard_queries():
            promql = as_promql(query, rate_interval="10s")
            async with session.get(f"{prometheus.url}/api/v1/query",
                                   params={"query": promql}) as response:
                body = await response.json()
            assert body["status"] == "success", (promql, body)
            if not body["data"]["result"] and not any(m in promql for m in may_be_empty):
                empty.append(promql)
    assert not empty, f"dashboard queries without data: {empty}"


async def _query(prometheus: Server, promql: str) -> bool:
    """Whether an instant query returns any series."""
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session, \
                session.get(f"{prometheus.url}/api/v1/query", params={"query": promql}) as r:
            data = await r.json()
            return bool(data["data"]["result"])
    return False


class TestAlertmanagerInhibition:
    async def test_critical_inhibits_warnings_only_where_contract_and_service_exist(
        self, tmp_path: Path
    ) -> None:
        binary = require_tool("/usr/bin/prometheus-alertmanager")
        async with WebhookReceiver() as webhook:
            config = fast_alertmanager_config(
                yaml.safe_load(ALERTMANAGER_CONFIG.read_text()), webhook.url)
            # The inhibitor learns of new alerts asynchronously: with no group_wait at all a
            # warning posted together with its critical can be sent before the critical is
            # known (production waits 30s). A short wait keeps the test about the rules.
            for route in (config["route"], *config["route"]["routes"]):
                route["group_wait"] = "2s"
            alertmanager = start_alertmanager(binary, tmp_path / "am", config)
            async with running(alertmanager):
                await alertmanager.wait_ready("/-/ready")
                alerts = [
                    {"alertname": "SlaProbeErrorBudgetBurnFast", "severity": "critical",
                     "contract": "dfns", "service": "dfns-api", "scope": "local"},
                    {"alertname": "SlaProbeErrorBudgetBurnSlow", "severity": "warning",
                     "contract": "dfns", "service": "dfns-api", "scope": "local"},
                    {"alertname": "SlaProbeMonthBudgetLow", "severity": "warning",
                     "contract": "dfns", "service": "dfns-signature", "scope": "local"},
                    {"alertname": "SlaProbeDown", "severity": "critical", "job": "sla-probe"},
                    {"alertname": "SlaProbeMaintenanceInvalid", "severity": "warning",
                     "contract": "dfns"},
                    {"alertname": "SlaProbeCreditDue", "severity": "info",
                     "contract": "dfns", "service": "dfns-api", "unit": "percent"},
                ]
                async with aiohttp.ClientSession() as session, session.post(
                    f"{alertmanager.url}/api/v2/alerts",
                    json=[{"labels": labels} for labels in alerts],
                ) as response:
                    assert response.status == 200, await response.text()
                delivered = {"SlaProbeErrorBudgetBurnFast": "sla-probe-page",
                             "SlaProbeDown": "sla-probe-page",
                             "SlaProbeMonthBudgetLow": "sla-probe-ticket",
                             "SlaProbeMaintenanceInvalid": "sla-probe-ticket",
                             "SlaProbeCreditDue": "sla-probe-info"}
                await eventually(
                    lambda: all(webhook.alerts(receiver, "firing", name)
                                for name, receiver in delivered.items()),
                    30, "every uninhibited alert reaches its receiver", [alertmanager])
                states = await _alert_states(alertmanager)
        assert states["SlaProbeErrorBudgetBurnSlow"] == "suppressed"
        assert all(states[name] == "active" for name in delivered), states
        sent = {alert["labels"]["alertname"] for _, body in webhook.notifications
                for alert in body["alerts"]}
        assert "SlaProbeErrorBudgetBurnSlow" not in sent


async def _alert_states(alertmanager: Server) -> dict[str, str]:
    async with aiohttp.ClientSession() as session, session.get(
        f"{alertmanager.url}/api/v2/alerts"
    ) as response:
        body = await response.json()
    return {a["labels"]["alertname"]: a["status"]["state"] for a in body}
