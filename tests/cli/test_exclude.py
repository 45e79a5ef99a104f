"""`sla-probe exclude`: who, when and why are recorded, windows revised, bad requests refused."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pytest

from probe.cli.exclude import add_arguments as add_exclude_arguments
from probe.cli.exclude import main as cli_exclude
from probe.model import Reason, Verdict
from probe.store import Ledger
from tests.contracts.builders import SERVICES, at, windows
from tests.contracts.test_exclusions import CONTRACT


def exclude_args(config_path: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_exclude_arguments(parser)
    return parser.parse_args([
        "-c", str(config_path), "--contract", "c", "--service", "sign",
        "--start", "2026-10-05T10:00:00Z", "--end", "2026-10-05T10:30:00+00:00",
        "--reason", "emergency_patch", "--reference", "CVE-2026-1", "--by", "alice", *extra,
    ])


class TestCliExclude:
    def test_records_who_when_why_and_revises_windows(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = _config_file(tmp_path)
        store = Ledger(tmp_path)
        store.write_verdicts(windows("c", "sign", at("2026-10-05 09:50"), 60, Verdict.DOWN))
        store.close()
        assert cli_exclude(exclude_args(path)) == 0
        assert "30 window revisions written" in capsys.readouterr().out
        store = Ledger(tmp_path)
        [record] = store.declared_exclusions()
        assert (record.by, record.reason, record.reference, record.active) == (
            "alice", "emergency_patch", "CVE-2026-1", True)
        rows = store.windows("c", at("2026-10-05 09:00"), at("2026-10-06 00:00"))
        assert sum(v.reason == Reason.DECLARED for v in rows) == 30
        _, author = store.revisions("c", "sign", at("2026-10-05 10:00"))[-1]
        assert author == "exclusion:CVE-2026-1"
        store.close()

        assert cli_exclude(exclude_args(path, "--revert", "--by", "bob")) == 0
        store = Ledger(tmp_path)
        [record] = store.declared_exclusions()
        assert (record.active, record.reverted_by) == (False, "bob")
        rows = store.windows("c", at("2026-10-05 09:00"), at("2026-10-06 00:00"))
        assert {v.verdict for v in rows} == {Verdict.DOWN}
        store.close()

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (("--service", "nope"), "'nope' is not an objective of contract 'c'"),
            (("--start", "2026-10-05T10:00:00"), "has no UTC offset"),
            (("--contract", "other"), "unknown contract 'other'"),
            (("--revert",), "no active exclusion 'CVE-2026-1'"),
        ],
    )
    def test_refuses_bad_requests(self, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  change: tuple[str, ...], message: str) -> None:
        path = _config_file(tmp_path)
        assert cli_exclude(exclude_args(path, *change)) == 2
        assert message in capsys.readouterr().err

    def test_a_retry_is_idempotent_and_a_conflict_refused(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = _config_file(tmp_path)
        assert cli_exclude(exclude_args(path)) == 0
        capsys.readouterr()
        assert cli_exclude(exclude_args(path)) == 0
        assert "already recorded (nothing changed)" in capsys.readouterr().out
        assert cli_exclude(exclude_args(path, "--end", "2026-10-05T11:00:00Z")) == 2
        assert "already recorded with other terms" in capsys.readouterr().err
        assert cli_exclude(exclude_args(path, "--revert")) == 0
        assert cli_exclude(exclude_args(path, "--revert")) == 0
        assert "already reverted (nothing changed)" in capsys.readouterr().out
        store = Ledger(tmp_path)
        [record] = store.declared_exclusions()
        store.close()
        assert not record.active


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "probe.yaml"
    path.write_text(f"probe: {{state_dir: '{tmp_path}'}}\n" + SERVICES + "contracts:\n"
                    + textwrap.indent(textwrap.dedent(CONTRACT), "  "))
    return path

