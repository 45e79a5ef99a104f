"""The seed contracts' support blocks (config/contracts/*.yaml) give the golden answers."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from probe.config import load_config
from probe.support.deadlines import notice_due, report_due, resolution_due, response_due
from probe.support.incidents import incidents_from_windows
from probe.support.model import SupportTerms
from tests.support.builders import (
    LONDON,
    NEW_YORK,
    REPO,
    SAO_PAULO,
    ZURICH,
    at,
    contract,
    example_support,
    local,
    run,
)

# The service names of config/contracts/*.yaml (issue 3), which the severity rules name.
SERVICES = {
    "securosys": ["securosys-hsmaas-signing", "securosys-tsbaas-signing"],
    "dfns": ["dfns-api", "dfns-signature", "dfns-broadcast"],
    "securenvoy": ["securenvoy-admin-portal", "securenvoy-auth-portal"],
    "senhasegura": ["senhasegura-web"],
    "thesmios": ["thesmios-credential-signing", "thesmios-verifier-api"],
}


def terms(name: str, package: str | None = None) -> SupportTerms:
    block = example_support(name)
    if package is not None:
        block["package"] = package
    return SupportTerms.model_validate(block)


class TestSupportExamples:
    @pytest.mark.parametrize("name", sorted(SERVICES))
    def test_every_seed_contract_file_carries_support_terms_naming_its_services(
        self, name: str
    ) -> None:
        config = load_config(REPO / "config" / "contracts" / f"{name}.yaml")
        [loaded] = [c for c in config.contracts if c.name == name]
        assert loaded.support is not None
        assert loaded.support.severity_rules
        assert loaded.support.unknown_services(SERVICES[name]) == []

    @pytest.mark.parametrize(("name", "package", "severity", "zone", "reported", "expected"), [
        # contract 000 SBX (8x5, 09-17 CET): P1 +8 h
        ("securosys", "SBX", "P1", ZURICH, (2026, 6, 5, 16, 30), "2026-06-08 Mon 16:30 CEST"),
        ("securosys", "SBX", "P1", ZURICH, (2026, 5, 22, 16, 30), "2026-05-26 Tue 16:30 CEST"),
        ("securosys", "SBX", "P1", ZURICH, (2026, 4, 3, 16, 30), "2026-04-07 Tue 17:00 CEST"),
        # Sechseläuten and Knabenschiessen are Securosys holidays (§2.8)
        ("securosys", "SBX", "P1", ZURICH, (2026, 9, 11, 16, 30), "2026-09-15 Tue 16:30 CEST"),
        # contract 000 ECO: P1 +2 h on 24x7, P2 +8 h in Office Hours
        ("securosys", "ECO", "P1", ZURICH, (2026, 6, 7, 2, 0), "2026-06-07 Sun 04:00 CEST"),
        ("securosys", "ECO", "P2", ZURICH, (2026, 6, 7, 2, 0), "2026-06-08 Mon 17:00 CEST"),
        # contract 003 Standard: High 4 business hours, 09-19 São Paulo
        ("senhasegura", None, "C2", SAO_PAULO, (2026, 11, 24, 18, 0),
         "2026-11-25 Wed 12:00 -03"),
        # ... the city's anniversary (25 Jan, an extra date) is no business day
        ("senhasegura", None, "C2", SAO_PAULO, (2027, 1, 22, 18, 0),
         "2027-01-26 Tue 12:00 -03"),
        # Advanced 24x7: Urgent 1 hour around the clock, but §7.9 starts a portal ticket
        # received out of hours at the next business opening "even for the S-24x7 support
        # mode" (issue 15, item 6): Sat 23:00 -> Mon 09:00 -> 10:00.
        ("senhasegura", "advanced_24x7", "C1", SAO_PAULO, (2026, 11, 28, 23, 0),
         "2026-11-30 Mon 10:00 -03"),
        # contract 004: P3 1 business day, P1 1 business hour
        ("thesmios", None, "P3", LONDON, (2026, 11, 25, 11, 0), "2026-11-26 Thu 11:00 GMT"),
        ("thesmios", None, "P1", LONDON, (2026, 11, 27, 16, 30), "2026-11-30 Mon 09:30 GMT"),
        ("thesmios", None, "P4", LONDON, (2026, 12, 23, 10, 0), "2026-12-30 Wed 10:00 GMT"),
        # contract 002: P1 4 hours (9x5)
        ("securenvoy", None, "P1", LONDON, (2026, 11, 27, 15, 0), "2026-11-30 Mon 11:00 GMT"),
    ])
    def test_response_due(self, name: str, package: str | None, severity: str,
                          zone: ZoneInfo, reported: tuple[int, ...], expected: str) -> None:
        due = response_due(terms(name, package), severity, at(zone, *reported))
        assert due is not None
        assert local(due, zone) == expected

    def test_dfns_promises_resolution_efforts_not_response_times(self) -> None:
        dfns = terms("dfns")
        reported = at(NEW_YORK, 2026, 11, 1, 0, 30)  # the night US clocks go back
        assert response_due(dfns, "Show Stopper", reported) is None
        assert resolution_due(dfns, "Show Stopper", reported) == reported + 24 * 3600
        assert local(resolution_due(dfns, "Critical", reported) or 0, NEW_YORK) == (
            "2026-11-04 Wed 00:30 EST")
        assert dfns.selected.resolution["Critical"].best_effort

    def test_securosys_notice_and_report_deadlines(self) -> None:
        securosys = terms("securosys")
        aware = at(ZURICH, 2026, 10, 24, 12, 0)
        assert local(notice_due(securosys, "P1", aware) or 0, ZURICH) == (
            "2026-10-25 Sun 11:00 CET")  # 24 elapsed hours across the autumn change
        assert notice_due(securosys, "P3", aware) is None  # not a material incident
        resolved = at(ZURICH, 2026, 10, 10, 15, 0)
        assert local(report_due(securosys, "P1", resolved) or 0, ZURICH) == (
            "2026-11-09 Mon 15:00 CET")  # 30 calendar days, same wall-clock time


class TestSeedIncidents:
    def test_an_eco_signing_outage_at_night_is_p1_due_two_hours_after_the_phone_call(
        self,
    ) -> None:
        con = contract("securosys", SERVICES["securosys"], example_support("securosys"),
                       timezone="Europe/Zurich")
        start = at(ZURICH, 2026, 6, 7, 1, 59)
        windows = run("securosys", "securosys-hsmaas-signing", start, "DDDDU")
        [inc] = incidents_from_windows(con, windows)
        assert inc.severity == "P1"
        assert local(inc.detected_at, ZURICH) == "2026-06-07 Sun 02:00 CEST"
        # §2.5: a P1 becomes valid with the phone call 15 minutes after the ticket
        assert local(inc.reported_at or 0, ZURICH) == "2026-06-07 Sun 02:15 CEST"
        assert local(inc.deadlines.response_due or 0, ZURICH) == "2026-06-07 Sun 04:15 CEST"
        assert local(inc.deadlines.notice_due or 0, ZURICH) == "2026-06-08 Mon 02:00 CEST"
        assert local(inc.deadlines.report_due or 0, ZURICH) == "2026-07-07 Tue 02:03 CEST"

    @pytest.mark.parametrize(("down", "severity"), [
        ({"dfns-signature"}, "Critical"),
        ({"dfns-api"}, "Show Stopper"),
        ({"dfns-signature", "dfns-broadcast"}, "Critical"),
    ])
    def test_dfns_severity_from_what_is_down(self, down: set[str], severity: str) -> None:
        con = contract("dfns", SERVICES["dfns"], example_support("dfns"))
        start = at(NEW_YORK, 2026, 6, 1, 12)
        windows = [w for s in down for w in run("dfns", s, start, "DDU")]
        assert {i.severity for i in incidents_from_windows(con, windows)} == {severity}
        assert all(i.best_effort for i in incidents_from_windows(con, windows))

    def test_thesmios_credential_signing_unavailable_is_p1(self) -> None:
        con = contract("thesmios", SERVICES["thesmios"], example_support("thesmios"))
        start = at(LONDON, 2026, 11, 25, 10)
        [inc] = incidents_from_windows(
            con, run("thesmios", "thesmios-credential-signing", start, "DDU"))
        assert inc.severity == "P1"
        assert local(inc.deadlines.response_due or 0, LONDON) == "2026-11-25 Wed 11:01 GMT"
