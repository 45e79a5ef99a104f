"""Issue 15, item 8: update cadences and the Dfns Support Request, worked by hand from the
clauses. Outages start on the hour; the first down window ends a minute later, which is
when the incident is detected and (no report delay) reported."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from probe.config import Config, load_config
from probe.contracts.model import ContractConfig
from probe.model import Verdict
from probe.support.cadence import update_cadence
from probe.support.deadlines import response_due
from probe.support.incidents import incidents_from_windows
from probe.support.model import SupportTerms
from tests.contracts.builders import at, windows

EXAMPLES = Path(__file__).parents[2] / "config" / "contracts"
LONDON, ZURICH, NEW_YORK = "Europe/London", "Europe/Zurich", "America/New_York"


@functools.cache
def seed(name: str) -> Config:
    return load_config(EXAMPLES / f"{name}.yaml")


def contract(name: str) -> ContractConfig:
    return seed(name).contracts[0]


def terms(name: str) -> SupportTerms:
    support = contract(name).support
    assert support is not None
    return support


def open_incident(name: str, service: str, start: str, zone: str, now: str) -> dict:  # type: ignore[type-arg]
    c = contract(name)
    [incident] = incidents_from_windows(c, windows(c.name, service, at(start, zone), 30,
                                                   Verdict.DOWN))
    return incident.to_dict(at(now, zone), terms(name).zone)


def test_securenvoy_p1_once_per_business_day() -> None:
    """SecurEnvoy "P1: 4 hours (9x5) | Once per day (business day only)". Down Mon 5 Oct
    2026 10:00 BST, reported 10:01; first response due 14:01 (4 business hours of 09-17);
    first update one business day after that, Tue 14:01 BST (13:01Z); on Wed 10:00 the
    Tuesday one has passed and the next is Wed 14:01 BST."""
    got = open_incident("securenvoy", "securenvoy-auth-portal", "2026-10-05 10:00", LONDON,
                        "2026-10-07 10:00")
    assert got["response_due"] == "2026-10-05T13:01:00Z"
    assert got["first_update_due"] == "2026-10-06T13:01:00Z"
    assert got["next_update_due"] == "2026-10-07T13:01:00Z"
    assert got["next_update_due_local"] == "2026-10-07 14:01 BST"
    assert "1 business day" in got["update_cadence"]


def test_thesmios_p1_continuous_during_business_hours() -> None:
    """Thesmios "P1 ... 1 business hour | Continuous during business hours until mitigated"
    (assumption: at least one update per business hour). Down Fri 9 Oct 16:30 BST, reported
    16:31: 29 business minutes left on Friday, so the response is due Mon 12 Oct 09:31 BST;
    updates hourly from there: 10:31, 11:31. At Mon 11:00 the next is 11:31 BST."""
    got = open_incident("thesmios", "thesmios-credential-signing", "2026-10-09 16:30", LONDON,
                        "2026-10-12 11:00")
    assert got["response_due"] == "2026-10-12T08:31:00Z"
    assert got["first_update_due"] == "2026-10-12T09:31:00Z"
    assert got["next_update_due_local"] == "2026-10-12 11:31 BST"
    assert "assumption" in got["update_cadence"]


def test_securosys_status_updates_at_reasonable_intervals() -> None:
    """Securosys §1.5 "Status updates at reasonable intervals" (assumption: every 24 h) for
    the material (P1) incident. Down Mon 5 Oct 10:00 CEST, P1 reported 10:16 (detected
    10:01 plus the 15-minute phone call), response due 12:16 (2 support hours, 24x7);
    updates at 12:16 each day after. Tue 13:00: the next is Wed 7 Oct 12:16 CEST."""
    got = open_incident("securosys", "securosys-hsmaas-signing", "2026-10-05 10:00", ZURICH,
                        "2026-10-06 13:00")
    assert got["response_due"] == "2026-10-05T10:16:00Z"
    assert got["first_update_due"] == "2026-10-06T10:16:00Z"
    assert got["next_update_due_local"] == "2026-10-07 12:16 CEST"


def test_resolved_incident_owes_no_update() -> None:
    c = contract("securenvoy")
    service = "securenvoy-auth-portal"
    rows = (windows(c.name, service, at("2026-10-05 10:00", LONDON), 5, Verdict.DOWN)
            + windows(c.name, service, at("2026-10-05 10:05", LONDON), 1, Verdict.UP))
    [incident] = incidents_from_windows(c, rows)
    assert incident.to_dict(at("2026-10-07 10:00", LONDON))["next_update_due"] is None


@pytest.mark.parametrize(("severity", "every"), [("P3", None), ("P4", None)])
def test_thesmios_without_deadline(severity: str, every: None) -> None:
    """"As status changes" and "Best effort": no update deadline, said so."""
    cadence = update_cadence(terms("thesmios"), severity)
    assert cadence is not None
    assert cadence.every is every
    assert cadence.describe().startswith("no update deadline")


def test_dfns_support_request_one_business_day() -> None:
    """Dfns §7 "Support Request 1 Business day to initial response", on New York business
    days (assumption). Asked Fri 9 Oct 2026 16:00 EDT; Mon 12 Oct is Columbus Day (a US
    federal holiday), so one business day later is Tue 13 Oct 16:00 EDT (20:00Z)."""
    due = response_due(terms("dfns"), "Support Request", at("2026-10-09 16:00", NEW_YORK))
    assert due == at("2026-10-13 16:00", NEW_YORK)


def test_dfns_outages_keep_their_fallback_severity() -> None:
    """Adding the Support Request level last must not make it the fallback severity."""
    assert terms("dfns").fallback_severity == "Beta"
