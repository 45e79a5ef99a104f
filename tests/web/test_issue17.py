"""Regressions of issue 17: each web config exporter-toolkit accepts and sla-probe refused,
each it refuses and sla-probe accepted, and `validate --web.config.file`.

Self-contained on purpose (only `load_web_config`, `WebConfigError`, `main` and the test
PKI), so the same cases can be run against the code before the fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.cli import main
from probe.web.config import WebConfig, WebConfigError, load_web_config
from tests.pki import CertificateAuthority
from tests.test_daemon import config_text

SERVER = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki17")
    ca = CertificateAuthority(directory, "test-ca")
    ca.issue("server", server=True)
    return directory


def accepted(directory: Path, text: str) -> WebConfig:
    path = directory / "web.yml"
    path.write_text(text)
    return load_web_config(path)


def indented(path: Path) -> str:
    return "".join(f"    {line}\n" for line in path.read_text().splitlines())


class TestAcceptedByExporterToolkit:
    def test_an_integer_header_value(self, pki: Path) -> None:
        accepted(pki, "http_server_config:\n  headers:\n    X-XSS-Protection: 1\n")

    @pytest.mark.parametrize("mode", ["VerifyClientCertIfGiven", "RequireAndVerifyClientCert"])
    def test_verifying_client_auth_without_client_ca_file(self, pki: Path, mode: str) -> None:
        accepted(pki, f"{SERVER}  client_auth_type: {mode}\n")

    def test_cipher_suites(self, pki: Path) -> None:
        accepted(pki, f"{SERVER}  cipher_suites:\n  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n"
                      "  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n")

    def test_curve_preferences(self, pki: Path) -> None:
        accepted(pki, f"{SERVER}  curve_preferences: [CurveP256]\n")

    def test_prefer_server_cipher_suites(self, pki: Path) -> None:
        accepted(pki, f"{SERVER}  prefer_server_cipher_suites: false\n")

    def test_inline_cert_and_key(self, pki: Path) -> None:
        accepted(pki, f"tls_server_config:\n  cert: |\n{indented(pki / 'server.crt')}"
                      f"  key: |\n{indented(pki / 'server.key')}")

    def test_inline_client_ca(self, pki: Path) -> None:
        accepted(pki, f"{SERVER}  client_auth_type: RequireAndVerifyClientCert\n"
                      f"  client_ca: |\n{indented(pki / 'test-ca.crt')}")

    def test_client_allowed_sans(self, pki: Path) -> None:
        accepted(pki, f"{SERVER}  client_auth_type: RequireAndVerifyClientCert\n"
                      "  client_ca_file: test-ca.crt\n  client_allowed_sans: [prometheus]\n")

    def test_rate_limit(self, pki: Path) -> None:
        accepted(pki, "rate_limit:\n  interval: 1s\n  burst: 10\n")

    @pytest.mark.parametrize(("value", "notices"), [("false", 0), ("true", 1)])
    def test_http2_false_is_silent_and_true_says_it_has_no_effect(
        self, pki: Path, value: str, notices: int
    ) -> None:
        config = accepted(pki, f"{SERVER}http_server_config:\n  http2: {value}\n")
        assert len(config.notices) == notices


class TestRefusedByExporterToolkit:
    @pytest.mark.parametrize(("name", "value"), [("X-Content-Type-Options", "sniff"),
                                                 ("X-Frame-Options", "foo")])
    def test_a_header_value_outside_its_rule(self, pki: Path, name: str, value: str) -> None:
        with pytest.raises(WebConfigError, match=name):
            accepted(pki, f"http_server_config:\n  headers:\n    {name}: {value}\n")


class TestValidateCommand:
    @pytest.fixture
    def config(self, tmp_path: Path) -> Path:
        path = tmp_path / "config.yml"
        path.write_text(config_text(tmp_path / "state", "http://127.0.0.1:9/",
                                    "http://127.0.0.1:9/"))
        return path

    def test_a_bad_web_config_exits_1_naming_file_line_and_key(
        self, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        web = tmp_path / "web.yml"
        web.write_text("http_server_config:\n  headers:\n    X-Frame-Options: foo\n")
        assert main(["validate", "-c", str(config), "--web.config.file", str(web)]) == 1
        assert f"{web}:3: http_server_config.headers.X-Frame-Options:" in capsys.readouterr().err

    def test_a_good_pair_exits_0(self, config: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
        web = tmp_path / "web.yml"
        web.write_text("http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
        assert main(["validate", "-c", str(config), "--web.config.file", str(web)]) == 0
        assert f"{web}: valid" in capsys.readouterr().out
        assert not (tmp_path / "state").exists()
