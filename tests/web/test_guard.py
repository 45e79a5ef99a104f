"""What the per-request keys do: client_allowed_sans (403), rate_limit (429) and the
headers, against a real server (and, for the SANs, real TLS clients)."""

from __future__ import annotations

from typing import Any

import pytest

from probe.web.guard import TokenBucket
from tests.web.conftest import HASH, PASSWORD, basic, client_context, curl, get, tls_yaml


class TestClientAllowedSans:
    @pytest.mark.parametrize("san", [
        "prometheus.example", "2001:db8::1", "ops@example.org",
        "spiffe://example.org/prometheus",
    ])
    async def test_a_certificate_naming_an_allowed_san_gets_200(
        self, serve_yaml: Any, pki: dict[str, Any], san: str
    ) -> None:
        url = await serve_yaml(tls_yaml(f"  client_allowed_sans: ['other', '{san}']\n",
                                        auth="RequireAndVerifyClientCert"))
        status, _, _ = await get(f"{url}/metrics",
                                 context=client_context(pki, pki["named_client"]))
        assert status == 200
        assert await curl(f"{url}/metrics", pki, client=pki["named_client"]) == (0, "200")

    async def test_a_certificate_without_an_allowed_san_gets_403(
        self, serve_yaml: Any, pki: dict[str, Any]
    ) -> None:
        url = await serve_yaml(tls_yaml("  client_allowed_sans: [prometheus.example]\n",
                                        auth="RequireAndVerifyClientCert"))
        status, _, body = await get(f"{url}/metrics", context=client_context(pki, pki["client"]))
        assert status == 403
        assert "SAN" in body
        assert await curl(f"{url}/-/healthy", pki, client=pki["client"]) == (0, "403")

    async def test_a_near_miss_is_not_a_match(
        self, serve_yaml: Any, pki: dict[str, Any]
    ) -> None:
        url = await serve_yaml(tls_yaml("  client_allowed_sans: [Prometheus.example, "
                                        "'2001:DB8:0:0:0:0:0:1', example.org]\n",
                                        auth="RequireAndVerifyClientCert"))
        assert await curl(f"{url}/metrics", pki, client=pki["named_client"]) == (0, "403")

    async def test_no_certificate_under_verify_if_given_gets_403(
        self, serve_yaml: Any, pki: dict[str, Any]
    ) -> None:
        url = await serve_yaml(tls_yaml("  client_allowed_sans: [prometheus.example]\n",
                                        auth="VerifyClientCertIfGiven"))
        assert await curl(f"{url}/metrics", pki) == (0, "403")


class TestRateLimit:
    async def test_a_burst_over_the_limit_gets_429(self, serve_yaml: Any) -> None:
        url = await serve_yaml("rate_limit:\n  interval: 1h\n  burst: 3\n")
        statuses = [(await get(f"{url}/metrics"))[0] for _ in range(3)]
        assert statuses == [200, 200, 200]
        status, _, body = await get(f"{url}/metrics")
        assert status == 429
        assert "Too Many Requests" in body
        assert (await get(f"{url}/-/healthy"))[0] == 429  # every path, as in exporter-toolkit

    async def test_the_limit_comes_before_basic_auth(self, serve_yaml: Any) -> None:
        url = await serve_yaml(f"rate_limit:\n  interval: 1h\n  burst: 1\n"
                               f"basic_auth_users:\n  prometheus: '{HASH}'\n")
        assert (await get(f"{url}/metrics"))[0] == 401
        assert (await get(f"{url}/metrics", headers=basic("prometheus", PASSWORD)))[0] == 429

    async def test_interval_zero_turns_it_off(self, serve_yaml: Any) -> None:
        url = await serve_yaml("rate_limit:\n  interval: 0\n  burst: 0\n")
        assert [(await get(f"{url}/metrics"))[0] for _ in range(5)] == [200] * 5

    def test_the_bucket_refills_one_token_per_interval_up_to_the_burst(self) -> None:
        now = [100.0]
        bucket = TokenBucket(2.0, 2, clock=lambda: now[0])
        assert [bucket.take() for _ in range(3)] == [True, True, False]
        now[0] += 2.0
        assert [bucket.take(), bucket.take()] == [True, False]
        now[0] += 60.0
        assert [bucket.take() for _ in range(3)] == [True, True, False]


class TestHeaders:
    async def test_configured_headers_are_sent_as_written(self, serve_yaml: Any) -> None:
        url = await serve_yaml(
            "http_server_config:\n  headers:\n    X-XSS-Protection: 1\n"
            "    X-Content-Type-Options: nosniff\n    X-Frame-Options:\n")
        status, headers, _ = await get(f"{url}/metrics")
        assert status == 200
        assert headers["X-XSS-Protection"] == "1"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "X-Frame-Options" not in headers  # blank: unset

    async def test_refusals_carry_the_headers_too(self, serve_yaml: Any) -> None:
        url = await serve_yaml(f"http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
                               f"basic_auth_users:\n  prometheus: '{HASH}'\n")
        status, headers, _ = await get(f"{url}/metrics")
        assert status == 401
        assert headers["X-Frame-Options"] == "deny"
