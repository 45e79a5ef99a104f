"""Issue 15 item 7: readings made visible, each with the figure under the other reading."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from probe.config import Config, load_config
from probe.contracts.accounts import month_accounts
from probe.contracts.maintenance import assess
from probe.contracts.month import Month
from probe.contracts.readings import denominator_readings, notice_readings, tier_readings
from probe.model import Verdict
from probe.report import FORMATS
from probe.report.data import build
from tests.contracts.builders import at, windows
from tests.fakes import MemoryWindows
from tests.issue15.test_maintenance_union import entry

EXAMPLES = Path(__file__).parents[2] / "config" / "contracts"
ET = "America/New_York"
OCTOBER = Month(2026, 10)
AFTER = at("2026-11-15 00:00", ET)


@functools.cache
def example(name: str) -> Config:
    return load_config(EXAMPLES / f"{name}.yaml")


def dfns_with_api_down(minutes: int, decided: int | None = None) -> MemoryWindows:
    store = MemoryWindows()
    t = at("2026-10-05 00:00", ET)
    store.write_verdicts(windows("dfns", "dfns-api", t, minutes, Verdict.DOWN))
    if decided:
        store.write_verdicts(windows("dfns", "dfns-api", t + 60 * minutes, decided - minutes,
                                     Verdict.UP))
    return store


def test_dfns_tier_truncation_beside_the_literal_row() -> None:
    """§4 "98,00% - 99,00% 3%". 445 min down in 44,640: Cloud Service uptime
    1 - 445/44640 = 99.0031 %. Taken: floor to 99.00 -> row 98,00-99,00 -> 3 %. Literal: the
    exact 99.0031 % is above 99.00, no row holds it -> no credit."""
    config = example("dfns")
    accounts = month_accounts(config, dfns_with_api_down(445), OCTOBER, AFTER)
    [r] = tier_readings(config.contracts[0], accounts)
    assert r.subject == "dfns-cloud-service"
    assert r.figure_taken.startswith("99.0031 % -> 3% of monthly fees")
    assert r.figure_other == "target missed, no row holds 99.0031 % exactly: no credit"


def test_unmeasured_minutes_calendar_against_eligible() -> None:
    """Dfns `denominator: calendar`, `no_data: exclude`. 1,000 windows decided (100 down,
    900 up), the other 43,640 minutes unmeasured. Taken: 1 - 100/44640 = 99.7760 %.
    Other (eligible): 1 - 100/(44640 - 43640) = 90.0000 %."""
    config = example("dfns")
    accounts = [a for a in month_accounts(config, dfns_with_api_down(100, 1000), OCTOBER,
                                          AFTER) if a.service == "dfns-api"]
    [r] = denominator_readings(config.contracts[0], accounts)
    assert (r.figure_taken, r.figure_other) == ("99.7760 %", "90.0000 %")


def test_notice_in_calendar_weeks_beside_elapsed_hours() -> None:
    """Securosys "announced at least 8 weeks in advance", 17 Mar 22:00 CET for 12 May 22:00
    CEST (4 h): taken (calendar weeks) valid, 0 min counted; other (elapsed, 1,343 h <
    1,344 h) invalid, 240 min counted."""
    c = example("securosys").contracts[0]
    e = [entry("m", "2026-05-12 22:00", "2026-05-13 02:00", "2026-03-17 22:00",
               "Europe/Zurich")]
    taken = assess(e, c.maintenance_rules, c.zone, 60)
    other = assess(e, c.maintenance_rules, c.zone, 60, notice_counting="elapsed")
    [r] = notice_readings(c, taken, other)
    assert (r.figure_taken, r.figure_other) == ("valid, 0 min counted",
                                                "invalid, 240 min counted")


def test_senhasegura_urgent_two_hours_business_or_clock() -> None:
    """§8 Standard 8x5 Urgent "2 Hour" (the other rows say "business hours"). C1 down Tue
    6 Oct 2026 18:00 BRT, detected 18:01. Taken (2 business hours, 09:00-19:00): 59 min
    today, 61 min from Wed 09:00 -> Wed 7 Oct 10:01 BRT = 13:01Z. Other (2 clock hours):
    20:01 BRT = 23:01Z on the 6th."""
    config = example("senhasegura")
    store = MemoryWindows()
    t = at("2026-10-06 18:00", "America/Sao_Paulo")
    store.write_verdicts(windows("senhasegura", "senhasegura-web", t, 10, Verdict.DOWN)
                         + windows("senhasegura", "senhasegura-web", t + 600, 5, Verdict.UP))
    report = build(config, store, OCTOBER, AFTER)  # type: ignore[arg-type]
    [r] = report.contracts[0].readings
    assert (r.topic, r.figure_taken, r.figure_other) == (
        "response time", "response due 2026-10-07T13:01:00Z",
        "response due 2026-10-06T23:01:00Z")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_has_a_readings_section(fmt: str) -> None:
    """Dfns, 445 min of API down: the tier reading appears in text, markdown, html, json
    and csv."""
    report = build(example("dfns"), dfns_with_api_down(445), OCTOBER,  # type: ignore[arg-type]
                   AFTER)
    out = FORMATS[fmt](report)
    marker = {"text": "readings:", "markdown": "### Readings", "html": "<h3>Readings</h3>",
              "csv": "reading_contract,topic", "json": '"readings"'}[fmt]
    assert marker in out
    assert "credit tier bounds" in out
    if fmt == "json":
        topics = {r["topic"] for r in json.loads(out)["contracts"][0]["readings"]}
        assert {"credit tier bounds", "unmeasured minutes", "overall objective",
                "what is credited"} <= topics
