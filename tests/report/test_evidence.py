"""Issue 16, item 6: every report format names, per down run or outage, the failure classes,
the first error detail (redacted) and the vantage; the CSV has `vantage` and `evidence`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from probe.config import Config
from probe.report import render
from probe.store import Ledger
from tests.report.outage import AFTER, OCTOBER, SECRET, build


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    config, _ = build(tmp_path_factory.mktemp("evidence"))
    return {fmt: _render(config, fmt) for fmt in ("json", "csv", "text", "markdown", "html")}


def _render(config: Config, fmt: str) -> str:
    reader = Ledger.reader(config.probe.state_dir)
    try:
        return render(config, reader, OCTOBER, fmt, AFTER)
    finally:
        reader.close()


def test_json_names_first_error_and_vantage(rendered: dict[str, str]) -> None:
    doc = json.loads(rendered["json"])
    api = next(o for o in doc["contracts"][0]["objectives"] if o["service"] == "dfns-api")
    [incident] = api["incidents"]
    assert incident["failure_classes"] == ["http_status", "timeout"]
    assert incident["first_failure"] == "2026-10-20T05:00:00.250Z"
    assert incident["first_failure_check"] == "list-wallets"
    assert incident["first_failure_class"] == "http_status"
    assert incident["first_error"].startswith("HTTP 503 Service Unavailable")
    assert "[REDACTED]" in incident["first_error"]
    assert incident["vantage"] == "office-nyc"
    cloud = next(o for o in doc["contracts"][0]["objectives"]
                 if o["service"] == "dfns-cloud-service")
    assert cloud["incidents"][0]["first_failure_service"] == "dfns-api"


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_human_formats_name_the_first_error(rendered: dict[str, str], fmt: str) -> None:
    page = rendered[fmt]
    assert "HTTP 503 Service Unavailable" in page
    assert "vantage office-nyc" in page
    assert "http_status, timeout" in page


def test_csv_has_vantage_and_evidence_columns(rendered: dict[str, str]) -> None:
    windows, _, _ = rendered["csv"].partition("\n\n")
    rows = list(csv.DictReader(io.StringIO(windows)))
    first = next(r for r in rows if r["service"] == "dfns-api"
                 and r["window_start"] == "2026-10-20T05:00:00Z")
    assert first["vantage"] == "office-nyc"
    assert first["evidence"].startswith("2026-10-20T05:00:00.250Z list-wallets (dfns-api) "
                                        "http_status: HTTP 503")
    later = next(r for r in rows if r["service"] == "dfns-api"
                 and r["window_start"] == "2026-10-20T05:05:00Z")
    assert "timeout: read timed out" in later["evidence"]
    up = next(r for r in rows if r["service"] == "dfns-signature"
              and r["window_start"] == "2026-10-20T05:00:00Z")
    assert up["evidence"] == ""
    assert up["vantage"] == "office-nyc"


@pytest.mark.parametrize("fmt", ["json", "csv", "text", "markdown", "html"])
def test_the_echoed_secret_never_appears(rendered: dict[str, str], fmt: str) -> None:
    import base64  # noqa: PLC0415

    page = rendered[fmt]
    assert SECRET not in page
    assert base64.b64encode(SECRET.encode()).decode() not in page


def test_outage_names_first_error(tmp_path: Path) -> None:
    """Under the `intervals` measurement each outage carries its first error too."""
    _config, path = build(tmp_path)
    text = path.read_text().replace("    down_rule: all            #",
                                    "    measurement: {method: intervals, min_length: 60s, "
                                    "rounding: floor}\n    down_rule: all            #", 1)
    path.write_text(text)
    from probe.config import load_config  # noqa: PLC0415

    doc = json.loads(_render(load_config(path), "json"))
    api = next(o for o in doc["contracts"][0]["objectives"] if o["service"] == "dfns-api")
    [outage] = api["outages"]
    assert outage["first_error"].startswith("HTTP 503")
    assert outage["vantage"] == "office-nyc"
