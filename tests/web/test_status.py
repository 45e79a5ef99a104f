from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from probe.config import Config
from probe.model import Reason, Verdict, WindowVerdict
from probe.store import Ledger
from probe.web.status.data import DailyCounts, build_status
from probe.web.status.html import render_status_page
from probe.web.status.routes import add_status_routes
from tests.realtools import free_port, require_tool
from tests.support.builders import SIMPLE_SUPPORT, ZURICH, FixedClock, at, config, contract, run

M = 60
H = 3600
NOW = at(ZURICH, 2026, 6, 10, 12, 0)  # Wednesday noon, Zurich


def seed(ledger: Ledger) -> Config:
    """Contract c (Zurich) with services a, b, z: an hour of downtime on a on 7 June, a
    resolved blip on b, an open incident on b now, and z never measured."""
    con = contract("c", ["a", "b", "z"], SIMPLE_SUPPORT, timezone="Europe/Zurich")
    ledger.write_verdicts(
        run("c", "a", at(ZURICH, 2026, 6, 7, 10), "U" + "D" * 60 + "U", classes=("timeout",))
        + run("c", "a", at(ZURICH, 2026, 3, 29, 12), "UUUU")  # the short DST day
        + run("c", "b", at(ZURICH, 2026, 6, 9, 8), "UDDU", classes=("http_status",))
        + run("c", "a", NOW - 30 * M, "U" * 30)
        + run("c", "b", NOW - 30 * M, "U" * 25 + "DDDDD", classes=("<tls>",))
        + [WindowVerdict("c", "a", int(NOW - 31 * M), 60, Verdict.EXCLUDED,
                         Reason.MAINTENANCE)]
    )
    return config(con)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(tmp_path)
    yield led
    led.close()


