"""The month report in every format, from a ledger built with `Ledger.write_verdicts`.

The scenario is contract 001 (Dfns) in October 2026 (America/New_York, 44,640 minutes):
outages, a valid and an invalid maintenance, vantage, dependency and declared exclusions.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import pytest

from probe.cli.exclude import add_arguments as add_exclude_arguments
from probe.cli.exclude import main as cli_exclude
from probe.config import Config, load_config
from probe.contracts.exclusions import apply_exclusions
from probe.contracts.month import Month
from probe.model import Reason, Verdict, WindowVerdict
from probe.report import render
from probe.store import Ledger
from tests.contracts.builders import at, windows

EXAMPLE = Path(__file__).parents[2] / "config" / "contracts" / "dfns.yaml"
OCTOBER = Month(2026, 10)
AFTER = at("2026-11-05 12:00")
EXTRA = """
maintenance:
  - contract: dfns
    start: 2026-10-06T01:00:00-04:00
    end: 2026-10-06T03:00:00-04:00
    announced_at: 2026-09-15T12:00:00Z
    reference: MW-1
  - contract: dfns
    services: [dfns-api]
    start: 2026-10-20T05:00:00Z
    end: 2026-10-20T06:00:00Z
    announced_at: 2026-10-18T12:00:00Z
    reference: MW-2
    note: "ticket quotes the header Bearer placeholder-token by mistake"
exclusions:
  - contract: dfns
    services: [dfns-broadcast]
    start: 2026-10-25T12:00:00Z
    end: 2026-10-25T12:30:00Z
    reason: force_majeure
    reference: FM-1
    by: vendor-manager
