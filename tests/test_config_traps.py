"""A newcomer's config mistakes get answers that say what to write (issue 13, items 6-8, 17).

Each test reproduces a trap that used to validate silently or answer unhelpfully.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from probe.config import load_config, parse_config
from probe.yamlsource import ConfigError

CHECK = '{name: h, type: http, url: "http://127.0.0.1:9/"%s}'


def config_with(check_extra: str = "", contract: str = "") -> str:
    text = "services:\n  - name: api\n    checks:\n      - " + CHECK % check_extra + "\n"
    if contract:
        text += ("contracts:\n  - name: c\n"
                 f"    {contract}\n    objectives: [{{service: api, target: 99.9}}]\n")
    return text


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yml")
    return info.value.problems


class TestDurations:
    def test_a_bare_number_needs_a_unit_and_both_readings_are_suggested(self) -> None:
        [problem] = problems_of(config_with(", interval: 2000"))
        assert problem.startswith("c.yml:4: services[0].checks[0].interval: ")
        assert "2000s? 2000ms?" in problem

    def test_a_bare_number_in_a_contract_window_too(self) -> None:
        [problem] = problems_of(config_with(contract="window: 60"))
        assert "contracts[0].window: 60 needs a unit: 60s? 60ms?" in problem

    def test_zero_needs_no_unit(self) -> None:
        config = parse_config("probe: {grace: 0}\n" + config_with())
        assert config.probe.grace == 0

    def test_an_interval_longer_than_the_window_names_both_keys_and_lines(self) -> None:
        [problem] = problems_of(config_with(", interval: 2m", contract="window: 1m"))
        assert problem.startswith("c.yml:4: services[0].checks[0].interval: interval 2m ")
        assert "contract 'c', contracts[0].window (line 7)" in problem

    def test_an_interval_equal_to_the_window_is_fine(self) -> None:
        parse_config(config_with(", interval: 1m", contract="window: 1m"))

    def test_window_zero_on_the_command_line_must_be_positive(self) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "probe", "demo", "--window", "0"],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert proc.returncode == 1
        assert "--window must be positive" in proc.stderr
        assert "not a duration" not in proc.stderr


class TestTypos:
    def test_an_unknown_check_key_suggests_the_nearest(self) -> None:
        [problem] = problems_of(config_with(", timout: 1s"))
        assert problem == ("c.yml:4: services[0].checks[0].timout: unknown key `timout` "
                           "(did you mean `timeout`?)")

    def test_an_unknown_section_key_suggests_the_nearest(self) -> None:
        [problem] = problems_of("probe: {vantge: x}\n" + config_with())
        assert "unknown key `vantge` (did you mean `vantage`?)" in problem

    def test_a_nested_key_is_matched_against_its_own_model(self) -> None:
        [problem] = problems_of(config_with(", expect: {stauts: [200]}"))
        assert "(did you mean `status`?)" in problem

    def test_a_key_like_nothing_gets_no_suggestion(self) -> None:
        [problem] = problems_of(config_with(", zzzzzz: 1"))
        assert problem.endswith("unknown key `zzzzzz`")

    def test_an_unquoted_numeric_pin_is_told_to_quote_it(self) -> None:
        text = textwrap.dedent("""\
            services:
              - name: hsm
                checks:
                  - {name: k, type: pkcs11, token_label: t, key_label: k, pin: 01234567}
            """)
        [problem] = problems_of(text)
        assert problem.startswith("c.yml:4: services[0].checks[0].pin: ")
        assert "quote it" in problem


class TestRelativePaths:
    def test_state_dir_and_files_are_relative_to_the_config_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        conf = tmp_path / "etc"
        conf.mkdir()
        (conf / "token").write_text("s3cret-token\n")
        (conf / "config.yml").write_text(
            "probe: {state_dir: ./state}\n"
            "services:\n  - name: api\n    checks:\n"
            '      - {name: h, type: http, url: "http://127.0.0.1:9/",'
            " auth: {bearer_file: token}}\n")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        config = load_config(Path("../etc/config.yml"))
        assert config.probe.state_dir == conf / "state"
        auth = config.services[0].checks[0].auth  # type: ignore[attr-defined]
        assert auth.bearer.get_secret_value() == "s3cret-token"

    def test_report_from_another_directory_finds_the_ledger(self, tmp_path: Path) -> None:
        conf = tmp_path / "etc"
        conf.mkdir()
        (conf / "config.yml").write_text(
            "probe: {state_dir: state}\n" + config_with(contract="window: 1m"))
        from probe.store import Ledger  # noqa: PLC0415

        Ledger(conf / "state").close()
        proc = subprocess.run(
            [sys.executable, "-m", "probe", "report", "-c", "etc/config.yml", "--month", "2026-01"],
            capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert proc.returncode == 0, proc.stderr
        assert "no ledger" not in proc.stderr + proc.stdout


class TestSecretFiles:
    def test_a_secret_header_file_sends_the_header_without_the_suffix(
        self, tmp_path: Path
    ) -> None:
        (tmp_path / "key").write_text("k-123456\n")
        (tmp_path / "c.yml").write_text(
            config_with(", secret_headers: {X-Api-Key_file: key}"))
        check = load_config(tmp_path / "c.yml").services[0].checks[0]
        headers = {k: v.get_secret_value()
                   for k, v in check.secret_headers.items()}  # type: ignore[attr-defined]
        assert headers == {"X-Api-Key": "k-123456"}

    def test_a_secret_header_given_twice_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "key").write_text("k-123456\n")
        [problem] = problems_of(config_with(
            f", secret_headers: {{X-Api-Key: a, X-Api-Key_file: {tmp_path}/key}}"))
        assert "give either X-Api-Key or X-Api-Key_file, not both" in problem

    def test_a_missing_public_key_file_is_not_called_a_secret(self, tmp_path: Path) -> None:
        text = textwrap.dedent(f"""\
            services:
              - name: s
                checks:
                  - name: sig
                    type: signing
                    url: "http://127.0.0.1:9/sign?c={{challenge_hex}}"
                    algorithm: ed25519
                    public_key_file: {tmp_path}/missing.pem
            """)
        [problem] = problems_of(text)
        assert "cannot read public_key_file" in problem
        assert "secret" not in problem
