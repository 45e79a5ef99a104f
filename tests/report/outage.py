"""A Dfns ledger with one real outage, attempts included: the scenario of the evidence
columns (issue 16, item 6), the claim letter (item 5) and the tickets (item 7).

dfns-api fails every attempt from 2026-10-20 05:00:00 to 05:10:00 UTC (ten one-minute
windows down): the first attempt answers HTTP 503 and echoes the bearer token (the endpoint
is hostile, or a proxy logs headers), the rest time out. Attempts every 10 s from 04:58 to
05:12; the other services are up throughout, so the Cloud Service is down too.
"""

from __future__ import annotations

from pathlib import Path

from probe.config import Config, load_config
from probe.contracts.month import Month
from probe.model import Attempt, Role, Verdict, WindowVerdict
from probe.store import Ledger
from tests.contracts.builders import at

EXAMPLE = Path(__file__).parents[2] / "config" / "contracts" / "dfns.yaml"
OCTOBER = Month(2026, 10)
AFTER = at("2026-11-05 12:00")
SECRET = "placeholder-token"  # dfns.yaml's DFNS_TOKEN default, a registered secret
START, END = at("2026-10-20 05:00"), at("2026-10-20 05:10")
FIRST_DETAIL = f"HTTP 503 Service Unavailable; upstream echoed Authorization: Bearer {SECRET}"


def build(tmp: Path) -> tuple[Config, Path]:
    """Write the config (state_dir in `tmp`) and the ledger; returns (config, its path)."""
    text = EXAMPLE.read_text().replace("state_dir: ./state/dfns", f"state_dir: '{tmp}'")
    path = tmp / "dfns.yaml"
    path.write_text(text)
    config = load_config(path)
    ledger = Ledger(tmp)
    attempts: list[Attempt] = []
    verdicts: list[WindowVerdict] = []
    for w in range(START - 120, END + 120, 60):
        for service, check in (("dfns-api", "list-wallets"), ("dfns-signature", "sign-hash"),
                               ("dfns-broadcast", "broadcast-status")):
            failed = 0
            for t in range(w, w + 60, 10):
                bad = service == "dfns-api" and START <= t < END
                first = bad and t == START
                attempts.append(Attempt(
                    float(t) + 0.25, service, check, Role.SERVICE, not bad,
                    ("http_status" if first else "timeout") if bad else None, 0.2,
                    detail=FIRST_DETAIL if first else ("read timed out" if bad else "")))
                failed += bad
            classes = ("http_status", "timeout") if failed and w == START else (
                ("timeout",) if failed else ())
            verdicts.append(WindowVerdict(
                "dfns", service, w, 60, Verdict.DOWN if failed == 6 else Verdict.UP,
                attempts=6, failures=failed, failure_classes=classes))
    ledger.record_attempts(attempts)
    ledger.write_verdicts(verdicts)
    ledger.close()
    return config, path
