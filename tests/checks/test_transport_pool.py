"""`checks.transport.pool`: fresh-connection clients share one session per TLS context,
and sharing shares no state (no cookies, a new connection per attempt)."""

from __future__ import annotations

from aiohttp import web

from checks.transport import pool
from checks.transport.http import HttpClient
from checks.transport.tls import TlsOptions
from probe.clock import SystemClock
from tests.checks.conftest import StartServer


def _client(*, fresh: bool = True, verify: bool = True) -> HttpClient:
    return HttpClient(clock=SystemClock(), https=True, tls=TlsOptions(verify=verify),
                      fresh_connection=fresh)


class TestSharing:
    async def test_same_tls_shares_one_session_and_the_last_close_closes_it(self) -> None:
        a, b = _client(), _client()
        assert a._get_session() is b._get_session()
        assert pool.shared_sessions() == 1
        session = a._get_session()
        await a.aclose()
        assert not session.closed
        await b.aclose()
        assert session.closed
        assert pool.shared_sessions() == 0

    async def test_other_tls_options_get_their_own_session(self) -> None:
        a, b = _client(), _client(verify=False)
        try:
            assert a._get_session() is not b._get_session()
            assert pool.shared_sessions() == 2
        finally:
            await a.aclose()
            await b.aclose()

    async def test_a_keep_alive_client_keeps_its_own(self) -> None:
        a, b = _client(), _client(fresh=False)
        try:
            assert a._get_session() is not b._get_session()
            assert pool.shared_sessions() == 1
        finally:
            await a.aclose()
            await b.aclose()
        assert pool.shared_sessions() == 0


class TestNoSharedState:
    async def test_no_cookie_travels_between_clients_or_attempts(
        self, start_server: StartServer
    ) -> None:
        cookies: list[str | None] = []
        peers: list[object] = []

        async def handler(request: web.Request) -> web.Response:
            cookies.append(request.headers.get("Cookie"))
            peers.append(request.transport.get_extra_info("peername")
                         if request.transport else None)
            response = web.Response(text="ok")
            response.set_cookie("session", "secret")
            return response

        url = await start_server({"/x": handler})
        first = HttpClient(clock=SystemClock(), https=False, tls=TlsOptions())
        second = HttpClient(clock=SystemClock(), https=False, tls=TlsOptions())
        try:
            for client in (first, second, first):
                await client.exchange("GET", f"{url}/x", headers={})
            assert first._get_session() is second._get_session()
        finally:
            await first.aclose()
            await second.aclose()
        assert cookies == [None, None, None]
        assert len(set(peers)) == 3  # a new connection (source port) for every attempt
