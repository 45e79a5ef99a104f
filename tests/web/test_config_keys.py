"""Every key of exporter-toolkit's web configuration, valid and invalid, at load.

Cases written from its docs/web-configuration.md; the handshakes and requests that show
what the accepted settings do are in test_handshakes.py and test_guard.py.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

import pytest

from probe.web.config import WebConfig, WebConfigError, load_web_config
from probe.web.tls import CIPHER_SUITES, CURVES
from tests.web.conftest import HASH, tls_yaml, write


def load(pki: dict[str, Any], text: str, name: str = "web.yml") -> WebConfig:
    return load_web_config(write(pki["dir"] / name, text))


def refused(pki: dict[str, Any], text: str, pattern: str, name: str = "bad.yml") -> str:
    with pytest.raises(WebConfigError) as info:
        load(pki, text, name)
    message = str(info.value)
    assert re.search(pattern, message), message
    return message


class TestHeaders:
    @pytest.mark.parametrize(("name", "value"), [
        ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "deny"),
        ("X-Frame-Options", "sameorigin"),
        ("X-XSS-Protection", "1; mode=block"),
        ("Content-Security-Policy", "default-src 'self'"),
    ])
    def test_each_documented_header_is_accepted(
        self, pki: dict[str, Any], name: str, value: str
    ) -> None:
        config = load(pki, f'http_server_config:\n  headers:\n    {name}: "{value}"\n')
        assert config.model.http_server_config.headers == {name: value}

    @pytest.mark.parametrize(("written", "text"), [("1", "1"), ("0", "0"), ("1.0", "1.0")])
    def test_a_number_is_read_as_the_text_written(
        self, pki: dict[str, Any], written: str, text: str
    ) -> None:
        config = load(pki, f"http_server_config:\n  headers:\n    X-XSS-Protection: {written}\n")
        assert config.model.http_server_config.headers == {"X-XSS-Protection": text}

    def test_a_blank_value_is_unset(self, pki: dict[str, Any]) -> None:
        config = load(pki, "http_server_config:\n  headers:\n    X-Frame-Options:\n"
                           "    Content-Security-Policy: ''\n")
        assert set(config.model.http_server_config.headers.values()) == {""}

    @pytest.mark.parametrize(("name", "value"), [
        ("X-Content-Type-Options", "sniff"),
        ("X-Frame-Options", "foo"),
        ("X-Frame-Options", "DENY"),
        ("X-Frame-Options", "allow-from https://example.org"),
    ])
    def test_a_value_outside_the_allowed_ones_is_refused(
        self, pki: dict[str, Any], name: str, value: str
    ) -> None:
        refused(pki, f"http_server_config:\n  headers:\n    X-XSS-Protection: 1\n"
                     f"    {name}: {value}\n",
                rf"bad\.yml:4: http_server_config\.headers\.{name}: must be")

    @pytest.mark.parametrize("name", ["Content-Type", "Server", "x-frame-options", "X-Custom"])
    def test_a_header_outside_the_list_is_refused(self, pki: dict[str, Any], name: str) -> None:
        refused(pki, f"http_server_config:\n  headers:\n    {name}: foo\n",
                rf"bad\.yml:3: http_server_config\.headers\.{name}: cannot be configured")

    def test_a_header_value_over_two_lines_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, 'http_server_config:\n  headers:\n    X-XSS-Protection: "1\\nX-A: b"\n',
                "must be one line")


class TestHttp2:
    def test_false_is_accepted_silently(self, pki: dict[str, Any]) -> None:
        assert load(pki, "http_server_config:\n  http2: false\n").notices == []

    def test_true_is_accepted_with_one_notice(self, pki: dict[str, Any]) -> None:
        notices = load(pki, "http_server_config:\n  http2: true\n").notices
        assert len(notices) == 1
        assert "web.yml:2: http_server_config.http2: true has no effect" in notices[0]

    def test_absent_says_nothing(self, pki: dict[str, Any]) -> None:
        assert load(pki, "").notices == []

    def test_a_non_boolean_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, "http_server_config:\n  http2: 'maybe'\n", r"bad\.yml:2: .*http2")


class TestClientAuthType:
    @pytest.mark.parametrize(("mode", "verify"), [
        ("NoClientCert", ssl.CERT_NONE),
        ("RequestClientCert", ssl.CERT_NONE),
        ("VerifyClientCertIfGiven", ssl.CERT_OPTIONAL),
        ("RequireAndVerifyClientCert", ssl.CERT_REQUIRED),
    ])
    def test_each_supported_type(self, pki: dict[str, Any], mode: str,
                                 verify: ssl.VerifyMode) -> None:
        ca = "  client_ca_file: test-ca.crt\n" if mode != "NoClientCert" else ""
        context = load(pki, tls_yaml(f"  client_auth_type: {mode}\n{ca}")).ssl_context()
        assert context is not None
        assert context.verify_mode == verify

    @pytest.mark.parametrize("mode", ["RequireAnyClientCert", "RequireClientCert"])
    def test_any_unverified_certificate_is_refused_with_the_way_out(
        self, pki: dict[str, Any], mode: str
    ) -> None:
        refused(pki, tls_yaml(f"  client_auth_type: {mode}\n"),
                r"bad\.yml:4: tls_server_config\.client_auth_type: .*not supported.*"
                r"RequireAndVerifyClientCert")

    def test_an_unknown_type_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, tls_yaml("  client_auth_type: Sometimes\n"),
                r"bad\.yml:4: tls_server_config\.client_auth_type: unknown")


class TestCertificatesAndKeys:
    def test_inline_cert_and_key(self, pki: dict[str, Any]) -> None:
        server = pki["server"]
        cert = _indent(server.cert.read_text())
        key = _indent(server.key.read_text())
        config = load(pki, f"tls_server_config:\n  cert: |\n{cert}  key: |\n{key}")
        assert config.ssl_context() is not None

    def test_inline_key_beside_a_cert_file(self, pki: dict[str, Any]) -> None:
        key = _indent(pki["server"].key.read_text())
        assert load(pki, f"tls_server_config:\n  cert_file: server.crt\n  key: |\n{key}") \
            .ssl_context() is not None

    def test_inline_client_ca(self, pki: dict[str, Any]) -> None:
        ca = _indent(Path(pki["ca"]).read_text())
        context = load(pki, tls_yaml(f"  client_auth_type: RequireAndVerifyClientCert\n"
                                     f"  client_ca: |\n{ca}")).ssl_context()
        assert context is not None
        assert context.cert_store_stats()["x509_ca"] == 1

    @pytest.mark.parametrize(("inline", "file"), [
        ("cert", "cert_file"), ("key", "key_file"), ("client_ca", "client_ca_file")])
    def test_inline_and_file_together_are_refused(
        self, pki: dict[str, Any], inline: str, file: str
    ) -> None:
        text = (tls_yaml("  client_auth_type: RequireAndVerifyClientCert\n"
                         "  client_ca_file: test-ca.crt\n")
                + f"  {inline}: 'x'\n")
        refused(pki, text, rf"tls_server_config\.{inline}: give {inline} .* or {file}, not both")

    def test_garbage_inline_pem_is_refused_naming_the_key(self, pki: dict[str, Any]) -> None:
        refused(pki, "tls_server_config:\n  cert: not a certificate\n  key_file: server.key\n",
                r"bad\.yml:2: tls_server_config\.cert: cannot load the certificate \(inline PEM\)")

    def test_garbage_inline_client_ca_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, tls_yaml("  client_auth_type: VerifyClientCertIfGiven\n"
                              "  client_ca: not a CA\n"),
                r"bad\.yml:5: tls_server_config\.client_ca: cannot load the client CA")

    @pytest.mark.parametrize(("text", "key"), [
        ("tls_server_config:\n  cert_file: ''\n  key_file: server.key\n", "cert_file"),
        ("tls_server_config:\n  cert: ''\n  key_file: server.key\n", "cert_file"),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: ''\n", "key_file"),
        ("tls_server_config:\n  cert_file: server.crt\n  key: ''\n", "key_file"),
    ])
    def test_a_certificate_needs_a_key_and_a_key_a_certificate(
        self, pki: dict[str, Any], text: str, key: str
    ) -> None:
        refused(pki, text, rf"tls_server_config\.{key}: required")

    def test_a_client_ca_file_relative_to_the_config_directory(
        self, pki: dict[str, Any], tmp_path: Path
    ) -> None:
        elsewhere = tmp_path / "conf"
        elsewhere.mkdir()
        for name in ("server.crt", "server.key", "test-ca.crt"):
            (elsewhere / name).write_bytes((pki["dir"] / name).read_bytes())
        path = write(elsewhere / "web.yml", tls_yaml(auth="RequireAndVerifyClientCert"))
        context = load_web_config(path).ssl_context()
        assert context is not None
        assert context.cert_store_stats()["x509_ca"] == 1

    def test_tls_settings_without_a_certificate_are_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, "tls_server_config:\n  min_version: TLS13\n",
                r"bad\.yml:2: tls_server_config\.min_version: has no effect without a "
                r"certificate")


class TestVersions:
    @pytest.mark.parametrize(("name", "version"), [
        ("TLS10", ssl.TLSVersion.TLSv1), ("TLS11", ssl.TLSVersion.TLSv1_1),
        ("TLS12", ssl.TLSVersion.TLSv1_2), ("TLS13", ssl.TLSVersion.TLSv1_3)])
    def test_each_version_as_minimum_and_maximum(
        self, pki: dict[str, Any], name: str, version: ssl.TLSVersion
    ) -> None:
        context = load(pki, tls_yaml(f"  min_version: {name}\n  max_version: {name}\n")) \
            .ssl_context()
        assert context is not None
        assert (context.minimum_version, context.maximum_version) == (version, version)

    def test_the_default_minimum_is_tls12(self, pki: dict[str, Any]) -> None:
        context = load(pki, tls_yaml()).ssl_context()
        assert context is not None
        assert context.minimum_version == ssl.TLSVersion.TLSv1_2

    def test_an_unknown_version_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, tls_yaml("  min_version: TLS111\n"),
                r"bad\.yml:4: tls_server_config\.min_version: unknown TLS version")

    def test_maximum_below_minimum_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, tls_yaml("  min_version: TLS13\n  max_version: TLS12\n"),
                r"bad\.yml:5: tls_server_config\.max_version: is below min_version")


class TestCipherSuites:
    @pytest.mark.parametrize("name", sorted(CIPHER_SUITES))
    def test_each_go_suite_is_accepted_and_offered_by_openssl(
        self, pki: dict[str, Any], name: str
    ) -> None:
        context = load(pki, tls_yaml(f"  cipher_suites: [{name}]\n")).ssl_context()
        assert context is not None
        openssl = CIPHER_SUITES[name]
        if openssl is None:  # a TLS 1.3 suite: always on with TLS 1.3, not choosable
            assert context.minimum_version == ssl.TLSVersion.TLSv1_3
        else:
            tls12 = [c["name"] for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"]
            assert tls12 == [openssl]

    def test_an_unknown_suite_is_refused_naming_the_item(self, pki: dict[str, Any]) -> None:
        refused(pki, tls_yaml("  cipher_suites:\n  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n"
                              "  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048\n"),
                r"bad\.yml:6: tls_server_config\.cipher_suites\[1\]: unknown cipher suite")

    def test_an_insecure_go_suite_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, tls_yaml("  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n"),
                "unknown cipher suite 'TLS_RSA_WITH_RC4_128_SHA'")

    def test_only_tls13_suites_with_a_tls12_maximum_is_refused(
        self, pki: dict[str, Any]
    ) -> None:
        refused(pki, tls_yaml("  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"
                              "  max_version: TLS12\n"),
                r"tls_server_config\.cipher_suites: lists only TLS 1\.3 suites")

    @pytest.mark.parametrize(("written", "on"), [("true", True), ("false", False)])
    def test_prefer_server_cipher_suites(self, pki: dict[str, Any], written: str,
                                         on: bool) -> None:
        context = load(pki, tls_yaml(f"  prefer_server_cipher_suites: {written}\n")) \
            .ssl_context()
        assert context is not None
        assert bool(context.options & ssl.OP_CIPHER_SERVER_PREFERENCE) is on

    def test_prefer_server_cipher_suites_defaults_to_true(self, pki: dict[str, Any]) -> None:
        context = load(pki, tls_yaml()).ssl_context()
        assert context is not None
        assert context.options & ssl.OP_CIPHER_SERVER_PREFERENCE

    def test_prefer_server_cipher_suites_must_be_a_boolean(self, pki: dict[str, Any]) -> None:
        refused(pki, tls_yaml("  prefer_server_cipher_suites: 'true'\n"),
                r"bad\.yml:4: tls_server_config\.prefer_server_cipher_suites")


class TestCurvePreferences:
    @pytest.mark.parametrize("name", sorted(CURVES))
    def test_each_curve_alone_is_accepted(self, pki: dict[str, Any], name: str) -> None:
        assert load(pki, tls_yaml(f"  curve_preferences: [{name}]\n")).ssl_context()

    def test_more_than_one_curve_is_a_clear_error(self, pki: dict[str, Any]) -> None:
        refused(pki, tls_yaml("  curve_preferences:\n  - X25519\n  - CurveP256\n"),
                r"bad\.yml:4: tls_server_config\.curve_preferences: Python's ssl can set "
                r"only one curve")

    def test_an_unknown_curve_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, tls_yaml("  curve_preferences: [CurveP257]\n"),
                r"tls_server_config\.curve_preferences\[0\]: unknown curve 'CurveP257'")


class TestClientAllowedSans:
    def test_accepted_with_a_verifying_client_auth_type(self, pki: dict[str, Any]) -> None:
        config = load(pki, tls_yaml("  client_allowed_sans: [prometheus.example]\n",
                                    auth="RequireAndVerifyClientCert"))
        assert config.model.tls_server_config.client_allowed_sans == ["prometheus.example"]

    @pytest.mark.parametrize("mode", ["NoClientCert", "RequestClientCert"])
    def test_refused_where_no_certificate_is_verified(self, pki: dict[str, Any],
                                                      mode: str) -> None:
        refused(pki, tls_yaml(f"  client_auth_type: {mode}\n"
                              "  client_allowed_sans: [prometheus.example]\n"),
                r"tls_server_config\.client_allowed_sans: needs client_auth_type")

    def test_an_empty_list_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, tls_yaml("  client_allowed_sans: []\n", auth="RequireAndVerifyClientCert"),
                r"client_allowed_sans: is empty")


class TestRateLimit:
    @pytest.mark.parametrize(("interval", "seconds"), [
        ("1s", 1.0), ("250ms", 0.25), ("1m30s", 90.0), ("1.5h", 5400.0), ("100us", 1e-4)])
    def test_go_durations(self, pki: dict[str, Any], interval: str, seconds: float) -> None:
        config = load(pki, f"rate_limit:\n  interval: {interval}\n  burst: 5\n")
        assert config.model.rate_limit.interval == pytest.approx(seconds)
        assert config.model.rate_limit.burst == 5

    @pytest.mark.parametrize("text", ["rate_limit:\n  interval: 0\n  burst: 0\n",
                                      "rate_limit:\n  interval: '0'\n", "rate_limit:\n"])
    def test_zero_or_absent_interval_turns_it_off(self, pki: dict[str, Any], text: str) -> None:
        assert load(pki, text).model.rate_limit.interval == 0

    @pytest.mark.parametrize(("interval", "problem"), [
        ("1", "needs|with a unit"), ("-1s", "must not be negative"), ("1d", "not a Go duration"),
        ("soon", "not a Go duration")])
    def test_a_bad_interval_is_refused(self, pki: dict[str, Any], interval: str,
                                       problem: str) -> None:
        refused(pki, f"rate_limit:\n  interval: {interval}\n  burst: 1\n",
                rf"bad\.yml:2: rate_limit\.interval: .*({problem})")

    def test_a_burst_of_zero_with_an_interval_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, "rate_limit:\n  interval: 1s\n  burst: 0\n",
                r"bad\.yml:3: rate_limit\.burst: must be at least 1")

    def test_a_negative_burst_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, "rate_limit:\n  interval: 1s\n  burst: -1\n", r"rate_limit\.burst")


class TestBasicAuthUsers:
    def test_a_null_list_means_no_users(self, pki: dict[str, Any]) -> None:
        assert dict(load(pki, "basic_auth_users:\n").users) == {}

    def test_a_numeric_user_name_is_read_as_written(self, pki: dict[str, Any]) -> None:
        assert list(load(pki, f"basic_auth_users:\n  007: '{HASH}'\n").users) == ["007"]

    @pytest.mark.parametrize("hashed", [
        "$2b$03$" + "a" * 53, "$2b$32$" + "a" * 53, "$1$abc", "plain"])
    def test_anything_but_a_bcrypt_hash_is_refused(self, pki: dict[str, Any],
                                                   hashed: str) -> None:
        refused(pki, f"basic_auth_users:\n  prometheus: '{hashed}'\n",
                r"bad\.yml:2: basic_auth_users\.prometheus: must be a bcrypt hash")


class TestFile:
    def test_null_sections_are_absent(self, pki: dict[str, Any]) -> None:
        config = load(pki, "tls_server_config:\nhttp_server_config:\nrate_limit:\n"
                           "basic_auth_users:\n")
        assert config.ssl_context() is None

    def test_a_duplicate_key_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, "http_server_config:\n  http2: false\n  http2: true\n",
                r"bad\.yml:3: http_server_config\.http2: is defined more than once")

    def test_a_file_that_is_not_a_mapping_is_refused(self, pki: dict[str, Any]) -> None:
        refused(pki, "hWkNKCp3fvIx3jKnsaBI\nTuEjdwNS8A2vYdFbiKqr\n", "must be a mapping")

    def test_an_unknown_key_is_refused_with_its_line(self, pki: dict[str, Any]) -> None:
        refused(pki, "tls_server_config:\n  cert_filse: server.crt\n",
                r"bad\.yml:2: tls_server_config\.cert_filse")


def _indent(pem: str) -> str:
    return "".join(f"    {line}\n" for line in pem.splitlines())
