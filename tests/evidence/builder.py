"""A ledger with a past month of chained attempts, verdicts and an exclusion, and its pack."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

from probe.config import Config, parse_config
from probe.contracts.exclusions import declared_exclusions, overlay
from probe.contracts.model import Declared
from probe.contracts.month import Month
from probe.evidence.keys import load_vantage_key
from probe.evidence.pack import PackInfo, sign_head, write_pack
from probe.model import CONTROL_SERVICE, Attempt, Role
from probe.pipeline import decide_range
from probe.store import Ledger

MONTH = Month(2025, 9)
DAY = datetime(2025, 9, 10, tzinfo=UTC).timestamp()
CLOSE = datetime(2025, 10, 1, 2, 0, tzinfo=UTC).timestamp()


def config(state_dir: Path, extra: str = "") -> Config:
    return parse_config(textwrap.dedent(f"""\
        probe: {{vantage: paris, state_dir: "{state_dir}"}}
        services:
          - name: api
            checks:
              - {{name: health, type: http, url: "https://api.example/health", interval: 30s,
                  timeout: 5s, secret_headers: {{Authorization: "Bearer s3cr3t-token-value"}}}}
          - name: db
            checks: [{{name: ping, type: http, url: "http://db.example/", interval: 30s}}]
        controls:
          - {{name: reach, type: http, url: "http://control.example/", interval: 30s}}
        contracts:
          - name: acme
            window: 60s
            objectives: [{{service: api, target: 99.9}}]
          - name: other
            window: 60s
            objectives: [{{service: db, target: 99}}]
        maintenance:
          - {{contract: acme, start: "2025-09-10T01:00:00Z", end: "2025-09-10T01:10:00Z",
              announced_at: "2025-09-01T00:00:00Z", reference: MNT-1}}
        {extra}"""))


def _attempts(t: float) -> list[Attempt]:
    """One minute of attempts at `t`: api fails from 00:20 to 00:40 and 01:05 to 01:08."""
    out = []
    for dt in (0.0, 30.0):
        s = t + dt
        minute = int((s - DAY) // 60)
        bad = 20 <= minute < 40 or 65 <= minute < 68
        ev = {"tls_peer_sha256": "ab" * 32, "tls_subject": "CN=api.example",
              "tls_issuer": "CN=CA", "tls_not_after": "1900000000"}
        out += [
            Attempt(s, "api", "health", Role.SERVICE, not bad, "http" if bad else None,
                    0.0123, "HTTP 503" if bad else "", ev),
            Attempt(s + 1, "db", "ping", Role.SERVICE, True, None, 0.004),
            Attempt(s + 2, CONTROL_SERVICE, "reach", Role.CONTROL, True, None, 0.002),
        ]
    return out


def build(state_dir: Path, hours: float = 2.0) -> tuple[Config, Ledger]:
    """Attempts for `hours` on DAY plus a few around the month's edges, decided and chained."""
    cfg = config(state_dir)
    ledger = Ledger(state_dir)
    starts = [datetime(2025, 8, 31, 23, 58, tzinfo=UTC).timestamp()]
    starts += [DAY + 60 * i for i in range(int(hours * 60))]
    starts += [datetime(2025, 10, 1, 0, 1, tzinfo=UTC).timestamp()]
    for t in starts:
        ledger.record_attempts(_attempts(t))
    ledger.record_exclusion(
        Declared("acme", ("api",), DAY + 30 * 60, DAY + 35 * 60, "emergency", "INC-7", "ann",
                 "ledger", at=DAY + 3 * 3600), lambda _r: [])
    for name in ("acme", "other"):
        for t in starts:
            w0 = int(t // 60 * 60)
            verdicts = decide_range(cfg, name, ledger.outcomes_between(w0, w0 + 60),
                                    start=w0, end=w0 + 60, now=w0 + 61)
            declared = declared_exclusions(cfg, ledger)
            ledger.write_verdicts([overlay(cfg, v, declared) for v in verdicts])
    return cfg, ledger


def pack(state_dir: Path, out: Path) -> tuple[Config, PackInfo]:
    cfg, ledger = build(state_dir)
    key = load_vantage_key(cfg)
    assert sign_head(ledger, key, "paris", CLOSE)
    info = write_pack(cfg, ledger, key, "acme", MONTH, out=out, now=CLOSE + 86400)
    ledger.close()
    return cfg, info
