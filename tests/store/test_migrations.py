"""Migrations are append-only: a ledger written by an earlier sla-probe opens, upgrades, and
reports the same figures.

`fixtures/ledger-v4.sql` is a dump of a ledger written at schema 4 by the main before the
store package (attempts, verdicts, revisions, two `sla-probe exclude` records kept as the old
JSON registry in `meta`, one of them reverted, quorum outbox, votes and rejections);
`fixtures/report-v4.json` is the JSON month report that main printed for it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from probe.config import load_config
from probe.contracts.month import Month
from probe.report import render
from probe.store import LEDGER_FILE, Ledger
from probe.store import quorum as quorum_store
from probe.store.schema import MIGRATIONS

FIXTURES = Path(__file__).parent / "fixtures"
NOW = 1793000000.0  # when report-v4.json was rendered


@pytest.fixture
def old_ledger(tmp_path: Path) -> Path:
    """The schema-4 ledger rebuilt from its dump, with its config beside it."""
    state = tmp_path / "state"
    state.mkdir()
    conn = sqlite3.connect(state / LEDGER_FILE)
    conn.executescript((FIXTURES / "ledger-v4.sql").read_text())
    conn.close()
    shutil.copy(FIXTURES / "config.yml", tmp_path / "config.yml")
    return tmp_path


def _version(path: Path) -> int:
    conn = sqlite3.connect(path / "state" / LEDGER_FILE)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_the_fixture_is_at_schema_4(old_ledger: Path) -> None:
    assert _version(old_ledger) == 4


def test_opens_and_upgrades_to_the_newest_schema(old_ledger: Path) -> None:
    ledger = Ledger(old_ledger / "state")
    try:
        assert ledger.schema_version == len(MIGRATIONS)
    finally:
        ledger.close()
    assert _version(old_ledger) == len(MIGRATIONS)


def test_the_month_report_is_the_same_after_the_upgrade(
    old_ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(old_ledger)  # the fixture's config names `state_dir: state`
    config = load_config(old_ledger / "config.yml")
    Ledger(old_ledger / "state").close()
    reader = Ledger.reader(old_ledger / "state")
    try:
        got = json.loads(render(config, reader, Month(2026, 10), "json", now=NOW))
    finally:
        reader.close()
    missing = _differences(json.loads((FIXTURES / "report-v4.json").read_text()), got)
    assert missing == []


def _differences(expected: object, got: object, path: str = "") -> list[str]:
    """Where `got` lacks or changes something `expected` holds. Keys added to the report
    since schema 4 (readings, contract credit totals) are not differences."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return [d for key, value in expected.items()
                for d in (_differences(value, got[key], f"{path}.{key}") if key in got
                          else [f"{path}.{key}: missing"])]
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        return [d for i, (e, g) in enumerate(zip(expected, got, strict=True))
                for d in _differences(e, g, f"{path}[{i}]")]
    return [] if expected == got else [f"{path}: {expected!r} became {got!r}"]


def test_the_exclusion_registry_becomes_rows(old_ledger: Path) -> None:
    ledger = Ledger(old_ledger / "state")
    try:
        records = ledger.declared_exclusions()
        assert ledger.meta("declared_exclusions") is None
    finally:
        ledger.close()
    assert [(r.reference, r.reason, r.by, r.services, r.active) for r in records] == [
        ("FM-1", "force_majeure", "fixture", ("api",), True),
        ("EP-2", "emergency_patch", "fixture", (), False),
    ]
    assert records[1].reverted_by == "fixture"
    assert records[0].start == 1791769800.0  # 2026-10-12T01:50:00Z


def test_quorum_tables_survive(old_ledger: Path) -> None:
    ledger = Ledger(old_ledger / "state")
    try:
        assert ledger.read(quorum_store.rejections) == [("bad_signature", 2)]
        assert [v for v, _, _ in ledger.read(quorum_store.vantage_stats)] == ["b"]
        assert ledger.read(quorum_store.outbox_state)[0] == 1
    finally:
        ledger.close()
