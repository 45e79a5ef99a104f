"""Issue 15 item 6: senhasegura (support only) gets windows, incidents and §8 deadlines, and
§7.9 starts the clock of an out-of-hours portal ticket at the next business opening."""

from __future__ import annotations

import functools
from pathlib import Path

from probe.config import Config, load_config
from probe.model import Attempt, Role, Verdict
from probe.pipeline import decide_range
from probe.support.incidents import read_incidents
from tests.contracts.builders import at, windows
from tests.fakes import MemoryWindows

EXAMPLES = Path(__file__).parents[2] / "config" / "contracts"
SP = "America/Sao_Paulo"
WEB = "senhasegura-web"


@functools.cache
def example() -> Config:
    return load_config(EXAMPLES / "senhasegura.yaml")


def with_package(package: str) -> Config:
    base = example()
    c = base.contracts[0]
    assert c.support is not None
    support = c.support.model_copy(update={"package": package})
    return base.model_copy(update={"contracts": [c.model_copy(update={"support": support})]})


def incident_at(config: Config, local: str) -> dict[str, object]:
    """One C1 incident: the web service down for 10 minutes from `local`, then up."""
    store = MemoryWindows()
    t = at(local, SP)
    store.write_verdicts(windows("senhasegura", WEB, t, 10, Verdict.DOWN)
                         + windows("senhasegura", WEB, t + 600, 5, Verdict.UP))
    [inc] = read_incidents(config.contracts[0], store, t - 86400, t + 86400, t + 3600)
    return inc.to_dict(t + 3600, config.contracts[0].zone)


class TestWatchOnly:
    def test_the_watched_service_is_decided(self) -> None:
        """senhasegura has no objective; `watch: [senhasegura-web]` makes the decider give
        it a verdict per window: one attempt failing in a one-minute window under `all` is
        one down window (the base decided no window at all: 0 verdicts)."""
        config = example()
        t = at("2026-10-06 10:00", SP)
        found = decide_range(config, "senhasegura", [
            Attempt(t + 5.0, WEB, "login-page", Role.SERVICE, False, "timeout", 5.0)],
            start=t, end=t + 60, now=t + 120)
        assert [(v.service, v.verdict) for v in found] == [(WEB, Verdict.DOWN)]

    def test_c1_in_business_hours_owes_a_response_in_two_business_hours(self) -> None:
        """Tue 6 Oct 2026 10:00 BRT, 10 min down -> C1 (§6 "Users are not able to log
        in"); detected 10:01 (end of the first down window); §8 Standard 8x5 Urgent "2 Hour"
        read as 2 business hours -> response due 12:01 BRT = 15:01 UTC."""
        inc = incident_at(example(), "2026-10-06 10:00")
        assert (inc["severity"], inc["response_due"]) == ("C1", "2026-10-06T15:01:00Z")


class TestPortalClock:
    def test_out_of_hours_ticket_on_24x7_starts_next_business_day(self) -> None:
        """Advanced 24x7, Urgent "1 Hour" on the 24x7 clock. Down Fri 9 Oct 2026 20:00 BRT,
        detected 20:01, outside 09:00-19:00. §7.9: the clock starts "from the first hour of
        the business day following receipt ... even for the S-24x7 support mode": Sat,
        Sun are not business days and Mon 12 Oct is a national holiday (Nossa Senhora
        Aparecida), so Tue 13 Oct 09:00 BRT; +1 h = 10:00 BRT = 13:00 UTC. (The base
        counted from 20:01: due 21:01 BRT = 00:01 UTC on the 10th.)"""
        inc = incident_at(with_package("advanced_24x7"), "2026-10-09 20:00")
        assert inc["response_due"] == "2026-10-13T13:00:00Z"

    def test_in_hours_ticket_starts_at_once(self) -> None:
        """Advanced 24x7, down Tue 6 Oct 10:00, detected 10:01 in hours: due 11:01 BRT."""
        inc = incident_at(with_package("advanced_24x7"), "2026-10-06 10:00")
        assert inc["response_due"] == "2026-10-06T14:01:00Z"
