"""The web config's original behaviour: loading, basic auth, client certificates, and the
daemon's listener using it."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest

from probe.cli import main
from probe.config import parse_config
from probe.daemon import Daemon
from probe.web import guard
from probe.web.config import WebConfig, WebConfigError, load_web_config
from tests.test_daemon import config_text
from tests.web.conftest import HASH, PASSWORD, Serve, basic, client_context, get, write


class TestLoadWebConfig:
    def test_empty_file_means_plain_http_without_auth(self, tmp_path: Path) -> None:
        config = load_web_config(write(tmp_path / "web.yml", ""))
        assert config.ssl_context() is None
        assert dict(config.users) == {}

    def test_unknown_key_is_refused_with_file_and_line(self, tmp_path: Path) -> None:
        path = write(tmp_path / "web.yml", "basic_auth_users: {}\ntls_config: {}\n")
        with pytest.raises(WebConfigError) as info:
            load_web_config(path)
        assert f"{path}:2: tls_config" in str(info.value)

    def test_missing_file_is_named(self, tmp_path: Path) -> None:
        with pytest.raises(WebConfigError, match=r"absent\.yml: cannot read"):
            load_web_config(tmp_path / "absent.yml")

    def test_plain_password_instead_of_bcrypt_hash_is_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path / "web.yml", "basic_auth_users:\n  prometheus: hunter2\n")
        with pytest.raises(
            WebConfigError, match=r"web\.yml:2: basic_auth_users\.prometheus: must be a bcrypt"
        ):
            load_web_config(path)

    def test_key_file_is_required_with_cert_file(self, tmp_path: Path) -> None:
        path = write(tmp_path / "web.yml", "tls_server_config:\n  cert_file: a.crt\n")
        with pytest.raises(WebConfigError, match="key_file: required"):
            load_web_config(path)

    def test_verifying_client_auth_without_a_client_ca_uses_the_system_roots(
        self, pki: dict[str, Any]
    ) -> None:
        path = write(pki["dir"] / "web-system-roots.yml", (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  client_auth_type: RequireAndVerifyClientCert\n"))
        context = load_web_config(path).ssl_context()
        assert context is not None
        assert context.verify_mode == ssl.CERT_REQUIRED
        system = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        system.load_default_certs(ssl.Purpose.CLIENT_AUTH)
        assert context.cert_store_stats() == system.cert_store_stats()

    def test_client_ca_without_client_auth_is_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path / "web.yml", (
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n"
            "  client_ca_file: ca.crt\n"))
        with pytest.raises(WebConfigError, match="without a client_auth_type"):
            load_web_config(path)

    def test_require_any_client_cert_is_refused_not_weakened(self, tmp_path: Path) -> None:
        path = write(tmp_path / "web.yml", (
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n"
            "  client_auth_type: RequireAnyClientCert\n"))
        with pytest.raises(WebConfigError, match=r"RequireAnyClientCert.*not supported"):
            load_web_config(path)

    def test_invalid_client_auth_type_is_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path / "web.yml", (
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n"
            "  client_auth_type: Sometimes\n"))
        with pytest.raises(
            WebConfigError, match=r"web\.yml:4: tls_server_config\.client_auth_type"
        ):
            load_web_config(path)

    def test_unloadable_certificate_names_the_file(self, tmp_path: Path) -> None:
        path = write(tmp_path / "web.yml", (
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n"))
        with pytest.raises(
            WebConfigError, match=r"web\.yml:2: tls_server_config\.cert_file: .*missing\.crt"
        ):
            load_web_config(path)

    def test_relative_paths_resolve_against_the_config_directory(
        self, tmp_path: Path, pki: dict[str, Any]
    ) -> None:
        path = write(pki["dir"] / "web.yml", (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  min_version: TLS13\n"))
        context = load_web_config(path).ssl_context()
        assert context is not None
        assert context.minimum_version == ssl.TLSVersion.TLSv1_3
        assert context.verify_mode == ssl.CERT_NONE


class TestBasicAuthMiddleware:
    @pytest.fixture
    def config(self, tmp_path: Path) -> WebConfig:
        return load_web_config(write(tmp_path / "web.yml", (
            f"basic_auth_users:\n  prometheus: '{HASH}'\n"
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")))

    async def test_missing_credentials_get_401_with_basic_challenge(
        self, serve: Serve, config: WebConfig
    ) -> None:
        status, headers, _ = await get(f"{await serve(config)}/metrics")
        assert status == 401
        assert headers["WWW-Authenticate"].startswith("Basic ")

    async def test_wrong_password_gets_401(self, serve: Serve, config: WebConfig) -> None:
        status, headers, _ = await get(f"{await serve(config)}/metrics",
                                       headers=basic("prometheus", "wrong"))
        assert status == 401
        assert "WWW-Authenticate" in headers

    async def test_unknown_user_gets_401(self, serve: Serve, config: WebConfig) -> None:
        status, _, _ = await get(f"{await serve(config)}/metrics",
                                 headers=basic("mallory", PASSWORD))
        assert status == 401

    async def test_malformed_header_gets_401(self, serve: Serve, config: WebConfig) -> None:
        status, _, _ = await get(f"{await serve(config)}/metrics",
                                 headers={"Authorization": "Basic !!notbase64"})
        assert status == 401

    async def test_right_password_gets_200_and_configured_headers(
        self, serve: Serve, config: WebConfig
    ) -> None:
        status, headers, body = await get(f"{await serve(config)}/metrics",
                                          headers=basic("prometheus", PASSWORD))
        assert status == 200
        assert body.startswith("sla_probe_build_info")
        assert headers["X-Frame-Options"] == "deny"

    async def test_public_paths_skip_basic_auth(self, serve: Serve, config: WebConfig) -> None:
        status, _, _ = await get(f"{await serve(config)}/-/healthy")
        assert status == 200

    async def test_successful_check_is_cached_but_never_admits_a_wrong_password(
        self, serve: Serve, config: WebConfig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls: list[bytes] = []
        real = bcrypt.checkpw

        def counting(password: bytes, hashed: bytes) -> bool:
            calls.append(password)
            return real(password, hashed)

        monkeypatch.setattr(guard.bcrypt, "checkpw", counting)
        url = f"{await serve(config)}/metrics"
        for _ in range(3):
            assert (await get(url, headers=basic("prometheus", PASSWORD)))[0] == 200
        assert calls == [PASSWORD.encode()]
        assert (await get(url, headers=basic("prometheus", "wrong")))[0] == 401
        assert calls == [PASSWORD.encode(), b"wrong"]


class TestTLSClientAuth:
    def config(self, pki: dict[str, Any], mode: str, extra: str = "") -> WebConfig:
        return load_web_config(write(pki["dir"] / f"web-{mode}.yml", (
            f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            f"  client_ca_file: test-ca.crt\n  client_auth_type: {mode}\n{extra}")))

    async def test_trusted_client_certificate_gets_200(
        self, serve: Serve, pki: dict[str, Any]
    ) -> None:
        url = await serve(self.config(pki, "RequireAndVerifyClientCert"))
        status, _, _ = await get(f"{url}/metrics", context=client_context(pki, pki["client"]))
        assert status == 200

    async def test_untrusted_client_certificate_fails_the_handshake(
        self, serve: Serve, pki: dict[str, Any]
    ) -> None:
        url = await serve(self.config(pki, "RequireAndVerifyClientCert"))
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            await get(f"{url}/metrics", context=client_context(pki, pki["rogue_client"]))

    async def test_missing_client_certificate_fails_when_required(
        self, serve: Serve, pki: dict[str, Any]
    ) -> None:
        url = await serve(self.config(pki, "RequireAndVerifyClientCert"))
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            await get(f"{url}/metrics", context=client_context(pki))

    async def test_verify_if_given_admits_a_client_without_certificate(
        self, serve: Serve, pki: dict[str, Any]
    ) -> None:
        url = await serve(self.config(pki, "VerifyClientCertIfGiven"))
        status, _, _ = await get(f"{url}/metrics", context=client_context(pki))
        assert status == 200

    async def test_verify_if_given_still_rejects_an_untrusted_certificate(
        self, serve: Serve, pki: dict[str, Any]
    ) -> None:
        url = await serve(self.config(pki, "VerifyClientCertIfGiven"))
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            await get(f"{url}/metrics", context=client_context(pki, pki["rogue_client"]))

    async def test_client_below_min_version_fails_the_handshake(
        self, serve: Serve, pki: dict[str, Any]
    ) -> None:
        url = await serve(self.config(pki, "VerifyClientCertIfGiven", "  min_version: TLS13\n"))
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            await get(f"{url}/metrics",
                      context=client_context(pki, max_version=ssl.TLSVersion.TLSv1_2))

    async def test_tls_and_basic_auth_combine(self, serve: Serve, pki: dict[str, Any]) -> None:
        config = self.config(pki, "RequireAndVerifyClientCert",
                             f"basic_auth_users:\n  prometheus: '{HASH}'\n")
        url = await serve(config)
        context = client_context(pki, pki["client"])
        assert (await get(f"{url}/metrics", context=context))[0] == 401
        assert (await get(f"{url}/metrics", context=context,
                          headers=basic("prometheus", PASSWORD)))[0] == 200


class TestDaemonListenerUsesWebConfig:
    async def test_metrics_need_tls_and_password_while_health_needs_only_tls(
        self, tmp_path: Path, pki: dict[str, Any]
    ) -> None:
        web_yml = write(pki["dir"] / "daemon-web.yml", (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            f"basic_auth_users:\n  prometheus: '{HASH}'\n"))
        state = tmp_path / "state"
        text = config_text(state, "http://127.0.0.1:9/", "http://127.0.0.1:9/")
        config = parse_config(text)
        config = config.model_copy(update={"probe": config.probe.model_copy(
            update={"web_config_file": web_yml})})
        daemon = Daemon(config, install_signals=False)
        task = asyncio.create_task(daemon.serve())
        try:
            await asyncio.wait_for(daemon.started.wait(), 20)
            url = f"https://127.0.0.1:{daemon.bound_port}"
            context = client_context(pki)
            assert (await get(f"{url}/metrics", context=context))[0] == 401
            status, _, body = await get(f"{url}/metrics", context=context,
                                        headers=basic("prometheus", PASSWORD))
            assert status == 200
            assert "sla_probe_build_info" in body
            assert (await get(f"{url}/-/healthy", context=context))[0] == 200
            with pytest.raises(aiohttp.ClientError):
                await get(f"http://127.0.0.1:{daemon.bound_port}/metrics")
        finally:
            daemon.request_stop()
            await asyncio.wait_for(task, 20)

    def test_a_broken_web_config_stops_the_daemon_before_it_listens(
        self, tmp_path: Path
    ) -> None:
        web_yml = write(tmp_path / "web.yml", "basic_auth_users:\n  prometheus: plain\n")
        path = write(tmp_path / "config.yml",
                     config_text(tmp_path / "state", "http://127.0.0.1:9/",
                                 "http://127.0.0.1:9/"))
        assert main(["run", "-c", str(path), "--web.config.file", str(web_yml)]) == 1
        assert not (tmp_path / "state" / "ledger.sqlite3").exists()
