"""The deployment artifacts under deploy/: rules, Alertmanager, systemd, Kubernetes, Grafana.

The real validators run through deploy/check.sh (one test per check, so this suite covers
what CI's static checks cover); the rest are properties of the files themselves, checked
against a real scrape of the daemon where metric names matter.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from probe.config import load_config
from tests.conftest import free_port
from tests.promstack import DASHBOARD, as_promql, dashboard_queries
from tests.realtools import require_tool

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
RULE_TESTS = sorted((DEPLOY / "prometheus" / "tests").glob("*.yml"))
RUNBOOK = REPO / "docs" / "runbook.md"
UNIT = DEPLOY / "systemd" / "sla-probe.service"
K8S = DEPLOY / "kubernetes" / "base"
RUNBOOK_BASE = "https://github.com/sla-probe/sla-probe/blob/main/docs/runbook.md#"
METRIC = re.compile(r"(?<![:\w])sla_probe_[a-z0-9_]+(?![:\w])")  # not recorded names


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def recorded_names() -> set[str]:
    doc = yaml.safe_load(RULES.read_text())
    return {r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r}


def run_check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DEPLOY / "check.sh"), *args], capture_output=True, text=True,
        timeout=300, check=False, env={**os.environ, "PYTHON": sys.executable, **(env or {})},
    )


# Exported only with a `quorum:` section (the demo has none); a real-broker test scrapes it
# (tests/quorum/test_adversary.py, TestTwins).
QUORUM_ONLY = {  # exported only by a daemon with `quorum:` (the scrape fixture has none)
    "sla_probe_quorum_duplicate_vantage", "sla_probe_quorum_outbox_oldest_age_seconds",
    "sla_probe_quorum_broker_connected", "sla_probe_quorum_rejected_total",
    "sla_probe_quorum_vantage_last_vote_timestamp_seconds",
}


@pytest.fixture(scope="module")
def scrape() -> set[str]:
    """Metric names in a real scrape of `sla-probe demo` after it decided a down window."""
    port = free_port()
    script = Path(sys.executable).with_name("sla-probe")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "probe"]
    proc = subprocess.Popen(
        [*argv, "demo", "--window", "1s", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    text = ""
    try:
        deadline = time.monotonic() + 60
        # a decided down window, not the zero-valued down counter exported from the start
        while not re.search(r'verdict="down"\} [1-9]', text):
            assert proc.poll() is None, "sla-probe demo exited"
            assert time.monotonic() < deadline, "no down window within 60s:\n" + text
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/metrics", timeout=5
                ) as response:
                    text = response.read().decode()
            except OSError:
                continue
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        # a family announced without samples (nothing excluded yet) is still exported
        names.add(family.name + ("_total" if family.type == "counter" else ""))
        names.update(sample.name for sample in family.samples)
    return names


class TestDeployCheckScript:
    @pytest.mark.real
    @pytest.mark.parametrize(("check", "tools"), [
        ("rules", ["promtool"]),
        ("alertmanager", ["amtool"]),
        ("systemd", ["systemd-analyze"]),
        ("kubernetes", ["kubectl"]),
    ])
    def test_check_passes(self, check: str, tools: list[str]) -> None:
        for tool in tools:
            require_tool(tool)
        result = run_check(check)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "all passed, 0 skipped" in result.stdout

    @pytest.mark.real
    def test_a_failing_rule_test_fails_the_script(self, tmp_path: Path) -> None:
        require_tool("promtool")
        copy = tmp_path / "repo"
        shutil.copytree(DEPLOY, copy / "deploy")
        rules = copy / "deploy" / "prometheus" / "rules.yml"
        rules.write_text(rules.read_text().replace("14.4 *", "144 *"))
        result = subprocess.run(
            ["bash", str(copy / "deploy" / "check.sh"), "rules"], capture_output=True,
            text=True, timeout=300, check=False,
        )
        assert result.returncode == 1
        assert "FAIL: promtool test rules" in result.stderr

    @pytest.mark.real
    def test_a_unit_with_a_misspelt_directive_fails_although_verify_exits_zero(
        self, tmp_path: Path
    ) -> None:
        require_tool("systemd-analyze")
        copy = tmp_path / "repo"
        shutil.copytree(DEPLOY, copy / "deploy")
        unit = copy / "deploy" / "systemd" / "sla-probe.service"
        unit.write_text(unit.read_text().replace("ProtectHome=yes", "ProtectHom=yes"))
        result = subprocess.run(
            ["bash", str(copy / "deploy" / "check.sh"), "systemd"], capture_output=True,
            text=True, timeout=300, check=False,
        )
        assert result.returncode == 1
        assert "ProtectHom" in result.stderr

    def test_unknown_check_is_a_usage_error(self) -> None:
        assert run_check("everything").returncode == 2


class TestAlertRules:
    def test_every_alert_has_severity_summary_description_and_runbook(self) -> None:
        alerts = alert_rules()
        assert len(alerts) >= 9
        for rule in alerts:
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
            annotations = rule["annotations"]
            assert annotations["summary"].strip(), rule["alert"]
            assert annotations["description"].strip(), rule["alert"]
            assert annotations["runbook_url"] == RUNBOOK_BASE + rule["alert"].lower()

    def test_every_runbook_url_has_a_section_in_the_runbook(self) -> None:
        headings = {line[3:].strip() for line in RUNBOOK.read_text().splitlines()
                    if line.startswith("## ")}
        missing = {r["alert"] for r in alert_rules()} - headings
        assert not missing, f"docs/runbook.md lacks sections for {sorted(missing)}"

    def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_keeps_it_silent(
        self,
    ) -> None:
        fires: set[str] = set()
        silent: set[str] = set()
        for path in RULE_TESTS:
            for case in yaml.safe_load(path.read_text())["tests"]:
                for check in case.get("alert_rule_test", []):
                    (fires if check.get("exp_alerts") else silent).add(check["alertname"])
        names = {r["alert"] for r in alert_rules()}
        assert names - fires == set(), "never fired in a test"
        assert names - silent == set(), "never shown silent in a test"

    def test_alerts_are_evaluated_after_the_ratios_they_read(self) -> None:
        doc = yaml.safe_load(RULES.read_text())
        for group in doc["groups"]:
            seen: set[str] = set()
            for rule in group["rules"]:
                if "record" in rule:
                    seen.add(rule["record"])
                    continue
                used = set(re.findall(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b", rule["expr"]))
                assert used <= seen, f"{rule['alert']} reads {used - seen} before recording"

    def test_rules_read_only_metrics_a_real_scrape_has(self, scrape: set[str]) -> None:
        used = {m for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]
                for m in METRIC.findall(r["expr"])}
        assert "sla_probe_windows_total" in used
        missing = used - scrape - QUORUM_ONLY
        assert not missing, f"rules read metrics the daemon does not export: {missing}"


class TestGeneratedPrometheusRule:
    def test_committed_file_equals_a_fresh_generation(self) -> None:
        generate = load_module(DEPLOY / "kubernetes" / "generate.py", "generate_rules")
        fresh = generate.render(RULES.read_text(encoding="utf-8"))
        assert (K8S / "prometheusrule.yaml").read_text(encoding="utf-8") == fresh, (
            "run deploy/kubernetes/generate.py")

    def test_generated_groups_are_the_rules_file_groups(self) -> None:
        generated = yaml.safe_load((K8S / "prometheusrule.yaml").read_text())
        assert generated["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


class TestGrafanaDashboard:
    def test_every_queried_metric_exists_in_a_real_scrape(self, scrape: set[str]) -> None:
        used = {m for expr in dashboard_queries() for m in METRIC.findall(expr)}
        assert used, "no queries found"
        missing = used - scrape
        assert not missing, f"dashboard queries metrics the daemon does not export: {missing}"

    def test_dashboard_covers_uptime_target_budget_heatmap_latency_maintenance(self) -> None:
        board = json.loads(DASHBOARD.read_text())
        kinds = {p["type"] for p in board["panels"]}
        assert "heatmap" in kinds
        text = " ".join(dashboard_queries())
        for metric in ("sla_probe_month_uptime_ratio", "sla_probe_month_target_ratio",
                       "sla_probe_month_budget_remaining_seconds", "sla_probe_windows_total",
                       "sla_probe_attempt_duration_seconds_bucket",
                       "sla_probe_maintenance_invalid"):
            assert metric in text, metric
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))

    @pytest.mark.real
    def test_every_query_is_valid_promql(self, tmp_path: Path) -> None:
        promtool = require_tool("promtool")
        rules = [{"record": f"dashboard:query:{index}", "expr": as_promql(query)}
                 for index, query in enumerate(dashboard_queries())]
        path = tmp_path / "dashboard-queries.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
        result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


class TestSystemdUnit:
    def directives(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for line in UNIT.read_text().splitlines():
            if "=" in line and not line.startswith(("#", "[")):
                key, _, value = line.partition("=")
                out.setdefault(key.strip(), []).append(value.strip())
        return out

    def test_unit_is_a_sandboxed_notify_service_with_watchdog(self) -> None:
        d = self.directives()
        assert d["Type"] == ["notify"]
        assert d["WatchdogSec"][0]
        assert d["DynamicUser"] == ["yes"]
        assert d["ProtectSystem"] == ["strict"]
        assert d["StateDirectory"] == ["sla-probe"]
        assert d["ConfigurationDirectory"] == ["sla-probe"]
        assert d["LoadCredential"][0].startswith("sla-probe:")
        assert set(d["RestrictAddressFamilies"][0].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
        after = " ".join(d["After"]).split()
        assert {"time-sync.target", "network-online.target"} <= set(after)
        assert d["CapabilityBoundingSet"] == [""]

    def test_exec_start_runs_the_daemon_on_the_configuration_directory(self) -> None:
        assert self.directives()["ExecStart"] == ["/usr/bin/sla-probe run -c %E/sla-probe/config.yml"]


class TestKubernetesBase:
    def manifest(self, name: str) -> dict[str, Any]:
        doc: dict[str, Any] = yaml.safe_load((K8S / name).read_text())
        return doc

    def test_pod_runs_non_root_read_only_without_capabilities(self) -> None:
        spec = self.manifest("statefulset.yaml")["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        (container,) = spec["containers"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]

    def test_probes_use_the_daemons_health_endpoints(self) -> None:
        spec = self.manifest("statefulset.yaml")["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
        assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"

    def test_each_replica_keeps_its_ledger_on_its_own_volume(self) -> None:
        statefulset = self.manifest("statefulset.yaml")["spec"]
        (claim,) = statefulset["volumeClaimTemplates"]
        mounts = {m["name"]: m["mountPath"]
                  for m in statefulset["template"]["spec"]["containers"][0]["volumeMounts"]}
        assert mounts[claim["metadata"]["name"]] == "/var/lib/sla-probe"
        config = yaml.safe_load((K8S / "config.yml").read_text())
        assert config["probe"]["state_dir"] == "/var/lib/sla-probe"

    def test_configmap_config_is_a_valid_daemon_config(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("POD_NAME", "sla-probe-0")
        config = load_config(K8S / "config.yml")
        assert config.probe.vantage == "sla-probe-0"
        assert config.probe.port == 9464

    def test_shard_comes_from_the_statefulset_ordinal(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        statefulset = self.manifest("statefulset.yaml")["spec"]
        env = {e["name"]: e for e in statefulset["template"]["spec"]["containers"][0]["env"]}
        assert env["SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == \
            "metadata.labels['apps.kubernetes.io/pod-index']"
        assert int(env["SHARD_COUNT"]["value"]) == statefulset["replicas"]
        monkeypatch.setenv("SHARD_INDEX", "2")
        monkeypatch.setenv("SHARD_COUNT", "3")
        config = load_config(K8S / "config.yml")
        assert (config.probe.shard.index, config.probe.shard.count) == (2, 3)

    def test_scrape_job_is_named_as_the_alerts_expect(self) -> None:
        assert self.manifest("service.yaml")["metadata"]["name"] == "sla-probe"
        monitor = self.manifest("servicemonitor.yaml")
        assert "jobLabel" not in monitor["spec"]
        assert 'job="sla-probe"' in RULES.read_text()

    def test_validator_accepts_the_base_and_rejects_a_misspelt_field(
        self, tmp_path: Path
    ) -> None:
        validate = load_module(DEPLOY / "kubernetes" / "validate.py", "validate_manifests")
        assert validate.main([str(K8S), "--no-promtool"]) == 0
        bad = tmp_path / "statefulset.yaml"
        bad.write_text((K8S / "statefulset.yaml").read_text().replace(
            "readOnlyRootFilesystem", "readOnlyRootFileSystem"))
        assert validate.main([str(bad)]) == 1
        monitor = tmp_path / "servicemonitor.yaml"
        monitor.write_text((K8S / "servicemonitor.yaml").read_text().replace(
            "interval: 15s", "interval: 15 seconds"))
        assert validate.main([str(monitor)]) == 1


class TestDockerfile:
    def test_final_stage_runs_as_a_numeric_non_root_user(self) -> None:
        lines = (REPO / "Dockerfile").read_text().splitlines()
        final = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
        users = [line.split()[1] for line in lines[final:] if line.startswith("USER ")]
        assert users
        uid = users[-1].split(":")[0]
        assert uid.isdigit()
        assert int(uid) != 0

    def test_copied_sources_exist(self) -> None:
        text = (REPO / "Dockerfile").read_text()
        for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.MULTILINE):
            for part in source.split():
                assert (REPO / part).exists(), part
