"""Config loading: the issue's minimal file is valid; every refusal names file, line, field."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from probe.config import load_config, parse_config
from probe.secrets import REDACTED, redact, resolve_file_keys
from probe.yamlsource import ConfigError

MINIMAL = textwrap.dedent("""\
    probe:
      vantage: local
      state_dir: ./state
      listen: 127.0.0.1:9464
    services:
      - name: api
        checks:
          - name: health
            type: http
            url: http://127.0.0.1:8080/health
            interval: 10s
            timeout: 2s
            expect: {status: [200]}
    controls:
      - name: reach
        type: http
        url: http://127.0.0.1:8081/
        interval: 10s
        timeout: 2s
    contracts:
      - name: demo
        timezone: UTC
        window: 60s
        down_rule: all          # all | any | ratio>=0.5
        objectives:
          - {service: api, target: 99.9}
    """)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "config.yaml")
    return info.value.problems


class TestMinimalConfig:
    def test_the_issue_example_is_valid(self) -> None:
        config = parse_config(MINIMAL, "config.yaml")
        check = config.services[0].checks[0]
        assert (check.interval, check.timeout) == (10.0, 2.0)
        assert config.contracts[0].window_seconds == 60
        assert str(config.contracts[0].rule) == "all"
        assert config.probe.port == 9464


class TestRefusals:
    def test_timeout_longer_than_interval_names_line_and_field(self) -> None:
        text = MINIMAL.replace("timeout: 2s\n        expect", "timeout: 20s\n        expect")
        assert problems(text) == [
            "config.yaml:12: services[0].checks[0].timeout: must be shorter than interval"
        ]

    @pytest.mark.parametrize(
        ("old", "new", "expected"),
        [
            ("type: http\n        url: http://127.0.0.1:8080",
             "type: carrier-pigeon\n        url: http://127.0.0.1:8080",
             "config.yaml:9: services[0].checks[0].type: unknown check type 'carrier-pigeon'"),
            ("window: 60s", "window: 1.5s",
             "config.yaml:23: contracts[0].window: must be a whole number of seconds"),
            ("down_rule: all ", "down_rule: most",
             "config.yaml:24: contracts[0].down_rule: must be all, any, or ratio"),
            ("{service: api, target: 99.9}", "{service: apx, target: 99.9}",
             "config.yaml:26: contracts[0].objectives[0].service: unknown service 'apx'"),
            ("interval: 10s\n        timeout: 2s\n        expect",
             "interval: often\n        timeout: 2s\n        expect",
             "config.yaml:11: services[0].checks[0].interval: 'often' is not a duration"),
            ("timezone: UTC", "timezone: Mars/Olympus",
             "config.yaml:22: contracts[0].timezone: unknown time zone 'Mars/Olympus'"),
            ("listen: 127.0.0.1:9464", "listen: nowhere",
             "config.yaml:4: probe.listen: must be HOST:PORT"),
        ],
    )
    def test_problem_names_file_line_and_field(self, old: str, new: str, expected: str) -> None:
        assert old in MINIMAL
        found = problems(MINIMAL.replace(old, new))
        assert any(p.startswith(expected) for p in found), found

    def test_unknown_keys_are_refused(self) -> None:
        found = problems(MINIMAL.replace("vantage: local", "vantage: local\n  colour: red"))
        assert found[0].startswith("config.yaml:3: probe.colour:")

    def test_invalid_yaml_names_the_line(self) -> None:
        found = problems("probe:\n  vantage: [unclosed\n")
        assert found[0].startswith("config.yaml:3: invalid YAML")

    def test_duplicate_service_names_are_refused(self) -> None:
        text = MINIMAL.replace("controls:", textwrap.dedent("""\
              - name: api
                checks:
                  - {name: other, type: http, url: http://x/}
            controls:"""))
        assert any("duplicate service 'api'" in p for p in problems(text))


class TestSecrets:
    def test_environment_references_are_expanded_and_redacted(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("VENDOR_TOKEN", "s3cr3t-token-value")
        text = MINIMAL.replace(
            "expect: {status: [200]}",
            "expect: {status: [200]}\n        secret_headers: {Authorization: '${VENDOR_TOKEN}'}",
        )
        config = parse_config(text, "config.yaml")
        header = config.services[0].checks[0].secret_headers["Authorization"]  # type: ignore[attr-defined]
        assert header.get_secret_value() == "s3cr3t-token-value"
        assert "s3cr3t" not in repr(config)
        assert redact("got s3cr3t-token-value back") == f"got {REDACTED} back"

    def test_missing_environment_variable_is_a_config_error(self) -> None:
        text = MINIMAL.replace("vantage: local", "vantage: ${SLA_PROBE_UNSET_VARIABLE}")
        assert problems(text) == [
            "config.yaml:2: probe.vantage: environment variable SLA_PROBE_UNSET_VARIABLE "
            "is not set"
        ]

    def test_file_keys_fill_the_declared_field(self, tmp_path: Path) -> None:
        secret = tmp_path / "token"
        secret.write_text("file-secret-123\n")
        data = resolve_file_keys({"token_file": str(secret)}, {"token"})
        assert data == {"token": "file-secret-123"}

    def test_unreadable_secret_file_names_the_path_only(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match=r"cannot read secret file .*missing"):
            resolve_file_keys({"token_file": str(tmp_path / "missing")}, {"token"})


class TestCommandLine:
    def test_broken_config_exits_1_with_file_and_line_and_no_traceback(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "config.yaml"
        path.write_text(MINIMAL.replace("timeout: 2s\n        expect",
                                        "timeout: 20s\n        expect"))
        proc = subprocess.run(
            [sys.executable, "-m", "probe", "validate", "-c", str(path)],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert proc.returncode == 1
        assert f"{path}:12: services[0].checks[0].timeout: must be shorter than interval" \
            in proc.stderr
        assert "Traceback" not in proc.stderr

    def test_valid_config_is_accepted(self, tmp_path: Path) -> None:
        path = tmp_path / "config.yaml"
        path.write_text(MINIMAL)
        proc = subprocess.run(
            [sys.executable, "-m", "probe", "validate", "-c", str(path)],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "valid (1 service, 1 check, 1 control, 1 contract)" in proc.stdout

    def test_missing_file_is_a_clear_error(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError) as info:
            load_config(tmp_path / "nope.yaml")
        assert "nope.yaml: cannot read" in info.value.problems[0]
