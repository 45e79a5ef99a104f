"""Issue 16, item 7: support tickets recorded, chained, linked to their incident, judged
against the support terms in the report, and carried in the evidence pack.

The scenario is tests/report/outage.py: Dfns, dfns-api down 2026-10-20 05:00-05:10 UTC
(01:00-01:10 EDT), a Show Stopper. Dfns §7 gives Show Stopper a resolution target only
("Best efforts to reach a resolution within 24 hours", elapsed) and "Support Request:
1 Business day to initial response".
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from probe.cli import main as cli
from probe.config import Config
from probe.report import render
from probe.store import Ledger
from probe.support.tickets import TicketEvent, judge, tickets_from
from tests.contracts.builders import at
from tests.report.outage import AFTER, OCTOBER, SECRET, build


def ticket(path: Path, *args: str) -> int:
    return cli(["ticket", args[0], "-c", str(path), "--contract", "dfns", *args[1:]])


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Config, Path]:
    config, path = build(tmp_path)
    assert ticket(path, "open", "--reference", "CS-1", "--severity", "Show Stopper",
                  "--channel", "portal", "--at", "2026-10-20T05:04:00Z", "--by", "alice") == 0
    assert ticket(path, "update", "--reference", "CS-1", "--at", "2026-10-20T09:00:00Z",
                  "--note", f"looking into it; your header Bearer {SECRET} was logged") == 0
    assert ticket(path, "resolve", "--reference", "CS-1", "--at", "2026-10-21T07:04:00Z",
                  "--resolution", "load balancer fixed") == 0
    assert ticket(path, "open", "--reference", "CS-2", "--severity", "Support Request",
                  "--channel", "email", "--at", "2026-10-23T20:00:00Z") == 0
    return config, path


def test_open_links_the_incident_under_way(recorded: tuple[Config, Path]) -> None:
    config, _ = recorded
    reader = Ledger.reader(config.probe.state_dir)
    try:
        [cs1, cs2] = tickets_from(reader.ticket_events("dfns"))
    finally:
        reader.close()
    assert cs1.incident == f"dfns/dfns-api/{at('2026-10-20 05:00')}"
    assert cs1.first_response == at("2026-10-20 09:00")
    assert cs2.incident is None  # an enquiry three days later concerns no incident


def test_report_judges_each_ticket(recorded: tuple[Config, Path]) -> None:
    """CS-1 (Show Stopper, opened 05:04Z): resolution due 24 h later, 2026-10-21 05:04Z;
    resolved 07:04Z -> missed by 2 h. CS-2 (Support Request, opened Fri 23 Oct 16:00 EDT):
    first response due one New York business day later, Mon 26 Oct 16:00 EDT (20:00Z);
    no answer by the report's 5 Nov -> missed by 10 days (elapsed since the deadline)."""
    config, _ = recorded
    reader = Ledger.reader(config.probe.state_dir)
    try:
        doc = json.loads(render(config, reader, OCTOBER, "json", AFTER))
        text = render(config, reader, OCTOBER, "text", AFTER)
    finally:
        reader.close()
    cs1, cs2 = doc["contracts"][0]["tickets"]
    [resolution] = cs1["judged"]
    assert resolution["what"] == "resolution (best effort)"
    assert resolution["due"] == "2026-10-21T05:04:00Z"
    assert resolution["state"] == "missed"
    assert resolution["late_seconds"] == 7200
    [response] = cs2["judged"]
    assert response["due"] == "2026-10-26T20:00:00Z"
    assert response["state"] == "missed"
    assert response["late_seconds"] == AFTER - at("2026-10-26 20:00")
    assert "ticket CS-1 (Show Stopper, portal)" in text
    assert "resolution (best effort) due 2026-10-21T05:04:00Z: missed by 2h" in text
    assert SECRET not in json.dumps(doc) + text


def test_update_cadence_met_and_missed() -> None:
    """SecurEnvoy P1 "4 hours (9x5) | Once per day (business day only)", office hours
    09-17 London. Opened Mon 5 Oct 2026 10:00 BST (09:00Z): response due 14:00 BST, answered
    11:00 (met, 3 h to spare). Next update due one business day later, Tue 11:00 BST; given
    Tue 10:00 (met). Next due Wed 10:00 BST; given Thu 12:00 BST: missed by one business
    day and 2 h elapsed = 26 h."""
    from probe.config import load_config  # noqa: PLC0415

    contract = load_config(Path(__file__).parents[2] / "config" / "contracts" /
                           "securenvoy.yaml").contracts[0]
    z = "Europe/London"
    events = [
        TicketEvent("securenvoy", "SE-9", "open", at("2026-10-05 10:00", z),
                    {"severity": "P1", "channel": "phone", "incident": None}, "bob", 0),
        *[TicketEvent("securenvoy", "SE-9", "update", at(t, z), {"note": ""}, "bob", 1)
          for t in ("2026-10-05 11:00", "2026-10-06 10:00", "2026-10-08 12:00")],
    ]
    [t] = tickets_from(events)
    judged = judge(t, contract.support, at("2026-10-08 12:30", z))
    assert [(j.what, j.state, j.late_seconds) for j in judged[:3]] == [
        ("first response", "met", -3 * 3600),
        ("status update", "met", -3600),
        ("status update", "missed", 26 * 3600),
    ]
    # still open: the next update is due Fri 9 Oct 12:00 BST, not yet passed
    assert judged[3].state == "open"


def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, path = build(tmp_path)
    assert ticket(path, "update", "--reference", "NONE", "--note", "x") == 2
    assert "open it first" in capsys.readouterr().err
    assert ticket(path, "open", "--reference", "X", "--severity", "P9",
                  "--channel", "portal") == 2
    assert "severity" in capsys.readouterr().err
    assert ticket(path, "open", "--reference", "X", "--severity", "Low",
                  "--channel", "portal") == 0
    assert ticket(path, "open", "--reference", "X", "--severity", "Low",
                  "--channel", "portal") == 2
    assert "already open" in capsys.readouterr().err


def test_events_are_chained(recorded: tuple[Config, Path]) -> None:
    """Editing a recorded ticket event in SQLite is named by the chain audit."""
    from probe.store import chain  # noqa: PLC0415

    config, _ = recorded
    db = Path(config.probe.state_dir) / "ledger.sqlite3"
    conn = sqlite3.connect(db)
    try:
        assert chain.audit(conn) is None
        kinds = [r[0] for r in conn.execute("SELECT kind FROM chain_entries")]
        assert kinds.count("ticket") == 4
        conn.execute("UPDATE chain_entries SET line=replace(line, '07:04', '04:04') "
                     "WHERE kind='ticket'")
        conn.commit()
        assert "chain_entries rows of record" in (chain.audit(conn) or "")
    finally:
        conn.close()


def test_pack_carries_the_tickets(recorded: tuple[Config, Path], tmp_path: Path) -> None:
    """The pack lists tickets.json in its manifest; `verify` refuses it changed."""
    _config, path = recorded
    out = tmp_path / "pack"
    assert cli(["evidence", "-c", str(path), "--contract", "dfns", "--month", "2026-10",
                "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert "tickets.json" in manifest["files"]
    tickets = json.loads((out / "tickets.json").read_text())["tickets"]
    assert [t["reference"] for t in tickets] == ["CS-1", "CS-2"]
    entries = (out / "entries.jsonl").read_text()
    assert entries.count('"kind":"ticket"') == 4
    assert cli(["verify", str(out)]) == 0
    (out / "tickets.json").write_text((out / "tickets.json").read_text().replace(
        "missed", "met"))
    assert cli(["verify", str(out)]) == 1
