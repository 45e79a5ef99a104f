"""Issue 16, item 7: `POST /api/v1/tickets` records only behind authentication."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from probe.config import Config
from probe.store import Ledger
from probe.support.tickets import TicketEvent, tickets_from
from probe.web.guard import build_middleware
from probe.web.tickets import add_ticket_routes
from tests.contracts.builders import at
from tests.report.outage import build

OPEN = {"action": "open", "contract": "dfns", "reference": "CS-9", "severity": "Critical",
        "channel": "portal", "at": "2026-10-20T05:02:00Z"}


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[tuple[Config, Ledger]]:
    config, _ = build(tmp_path)
    ledger = Ledger(config.probe.state_dir)
    yield config, ledger
    ledger.close()


async def _client(config: Config, ledger: Ledger, authenticated: bool) -> TestClient:
    users = {"ops": bcrypt.hashpw(b"s3cret-pw", bcrypt.gensalt(4)).decode()}
    app = web.Application(middlewares=[build_middleware(
        users=users if authenticated else {}, headers={}, allowed_sans=None, rate=None)])

    async def record(event: TicketEvent) -> TicketEvent:
        return ledger.record_ticket(event)

    add_ticket_routes(app, config=lambda: config, reader=lambda: ledger, record=record,
                      now=lambda: float(at("2026-10-21 00:00")), authenticated=authenticated)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    return client


AUTH = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret-pw").decode()}


async def test_refused_without_authentication(scenario: tuple[Config, Ledger]) -> None:
    config, ledger = scenario
    client = await _client(config, ledger, authenticated=False)
    try:
        response = await client.post("/api/v1/tickets", json=OPEN)
        assert response.status == 403
        assert "authenticates" in (await response.json())["error"]
        assert ledger.ticket_events() == []
    finally:
        await client.close()


async def test_recorded_with_basic_auth(scenario: tuple[Config, Ledger]) -> None:
    config, ledger = scenario
    client = await _client(config, ledger, authenticated=True)
    try:
        assert (await client.post("/api/v1/tickets", json=OPEN)).status == 401
        response = await client.post("/api/v1/tickets", json=OPEN, headers=AUTH)
        assert response.status == 201
        body = await response.json()
        assert body["by"] == "ops"
        again = await client.post("/api/v1/tickets", json=OPEN, headers=AUTH)
        assert again.status == 409
        bad = await client.post("/api/v1/tickets", json={**OPEN, "channel": "fax",
                                                         "reference": "CS-10"}, headers=AUTH)
        assert bad.status == 400
        assert "channel" in (await bad.json())["error"]
        unknown = await client.post("/api/v1/tickets", json={**OPEN, "contract": "x"},
                                    headers=AUTH)
        assert unknown.status == 404
    finally:
        await client.close()
    [t] = tickets_from(ledger.ticket_events("dfns"))
    assert t.incident == f"dfns/dfns-api/{at('2026-10-20 05:00')}"
    assert t.channel == "portal"


@pytest.mark.parametrize(("model", "expected"), [
    ({}, False),
    ({"basic_auth_users": {"ops": "$2b$04$" + "a" * 53}}, True),
    ({"tls_server_config": {"cert": "x", "key": "y", "client_auth_type": "RequireAnyClientCert"}},
     False),
    ({"tls_server_config": {"cert": "x", "key": "y", "client_ca": "z",
                            "client_auth_type": "RequireAndVerifyClientCert"}}, True),
])
def test_authenticates(model: dict, expected: bool) -> None:  # type: ignore[type-arg]
    from probe.web.config import WebConfig, WebConfigFile  # noqa: PLC0415

    assert WebConfig(WebConfigFile.model_validate(model), Path()).authenticates is expected