"""


INCIDENT_FIGURES = ("start", "end", "minutes", "failure_classes", "failures", "attempts")


def decided(config: Config, verdicts: list[WindowVerdict]) -> list[WindowVerdict]:
    """What the decider writes: each fresh verdict through `apply_exclusions`."""
    return [apply_exclusions(config, v) for v in verdicts]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path]:
    tmp = tmp_path_factory.mktemp("dfns")
    text = EXAMPLE.read_text().replace("state_dir: ./state/dfns", f"state_dir: '{tmp}'")
    path = tmp / "dfns.yaml"
    path.write_text(text + EXTRA)
    config = load_config(path)
    ledger = Ledger(tmp)
    api, sig, bc = "dfns-api", "dfns-signature", "dfns-broadcast"
    verdicts = (
        windows("dfns", api, at("2026-10-10 00:00"), 500, Verdict.DOWN,
                classes=("http_status",))
        + windows("dfns", api, at("2026-10-06 05:00"), 120, Verdict.DOWN)  # MW-1, valid
        + windows("dfns", sig, at("2026-10-06 05:00"), 120, Verdict.UP)
        + windows("dfns", api, at("2026-10-20 05:00"), 60, Verdict.DOWN,   # MW-2, invalid
                  classes=("connect", "timeout"))
        + windows("dfns", api, at("2026-10-21 09:00"), 10, Verdict.EXCLUDED, Reason.VANTAGE)
        + windows("dfns", sig, at("2026-10-05 10:00"), 45, Verdict.DOWN)
        + windows("dfns", bc, at("2026-10-08 14:00"), 15, Verdict.EXCLUDED, Reason.DEPENDENCY,
                  failures=6, classes=("not_delivered",))
        + windows("dfns", bc, at("2026-10-25 12:00"), 30, Verdict.DOWN)   # FM-1
        + windows("dfns", bc, at("2026-10-27 08:00"), 20, Verdict.DOWN)   # INC-7 (CLI)
    )
    ledger.write_verdicts(decided(config, verdicts))
    ledger.close()
    parser = argparse.ArgumentParser()
    add_exclude_arguments(parser)
    assert cli_exclude(parser.parse_args([
        "-c", str(path), "--contract", "dfns", "--service", bc,
        "--start", "2026-10-27T08:00:00Z", "--end", "2026-10-27T08:20:00Z",
        "--reason", "emergency_patch", "--reference", "INC-7", "--by", "alice",
    ])) == 0
    return config, tmp


def report(scenario: tuple[Config, Path], fmt: str, now: float = AFTER) -> str:
    config, state = scenario
    reader = Ledger.reader(state)
    try:
        return render(config, reader, OCTOBER, fmt, now)
    finally:
        reader.close()


@pytest.fixture(scope="module")
def rendered(scenario: tuple[Config, Path]) -> dict[str, str]:
    """Each format rendered once for the module (a month is 3 x 44,640 windows)."""
    return {fmt: report(scenario, fmt) for fmt in ("json", "html", "csv", "text", "markdown")}


class TestJson:
    @pytest.fixture
    def doc(self, rendered: dict[str, str]) -> dict:  # type: ignore[type-arg]
        return json.loads(rendered["json"])  # type: ignore[no-any-return]

    def test_contract_facts(self, doc: dict) -> None:  # type: ignore[type-arg]
        [c] = doc["contracts"]
        assert (c["contract"], c["timezone"], c["status"]) == ("dfns", "America/New_York",
                                                               "final")
        assert (c["month_start"], c["month_end"]) == ("2026-10-01T04:00:00Z",
                                                      "2026-11-01T04:00:00Z")

    def test_api_misses_and_earns_three_percent(self, doc: dict) -> None:  # type: ignore[type-arg]
        api = doc["contracts"][0]["objectives"][0]
        incidents = api.pop("incidents")
        assert api == {
            "service": "dfns-api", "method": "minutes", "target_percent": 99.95,
            "clause": "§1 API Availability",
            "uptime_percent": 98.7455, "uptime_ratio": 1 - 560 / 44640, "met": False,
            "status": "final", "minutes_in_month": 44640, "up_minutes": 0,
            "down_minutes": 560, "downtime_minutes": 560,
            "excluded_minutes": {"maintenance": 120, "vantage": 10},
            "no_data_minutes": 44640 - 690, "pending_minutes": 0,
            "denominator_minutes": 44640, "requests": None, "failed_requests": None,
            "budget_remaining_minutes": round((1 - 560 / 44640 - 0.9995) * 44640, 4),
            "invalid_maintenance": 1, "of": [], "credited": False,
            "credit": {
                "status": "due", "unit": "percent", "amount": 3, "tier": "[98.00, 99.01)",
                "capped": False, "cap": 7, "target_missed_no_tier": False,
                "rounded_uptime_percent": "98.74", "claim_deadline": "2026-12-01T05:00:00Z",
                "claim_by": "2026-11-30", "description": "3% of monthly fees (tier [98.00, 99.01); cap 7%)",
            },
        }
        # the evidence keys (issue 16, item 6) are tested in tests/report/test_evidence.py
        assert [{k: v for k, v in i.items() if k in INCIDENT_FIGURES} for i in incidents] == [
            {"start": "2026-10-10T00:00:00Z", "end": "2026-10-10T08:20:00Z", "minutes": 500,
             "failure_classes": ["http_status"], "failures": 3000, "attempts": 3000},
            {"start": "2026-10-20T05:00:00Z", "end": "2026-10-20T06:00:00Z", "minutes": 60,
             "failure_classes": ["connect", "timeout"], "failures": 360, "attempts": 360},
        ]

    def test_signature_misses_without_a_tier(self, doc: dict) -> None:  # type: ignore[type-arg]
        sig = doc["contracts"][0]["objectives"][1]
        assert (sig["uptime_percent"], sig["down_minutes"]) == (99.8992, 45)
        assert sig["excluded_minutes"] == {"maintenance": 120}
        assert sig["credit"]["status"] == "missed_no_tier"
        assert sig["credit"]["target_missed_no_tier"] is True
        assert sig["credit"]["amount"] == 0

    def test_broadcast_exclusions_by_reason(self, doc: dict) -> None:  # type: ignore[type-arg]
        bc = doc["contracts"][0]["objectives"][2]
        assert bc["excluded_minutes"] == {"declared": 50, "dependency": 15}
        assert (bc["down_minutes"], bc["met"], bc["incidents"]) == (0, True, [])

    def test_maintenance_with_validity(self, doc: dict) -> None:  # type: ignore[type-arg]
        mw1, mw2 = doc["contracts"][0]["maintenance"]
        assert (mw1["reference"], mw1["status"], mw1["excluded_minutes"]) == ("MW-1", "valid",
                                                                              120)
        assert (mw2["reference"], mw2["status"], mw2["counted_minutes"]) == ("MW-2",
                                                                             "invalid", 60)
        assert mw2["violations"] == [{
            "rule": "min_notice", "binding": True, "counted_minutes": 60,
            "message": "announced 41h ahead, needs 14d"}]

    def test_declared_exclusions_say_who_when_why(self, doc: dict) -> None:  # type: ignore[type-arg]
        fm, inc = doc["contracts"][0]["declared_exclusions"]
        assert (fm["reference"], fm["reason"], fm["by"], fm["source"]) == (
            "FM-1", "force_majeure", "vendor-manager", "config")
        assert fm["applied_minutes"] == {"dfns-broadcast": 30}
        assert (inc["reference"], inc["reason"], inc["by"], inc["source"], inc["active"]) == (
            "INC-7", "emergency_patch", "alice", "ledger", True)
        assert inc["recorded_at"] is not None
        assert inc["applied_minutes"] == {"dfns-broadcast": 20}


class TestHtml:
    @pytest.fixture
    def page(self, rendered: dict[str, str]) -> str:
        return rendered["html"]

    @pytest.mark.parametrize(
        "fact",
        [
            "<h2>dfns <span class=badge>final</span></h2>",
            "99.95 % (minutes)",                                  # target
            "98.7455 % against 99.95 %: MISSED",                  # achieved uptime
            "<th>down minutes</th><td>560</td>",
            "130 (maintenance 120, vantage 10)",                  # excluded by reason
            "65 (declared 50, dependency 15)",
            "<th>no_data minutes</th><td>43950 (counted as exclude)</td>",
            "3% of monthly fees (tier [98.00, 99.01); cap 7%)",           # credit with tier
            "claim by 2026-11-30",                                # claim deadline
            "target missed, but no credit tier applies at 99.89 %",
            "2026-10-10T00:00:00Z</td><td>2026-10-10T08:20:00Z</td><td>500</td><td>http_status",
            "connect, timeout",
            "MW-1 (scheduled, all services)",
            ": VALID, excluded 120 min",
            ": INVALID, excluded 0 min, counted 60 min",
            "min_notice (binding): announced 41h ahead, needs 14d",
            "FM-1 (force_majeure, dfns-broadcast)",
            "declared by alice via ledger",
            "<svg viewBox=",
            'fill="#d62728"',                                     # down cells
            'fill="#1f77b4"',                                     # maintenance cells
            'fill="#ff7f0e"',                                     # dependency cells
            'fill="#9467bd"',                                     # vantage cells
            'fill="#17becf"',                                     # declared cells
            "<th>month status</th><td>final</td>",
        ],
    )
    def test_every_fact_is_on_the_page(self, page: str, fact: str) -> None:
        assert fact in page

    def test_is_self_contained(self, page: str) -> None:
        for external in ("<script", "<link", "src=", "url(", "@import", "https://"):
            assert external not in page

    def test_secrets_are_redacted(self, page: str) -> None:
        assert "placeholder-token" not in page
        assert "[REDACTED]" in page

    def test_provisional_month_says_so(self, scenario: tuple[Config, Path]) -> None:
        page = report(scenario, "html", now=at("2026-10-28 00:00"))
        assert "PROVISIONAL (month not ended)" in page
        assert 'fill="#eeeeee"' in page  # pending cells


class TestCsv:
    def test_one_row_per_ended_window(self, rendered: dict[str, str]) -> None:
        windows, _, readings = rendered["csv"].partition("\n\n")
        rows = list(csv.reader(io.StringIO(windows)))
        assert rows[0] == ["window_start", "contract", "service", "verdict", "reason",
                           "attempts", "failures", "failure_classes", "vantage", "evidence"]
        # Three services and the Cloud Service (issue 15, item 3); then the readings.
        assert len(rows) == 1 + 4 * 44640
        assert readings.startswith("reading_contract,topic,subject,clause,taken,")
        assert ["2026-10-20T05:00:00Z", "dfns", "dfns-api", "down", "", "6", "6",
                "connect;timeout", "office-nyc", ""] in rows
        assert ["2026-10-06T05:00:00Z", "dfns", "dfns-signature", "excluded", "maintenance",
                "6", "0", "", "office-nyc", ""] in rows
        assert ["2026-10-01T04:00:00Z", "dfns", "dfns-api", "no_data", "", "0", "0",
                "", "office-nyc", ""] in rows


class TestTextAndMarkdown:
    @pytest.mark.parametrize("fmt", ["text", "markdown"])
    @pytest.mark.parametrize(
        "fact",
        ["98.7455 % against 99.95 %: MISSED", "3% of monthly fees (tier [98.00, 99.01); cap 7%)",
         "no credit tier applies", "MW-2", "min_notice", "INC-7", "dependency 15", "final"],
    )
    def test_shows_the_month(self, rendered: dict[str, str], fmt: str, fact: str) -> None:
        assert fact in rendered[fmt]

    def test_unknown_format_is_refused(self, scenario: tuple[Config, Path]) -> None:
        with pytest.raises(ValueError, match="unknown report format 'pdf'"):
            report(scenario, "pdf")


class TestExampleContracts:
    """Every seed contract reports an unmeasured month without holding it against anyone."""

    @pytest.mark.parametrize("file", ["securosys", "dfns", "securenvoy", "senhasegura",
                                      "thesmios"])
    def test_empty_month_is_all_no_data(self, tmp_path: Path, file: str) -> None:
        config = load_config(EXAMPLE.parent / f"{file}.yaml")
        Ledger(tmp_path).close()
        reader = Ledger.reader(tmp_path)
        try:
            doc = json.loads(render(config, reader, Month(2027, 2), "json", at("2027-03-10 00:00")))
            text = render(config, reader, Month(2027, 2), "text", at("2027-03-10 00:00"))
        finally:
            reader.close()
        [c] = doc["contracts"]
        assert c["contract"] == file
        assert c["status"] == "final"
        for o in c["objectives"]:
            assert o["no_data_minutes"] == o["minutes_in_month"] == 40320
            assert (o["uptime_percent"], o["credit"]["status"]) == (100.0, "met")
        if file == "senhasegura":
            assert c["objectives"] == []
            assert "no availability objective (support-only contract)" in text


class TestSupportIncidents:
    """Issue 8: every format lists incidents with their severity and contractual deadlines."""

    def test_json_carries_severity_and_deadlines(self, rendered: dict[str, str]) -> None:
        [contract] = json.loads(rendered["json"])["contracts"]
        incidents = contract["support_incidents"]
        api = [i for i in incidents if i["service"] == "dfns-api"
               and i["start"] == "2026-10-10T00:00:00Z"]
        assert len(api) == 1, incidents
        assert api[0]["severity"] == "Show Stopper"
        assert api[0]["resolution_due"] == "2026-10-11T00:01:00Z"  # Dfns §7: 24 h
        assert api[0]["state"] == "resolved"

    @pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
    def test_human_formats_say_what_is_due(self, rendered: dict[str, str], fmt: str) -> None:
        assert "Show Stopper incident dfns-api 2026-10-10T00:00:00Z" in rendered[fmt]
        assert "resolution due 2026-10-11T00:01:00Z" in rendered[fmt]