def service(status: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [s for s in status["contracts"][0]["services"] if s["service"] == name]
    return found


class TestBuildStatus:
    def test_state_is_the_latest_verdict(self, ledger: Ledger) -> None:
        status = build_status(seed(ledger), ledger, NOW)
        assert service(status, "a")["state"] == "up"
        assert service(status, "b")["state"] == "down"
        assert service(status, "z")["state"] == "unknown"
        assert service(status, "a")["state_window_start"] == "2026-06-10T09:59:00Z"

    def test_month_to_date_against_the_target(self, ledger: Ledger) -> None:
        mtd = service(build_status(seed(ledger), ledger, NOW), "a")["month_to_date"]
        assert mtd["minutes_in_month"] == 30 * 1440
        assert mtd["down_minutes"] == 60
        assert mtd["uptime_percent"] == pytest.approx(100 * (1 - 60 / 43200))
        assert mtd["target_met"] is False
        assert mtd["budget_minutes"] == pytest.approx(43.2)
        assert mtd["budget_remaining_minutes"] == pytest.approx(43.2 - 60)
        assert mtd["excluded_minutes"] == {"maintenance": 1.0}
        assert mtd["minutes_elapsed"] == 9 * 1440 + 12 * 60  # June 1 00:00 to June 10 12:00
        assert mtd["elapsed_uptime_percent"] == pytest.approx(100 * (1 - 60 / (9 * 1440 + 720)))

    def test_the_daily_strip_covers_90_local_days_up_to_today(self, ledger: Ledger) -> None:
        strip = {d["date"]: d for d in service(build_status(seed(ledger), ledger, NOW),
                                               "a")["daily"]}
        days = list(strip)
        assert len(days) == 90
        assert (days[0], days[-1]) == ("2026-03-13", "2026-06-10")
        assert strip["2026-06-07"]["availability_percent"] == pytest.approx(
            100 * (1 - 60 / 1440))
        assert strip["2026-06-07"]["status"] == "down"
        assert strip["2026-06-07"]["measured_minutes"] == 62
        assert strip["2026-06-08"] == {"date": "2026-06-08", "availability_percent": None,
                                       "status": "none", "minutes": 1440, "down_minutes": 0,
                                       "measured_minutes": 0}
        assert strip["2026-03-29"]["minutes"] == 1380  # clocks went forward
        assert strip["2026-03-29"]["status"] == "up"
        assert strip["2026-06-10"]["minutes"] == 720  # today, up to now

    def test_open_and_recent_incidents_with_deadlines(self, ledger: Ledger) -> None:
        incidents = build_status(seed(ledger), ledger, NOW)["contracts"][0]["incidents"]
        [current] = incidents["open"]
        assert (current["service"], current["severity"], current["state"]) == ("b", "P2", "open")
        assert current["response_due_local"] == "2026-06-11 11:56 CEST"  # 8 office hours from 11:56
        assert [(i["service"], i["start_local"]) for i in incidents["recent"]] == [
            ("a", "2026-06-07 10:01 CEST"), ("b", "2026-06-09 08:01 CEST")][::-1]
        assert service(build_status(seed(ledger), ledger, NOW), "b")["open_incidents"] == 1

    def test_projected_credit_is_the_contracts_credit_if_the_month_ended_now(
        self, ledger: Ledger,
    ) -> None:
        status = build_status(seed(ledger), ledger, NOW)
        assert service(status, "a")["projected_credit"]["status"] == "missed_no_credit_terms"
        assert service(status, "b")["projected_credit"]["status"] == "met"

    def test_the_status_is_json(self, ledger: Ledger) -> None:
        status = build_status(seed(ledger), ledger, NOW)
        assert json.loads(json.dumps(status)) == status


class TestDailyCounts:
    def test_past_days_are_counted_once(self, ledger: Ledger,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
        cfg = seed(ledger)
        calls: list[tuple[int, int]] = []
        real = ledger.month_counts

        def counting(contract: str, start: int, end: int, scope: str = "local") -> Any:
            if end - start <= 25 * 3600:  # a day of the strip (the month figures count apart)
                calls.append((start, end))
            return real(contract, start, end, scope)

        monkeypatch.setattr(ledger, "month_counts", counting)
        cache = DailyCounts()
        first = build_status(cfg, ledger, NOW, cache=cache)
        assert len(calls) == 90
        calls.clear()
        cached = build_status(cfg, ledger, NOW + M, cache=cache)
        assert calls == [(int(at(ZURICH, 2026, 6, 10)), int(at(ZURICH, 2026, 6, 11)))]  # today
        assert cached == build_status(cfg, ledger, NOW + M)
        assert first["contracts"][0]["services"][0]["daily"][-1]["date"] == "2026-06-10"

    def test_a_new_decision_about_a_past_day_is_recounted(self, ledger: Ledger) -> None:
        cfg = seed(ledger)
        cache = DailyCounts()
        before = {d["date"]: d for d in service(build_status(cfg, ledger, NOW, cache=cache),
                                                "b")["daily"]}
        assert before["2026-06-01"]["status"] == "none"
        ledger.write_verdicts(run("c", "b", at(ZURICH, 2026, 6, 1, 9), "DDDU"))
        after = {d["date"]: d for d in service(build_status(cfg, ledger, NOW, cache=cache),
                                               "b")["daily"]}
        assert after["2026-06-01"]["down_minutes"] == 3
        assert after["2026-06-01"]["status"] == "down"


class TestRenderStatusPage:
    def test_one_self_contained_page_without_scripts(self, ledger: Ledger) -> None:
        page = render_status_page(build_status(seed(ledger), ledger, NOW))
        assert page.startswith("<!doctype html>")
        for forbidden in ("<script", "src=", "href=", "@import", "url("):
            assert forbidden not in page
        assert "<style>" in page

    def test_values_from_the_network_are_escaped(self, ledger: Ledger) -> None:
        page = render_status_page(build_status(seed(ledger), ledger, NOW))
        assert "&lt;tls&gt;" in page
        assert "<tls>" not in page

    def test_a_passed_response_time_is_marked_only_while_the_incident_is_open(
        self, ledger: Ledger,
    ) -> None:
        status = build_status(seed(ledger), ledger, NOW + 2 * 86400)
        incidents = status["contracts"][0]["incidents"]
        [opened] = incidents["open"]
        assert opened["response_due_passed"] is True
        assert {i["response_due_passed"] for i in incidents["recent"]} == {True}
        rows = dict(re.findall(r'<tr data-incident="([^"]+)">(.*?)</tr>',
                               render_status_page(status)))
        assert 'class="passed" data-field="response_due_local"' in rows.pop(opened["id"])
        assert len(rows) == len(incidents["recent"]) == 2
        assert not any('class="passed"' in row for row in rows.values())

    def test_without_contracts_the_page_says_so(self, ledger: Ledger) -> None:
        page = render_status_page({"generated_at": "2026-06-10T10:00:00Z", "contracts": []})
        assert "No contracts configured." in page


@pytest.fixture
async def client(ledger: Ledger) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    cfg = seed(ledger)
    app = web.Application()
    add_status_routes(app, lambda: cfg, lambda: ledger, FixedClock(NOW))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


class TestStatusRoutes:
    async def test_the_page_is_html(self, client: TestClient[web.Request, web.Application]) -> None:
        response = await client.get("/")
        assert response.status == 200
        assert response.content_type == "text/html"
        assert response.headers["Cache-Control"] == "no-store"
        assert "Service level status" in await response.text()

    async def test_the_quorum_scope_reads_quorum_verdicts(
        self, client: TestClient[web.Request, web.Application], ledger: Ledger,
    ) -> None:
        ledger.write_verdicts([dataclasses.replace(w, scope="quorum")
                               for w in run("c", "a", NOW - 3 * M, "UDD")])
        body = await (await client.get("/api/v1/status?scope=quorum")).json()
        assert body["scope"] == "quorum"
        [a] = [s for s in body["contracts"][0]["services"] if s["service"] == "a"]
        assert a["state"] == "down"
        assert a["month_to_date"]["down_minutes"] == 2
        incidents = await (await client.get("/api/v1/incidents?scope=quorum")).json()
        assert [i["service"] for i in incidents["incidents"]] == ["a"]

    async def test_status_json_is_build_status(
        self, client: TestClient[web.Request, web.Application], ledger: Ledger,
    ) -> None:
        response = await client.get("/api/v1/status")
        assert response.status == 200
        assert await response.json() == build_status(seed(ledger), ledger, NOW)

    @pytest.mark.parametrize(("query", "services"), [
        ("", ["b", "a", "b"]),                       # this month, each contract's zone
        ("?month=2026-06&contract=c", ["b", "a", "b"]),
        ("?month=2026-05", []),
    ])
    async def test_incidents_json(self, client: TestClient[web.Request, web.Application],
                                  query: str, services: list[str]) -> None:
        response = await client.get("/api/v1/incidents" + query)
        assert response.status == 200
        body = await response.json()
        assert sorted(i["service"] for i in body["incidents"]) == sorted(services)

    @pytest.mark.parametrize(("path", "status"), [
        ("/api/v1/incidents?month=June", 400),
        ("/api/v1/incidents?contract=nope", 404),
        ("/api/v1/incidents?scope=everywhere", 400),
        ("/api/v1/status?scope=everywhere", 400),
        ("/?scope=everywhere", 400),
    ])
    async def test_bad_queries(self, client: TestClient[web.Request, web.Application],
                               path: str, status: int) -> None:
        response = await client.get(path)
        assert response.status == status
        assert "error" in await response.json()

    @pytest.mark.parametrize("path", ["/", "/api/v1/status", "/api/v1/incidents"])
    async def test_no_ledger_yet_is_503(self, path: str) -> None:
        app = web.Application()
        add_status_routes(app, lambda: Config.model_validate({"services": []}),
                          lambda: None, FixedClock(NOW))
        async with TestClient(TestServer(app)) as test_client:
            response = await test_client.get(path)
            assert response.status == 503


class Cells(HTMLParser):
    """Text of every `data-field` element, keyed by its row (service or incident), plus the
    daily strip's `data-availability` per service and date."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self.strip: dict[tuple[str, str], str] = {}
        self._row = ""
        self._strip = ""
        self._field: str | None = None
        self._depth = 0
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-service" in a:
            self._row = f"{a['data-contract']}/{a['data-service']}"
        elif tag == "tr" and "data-incident" in a:
            self._row = a["data-incident"]
        if "strip" in a.get("class", "").split():
            self._strip = a["data-service"]
        if "data-date" in a:
            self.strip[(self._strip, a["data-date"])] = a["data-availability"]
        if self._field is not None:
            self._depth += 1
        elif "data-field" in a:
            self._field, self._depth, self._text = a["data-field"], 1, ""

    def handle_endtag(self, tag: str) -> None:
        if self._field is not None:
            self._depth -= 1
            if self._depth == 0:
                self.cells[(self._row, self._field)] = " ".join(self._text.split())
                self._field = None

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self._text += data


@pytest.mark.real
class TestStatusPageInBrowser:
    async def test_chromium_renders_the_page_and_its_figures_equal_the_json(
        self, ledger: Ledger, tmp_path: Path,
    ) -> None:
        chromium = require_tool("chromium")
        cfg = seed(ledger)
        app = web.Application()
        add_status_routes(app, lambda: cfg, lambda: ledger, FixedClock(NOW))
        port = free_port()
        async with TestClient(TestServer(app, host="127.0.0.1", port=port)) as test_client:
            status = await (await test_client.get("/api/v1/status")).json()
            flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600"]
            url = f"http://127.0.0.1:{port}/"
            shot = tmp_path / "status.png"
            dom_proc = await asyncio.create_subprocess_exec(
                chromium, *flags, "--dump-dom", url,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            dom, _ = await asyncio.wait_for(dom_proc.communicate(), timeout=90)
            shot_proc = await asyncio.create_subprocess_exec(
                chromium, *flags, f"--screenshot={shot}", url,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            await asyncio.wait_for(shot_proc.communicate(), timeout=90)
        assert dom_proc.returncode == 0
        text = dom.decode()
        assert "<h1>Service level status</h1>" in text
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 10_000  # a rendered page, not a blank one

        parsed = Cells()
        parsed.feed(text)
        contract_status = status["contracts"][0]
        checked = 0
        for s in contract_status["services"]:
            row = f"c/{s['service']}"
            mtd = s["month_to_date"]
            for field, value, digits in (
                ("uptime_percent", mtd["uptime_percent"], 4),
                ("target_percent", s["target_percent"], 4),
                ("down_minutes", mtd["down_minutes"], 1),
                ("budget_remaining_minutes", mtd["budget_remaining_minutes"], 1),
            ):
                assert float(parsed.cells[(row, field)]) == pytest.approx(
                    value, abs=0.5 * 10 ** -digits), (row, field)
                checked += 1
            assert parsed.cells[(row, "open_incidents")] == str(s["open_incidents"])
            assert parsed.cells[(row, "state")].split()[0] == s["state"]
            for day in s["daily"]:
                shown = parsed.strip[(s["service"], day["date"])]
                if day["availability_percent"] is None:
                    assert shown == "\u2013"
                else:
                    assert float(shown) == pytest.approx(day["availability_percent"],
                                                          abs=5e-4)
                checked += 1
        for incident in contract_status["incidents"]["open"] + contract_status["incidents"][
                "recent"]:
            for field in ("start_local", "response_due_local", "notice_due_local"):
                expected = incident[field] or "\u2013"
                assert parsed.cells[(incident["id"], field)] == expected, field
                checked += 1
            assert float(parsed.cells[(incident["id"], "down_minutes")]) == incident[
                "down_minutes"]
        assert checked > 3 * 90
        assert re.search(r'data-field="generated_at"[^>]*>2026-06-10T10:00:00Z<', text)
