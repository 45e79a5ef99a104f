"""`sla-probe validate -c CONFIG --web.config.file FILE`: the check `run` makes at start,
for both files, with no listener."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from probe.cli import main
from probe.web import app
from tests.test_daemon import config_text
from tests.web.conftest import tls_yaml, write


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write(tmp_path / "config.yml",
                 config_text(tmp_path / "state", "http://127.0.0.1:9/", "http://127.0.0.1:9/"))


@pytest.fixture(autouse=True)
def no_listener(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("validate must not listen")

    monkeypatch.setattr(app, "start_site", refuse)


def test_valid_files_exit_0_and_say_so(config: Path, pki: dict[str, Any],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    web = write(pki["dir"] / "validate-ok.yml",
                tls_yaml(auth="RequireAndVerifyClientCert")
                + "http_server_config:\n  http2: true\n")
    assert main(["validate", "-c", str(config), "--web.config.file", str(web)]) == 0
    out = capsys.readouterr().out
    assert f"{config}: valid" in out
    assert f"{web}: valid (TLS on, RequireAndVerifyClientCert, 0 basic auth users)" in out
    assert f"note: {web}:7: http_server_config.http2: true has no effect" in out
    assert not (config.parent / "state").exists()


def test_problems_of_both_files_are_listed_with_file_line_and_key(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text(config.read_text().replace("jitter: 0.05", "jitter: 5"))
    web = write(tmp_path / "web.yml", "rate_limit:\n  interval: 1s\n  burst: 0\n")
    assert main(["validate", "-c", str(config), "--web.config.file", str(web)]) == 1
    err = capsys.readouterr().err
    assert f"{web}:3: rate_limit.burst: must be at least 1" in err
    assert f"{config}:2: probe.jitter:" in err
    assert "configuration refused" in err


def test_a_certificate_that_does_not_load_is_found_without_starting(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web = write(tmp_path / "web.yml", tls_yaml())  # no server.crt in tmp_path
    assert main(["validate", "-c", str(config), "--web.config.file", str(web)]) == 1
    assert f"{web}:2: tls_server_config.cert_file: cannot load" in capsys.readouterr().err


def test_the_config_s_own_web_config_file_is_checked(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web = write(tmp_path / "web.yml", "http_server_config:\n  headers:\n    Server: x\n")
    text = config.read_text().replace("jitter: 0.05}", f'jitter: 0.05, web_config_file: "{web}"}}')
    config.write_text(text)
    assert main(["validate", "-c", str(config)]) == 1
    assert f"{web}:3: http_server_config.headers.Server: cannot be configured" in \
        capsys.readouterr().err
