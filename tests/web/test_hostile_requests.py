"""The web room under a newcomer's typos and a hostile client (issue 13, items 3, 4, 11).

Basic auth with a password over bcrypt's 72 bytes is a 401 (bcrypt 5 raises); the API
answers a typo'd contract, service or scope with 404/400 naming the valid values, and an
out-of-range time with a 400; the status page shows coverage and no_data beside uptime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from probe.store import Ledger
from probe.web.api import add_verdict_routes
from probe.web.status.data import build_status
from probe.web.status.html import render_status_page
from probe.web.status.routes import add_status_routes
from tests.support.builders import FixedClock
from tests.web.conftest import HASH, PASSWORD, basic, get
from tests.web.test_status import NOW, seed


async def test_a_password_over_72_bytes_is_a_401_not_a_500(serve_yaml: Any) -> None:
    url = await serve_yaml(f"basic_auth_users:\n  prometheus: '{HASH}'\n")
    for password in ("x" * 73, PASSWORD + "y" * 100, PASSWORD * 10):
        status, _headers, _body = await get(f"{url}/metrics",
                                            headers=basic("prometheus", password))
        assert status == 401
    assert (await get(f"{url}/metrics", headers=basic("prometheus", PASSWORD)))[0] == 200


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    ledger = Ledger(tmp_path)
    cfg = seed(ledger)
    reader = Ledger.reader(tmp_path)
    app = web.Application()
    add_verdict_routes(app, config=lambda: cfg, reader=reader, now=lambda: NOW)
    add_status_routes(app, lambda: cfg, lambda: ledger, FixedClock(NOW))
    async with TestClient(TestServer(app)) as client:
        yield client
    reader.close()
    ledger.close()


@pytest.mark.parametrize("query", [
    "contract=c&from=0&to=99999999999999999999",
    "contract=c&from=9223372036854775808&to=9223372036854775809",
    "contract=c&from=-1&to=10",
])
async def test_a_time_out_of_range_is_a_400(
    api: TestClient[web.Request, web.Application], query: str
) -> None:
    response = await api.get(f"/api/v1/windows?{query}")
    assert response.status == 400
    assert "epoch seconds" in (await response.json())["error"]


@pytest.mark.parametrize(("path", "status", "field", "valid"), [
    ("/api/v1/windows?contract=typo", 404, "contracts", ["c"]),
    ("/api/v1/windows?contract=c&service=typo", 404, "services", ["a", "b", "z"]),
    ("/api/v1/windows?contract=c&scope=typo", 400, "scopes", ["local", "quorum"]),
    ("/api/v1/incidents?contract=typo", 404, "contracts", ["c"]),
])
async def test_an_unknown_name_is_refused_naming_the_valid_ones(
    api: TestClient[web.Request, web.Application], path: str, status: int, field: str,
    valid: list[str],
) -> None:
    response = await api.get(path)
    assert response.status == status
    body = await response.json()
    assert body[field] == valid
    assert "typo" in body["error"] or "scope" in body["error"]


async def test_known_names_still_answer(api: TestClient[web.Request, web.Application]) -> None:
    response = await api.get(f"/api/v1/windows?contract=c&service=a&from={int(NOW) - 3600}"
                             f"&to={int(NOW)}")
    assert response.status == 200
    assert {w["service"] for w in await response.json()} == {"a"}


def test_the_status_page_shows_coverage_and_no_data_beside_uptime(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    try:
        status = build_status(seed(ledger), ledger, NOW)
    finally:
        ledger.close()
    [z] = [s for s in status["contracts"][0]["services"] if s["service"] == "z"]
    mtd = z["month_to_date"]
    # z was never measured: its uptime is vacuous, its coverage says so
    assert mtd["coverage_percent"] == 0
    assert mtd["measured_minutes"] == 0
    assert mtd["no_data_minutes"] > 0
    [a] = [s for s in status["contracts"][0]["services"] if s["service"] == "a"]
    assert 0 < a["month_to_date"]["coverage_percent"] < 1  # a few hours of 9+ days
    page = render_status_page(status)
    assert 'data-field="coverage_percent">0.00<' in page
    assert 'data-field="no_data_minutes"' in page
    assert "Coverage %" in page
