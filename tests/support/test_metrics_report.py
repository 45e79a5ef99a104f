from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from probe.contracts.month import Month
from probe.metrics import incident_metric_families
from probe.store import Ledger
from probe.support.report import incidents_json
from tests.support.builders import SIMPLE_SUPPORT, ZURICH, at, config, contract, run

M = 60
H = 3600
T0 = int(at(ZURICH, 2026, 6, 7, 2, 0))  # Sunday 02:00 Zurich


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(tmp_path)
    yield led
    led.close()


def samples(families: list[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in families for s in f.samples}


def key(name: str, service: str = "a", severity: str = "P1",
        contract_name: str = "c") -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, (("contract", contract_name), ("service", service), ("severity", severity)))


class TestIncidentMetricFamilies:
    def test_an_open_incident_exports_state_and_deadlines(self, ledger: Ledger) -> None:
        cfg = config(contract("c", ["a", "b"], SIMPLE_SUPPORT))
        ledger.write_verdicts(run("c", "a", T0, "UDDD") + run("c", "b", T0, "UDDD"))
        got = samples(incident_metric_families(cfg, ledger, now=T0 + 4 * M))
        since = T0 + 2 * M
        assert got[key("sla_probe_incident_open")] == 1
        assert got[key("sla_probe_incident_started_timestamp_seconds")] == T0 + M
        assert got[key("sla_probe_incident_response_due_timestamp_seconds")] == since + 2 * H
        assert got[key("sla_probe_incident_notice_due_timestamp_seconds")] == since + 24 * H
        assert key("sla_probe_incident_report_due_timestamp_seconds") not in got

    def test_a_resolved_incident_owes_its_notice_and_report_until_they_are_due(
        self, ledger: Ledger,
    ) -> None:
        cfg = config(contract("c", ["a", "b"], SIMPLE_SUPPORT))
        ledger.write_verdicts(run("c", "a", T0, "UDDU") + run("c", "b", T0, "UDDU"))
        got = samples(incident_metric_families(cfg, ledger, now=T0 + H))
        assert key("sla_probe_incident_open") not in got
        assert key("sla_probe_incident_response_due_timestamp_seconds") not in got
        assert got[key("sla_probe_incident_notice_due_timestamp_seconds")] == T0 + 2 * M + 24 * H
        report = got[key("sla_probe_incident_report_due_timestamp_seconds")]
        later = samples(incident_metric_families(cfg, ledger, now=report + 1))
        assert key("sla_probe_incident_report_due_timestamp_seconds") not in later
        assert key("sla_probe_incident_notice_due_timestamp_seconds") not in later

    def test_without_support_terms_the_severity_is_none_and_nothing_is_due(
        self, ledger: Ledger,
    ) -> None:
        cfg = config(contract("plain", ["a"]))
        ledger.write_verdicts(run("plain", "a", T0, "UDD"))
        got = samples(incident_metric_families(cfg, ledger, now=T0 + 3 * M))
        assert got == {key("sla_probe_incident_open", severity="none",
                           contract_name="plain"): 1,
                       key("sla_probe_incident_started_timestamp_seconds", severity="none",
                           contract_name="plain"): T0 + M}

    def test_an_incident_open_since_long_ago_is_still_exported(self, ledger: Ledger) -> None:
        cfg = config(contract("c", ["a", "b"], SIMPLE_SUPPORT))
        ledger.write_verdicts(run("c", "a", T0, "UDD"))  # then the daemon stopped
        got = samples(incident_metric_families(cfg, ledger, now=T0 + 90 * 86400))
        assert got[key("sla_probe_incident_open", severity="P2")] == 1

    def test_the_families_expose_as_valid_prometheus_text(self, ledger: Ledger) -> None:
        cfg = config(contract("c", ["a", "b"], SIMPLE_SUPPORT))
        ledger.write_verdicts(run("c", "a", T0, "UDDD"))
        families = incident_metric_families(cfg, ledger, now=T0 + 4 * M)

        class Collector:
            def collect(self) -> list[Metric]:
                return families

        registry = CollectorRegistry()
        registry.register(Collector())  # type: ignore[arg-type]
        text = generate_latest(registry).decode()
        names = {f.name for f in text_string_to_metric_families(text)}
        assert names == {
            "sla_probe_incident_open",
            "sla_probe_incident_started_timestamp_seconds",
            "sla_probe_incident_response_due_timestamp_seconds",
            "sla_probe_incident_resolution_due_timestamp_seconds",
            "sla_probe_incident_notice_due_timestamp_seconds",
            "sla_probe_incident_report_due_timestamp_seconds",
        }
        assert 'sla_probe_incident_open{contract="c",service="a",severity="P2"} 1.0' in text


class TestIncidentsJson:
    def test_incidents_overlapping_the_month_with_minutes_inside_it(self, ledger: Ledger) -> None:
        con = contract("c", ["a", "b"], SIMPLE_SUPPORT, timezone="Europe/Zurich")
        start, end = Month(2026, 6).bounds(ZURICH)
        # down from 23:58 on 31 May to 00:03 on 1 June (Zurich), then a June incident
        ledger.write_verdicts(run("c", "a", start - 2 * M, "DDDDDUU")
                              + run("c", "b", start + 10 * H, "DDU")
                              + run("c", "a", end + H, "DDU"))
        items = incidents_json(config(con), ledger, start, end, now=end + 2 * H)
        assert [(i["service"], i["start"], i["end"]) for i in items] == [
            ("a", "2026-05-31T21:58:00Z", "2026-05-31T22:03:00Z"),
            ("b", "2026-06-01T08:00:00Z", "2026-06-01T08:02:00Z"),
        ]
        assert [i["down_minutes"] for i in items] == [5.0, 2.0]
        assert [i["down_minutes_in_period"] for i in items] == [3.0, 2.0]
        assert items[0]["start_local"] == "2026-05-31 23:58 CEST"
        assert items[1]["severity"] == "P2"

    def test_one_contract_or_a_whole_config(self, ledger: Ledger) -> None:
        first = contract("c", ["a", "b"], SIMPLE_SUPPORT)
        second = contract("d", ["a"])
        ledger.write_verdicts(run("c", "a", T0, "DU") + run("d", "a", T0, "DU"))
        both = incidents_json(config(first, second), ledger, T0, T0 + H, T0 + H)
        assert [i["contract"] for i in both] == ["c", "d"]
        assert [i["contract"] for i in incidents_json(second, ledger, T0, T0 + H, T0 + H)] == [
            "d"]
