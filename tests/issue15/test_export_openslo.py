"""Issue 15 item 9: `sla-probe export openslo`, validated against the OpenSLO v1 README's
documented fields (no OpenSLO schema package exists on PyPI: `pip download --no-deps
openslo` finds none)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from probe.cli import main

EXAMPLES = Path(__file__).parents[2] / "config" / "contracts"
NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")   # metadata.name: DNS label
SHORTHAND = re.compile(r"^[1-9]\d*[mhdwMQY]$")                 # duration-shorthand
SLO_KEYS = {"description", "service", "indicator", "indicatorRef", "timeWindow",
            "budgetingMethod", "objectives", "alertPolicies"}
OBJECTIVE_KEYS = {"displayName", "op", "value", "target", "targetPercent", "timeSliceTarget",
                  "timeSliceWindow", "indicator", "indicatorRef", "compositeWeight"}


def source_ok(node: dict[str, Any]) -> None:
    src = node["metricSource"]
    assert set(src) <= {"metricSourceRef", "type", "spec"}
    assert isinstance(src["spec"], dict)


def validate_slo(doc: dict[str, Any]) -> None:
    """The OpenSLO v1 `SLO` and inline `SLI` as the README documents them."""
    assert (doc["apiVersion"], doc["kind"]) == ("openslo/v1", "SLO")
    assert NAME.match(doc["metadata"]["name"])
    spec = doc["spec"]
    assert set(spec) <= SLO_KEYS
    assert len(spec.get("description", "")) <= 1050
    assert ("indicator" in spec) != ("indicatorRef" in spec)
    sli = spec["indicator"]
    assert NAME.match(sli["metadata"]["name"])
    ratio = sli["spec"]["ratioMetric"]
    if "raw" in ratio:
        assert ratio["rawType"] in ("success", "failure")
        assert not {"good", "bad", "total"} & set(ratio)
        source_ok(ratio["raw"])
    else:
        assert isinstance(ratio["counter"], bool)
        assert ("good" in ratio) != ("bad" in ratio)
        assert "total" in ratio
        source_ok(ratio["total"])
    [window] = spec["timeWindow"]                       # exactly one item
    assert SHORTHAND.match(window["duration"])
    assert window["isRolling"] is False
    assert "calendar" in window
    ZoneInfo(window["calendar"]["timeZone"])             # an IANA zone
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", window["calendar"]["startTime"])
    assert spec["budgetingMethod"] in ("Occurrences", "Timeslices", "RatioTimeslices")
    assert spec["objectives"]
    for obj in spec["objectives"]:
        assert set(obj) <= OBJECTIVE_KEYS
        assert ("target" in obj) != ("targetPercent" in obj)
        assert 0.0 <= obj["target"] < 1.0
        assert 0.0 < obj["timeSliceTarget"] <= 1.0        # required for Timeslices
        w = obj["timeSliceWindow"]
        assert isinstance(w, int | float) or SHORTHAND.match(w)


def export(name: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(["export", "openslo", "-c", str(EXAMPLES / f"{name}.yaml")]) == 0
    return list(yaml.safe_load_all(capsys.readouterr().out))


@pytest.mark.parametrize("name", ["securosys", "dfns", "securenvoy", "senhasegura",
                                  "thesmios"])
def test_every_seed_contract_exports_valid_slos(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    for doc in export(name, capsys):
        validate_slo(doc)


def test_dfns_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Dfns: 3 services + the Cloud Service = 4 SLOs; calendar month in America/New_York;
    Timeslices of the 1 min window; §1 API Availability 99,95 % -> target 0.9995; down rule
    `all` with a check every 10 s -> 6 attempts a window, one success makes it good ->
    timeSliceTarget 1/6 = 0.166667. senhasegura (watch-only) exports nothing."""
    docs = export("dfns", capsys)
    assert [d["spec"]["service"] for d in docs] == [
        "dfns-api", "dfns-signature", "dfns-broadcast", "dfns-cloud-service"]
    api = docs[0]["spec"]
    assert api["timeWindow"][0]["duration"] == "1M"
    assert api["timeWindow"][0]["calendar"]["timeZone"] == "America/New_York"
    assert api["budgetingMethod"] == "Timeslices"
    assert api["objectives"][0] == {"displayName": "§1 API Availability", "target": 0.9995,
                                    "timeSliceTarget": 0.166667, "timeSliceWindow": "1m"}
    assert "raw" in docs[3]["spec"]["indicator"]["spec"]["ratioMetric"]
    assert export("senhasegura", capsys) == []
