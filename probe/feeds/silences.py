"""Alertmanager silences for valid maintenance windows (API v2), optional (`alertmanager:`).

A maintenance window the contract's rules accept in full (status `valid`) gets one silence
for the contract's alerts (`contract="<name>"`, plus `service=~"a|b"` when the entry names
services) over its exact interval. A window that is cancelled, rescheduled or judged invalid
loses its silence (expired through `DELETE /api/v2/silence/{id}`); an invalid window never
gets one, because its minutes count as downtime and its alerts must be heard. Which silences
we made is kept in the ledger, so a restart neither duplicates nor forgets them. Alertmanager
being unreachable is logged and retried at the next sync; it never touches a verdict.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import structlog

from checks.base import CheckFailure
from checks.transport.http import HttpClient, encode_json, with_content_type
from probe.contracts.vendor import iso
from probe.store import feeds as feed_store

if TYPE_CHECKING:
    from probe.clock import Clock
    from probe.config import Config
    from probe.contracts.maintenance import MaintenanceEntry
    from probe.feeds.config import AlertmanagerConfig
    from probe.store import LedgerWorker

log = structlog.get_logger("sla_probe.feeds.silences")

Key = tuple[str, str]


def wanted(config: Config, now: float) -> dict[Key, MaintenanceEntry]:
    """(contract, reference) → entry for every valid maintenance window not yet over."""
    return {(a.entry.contract, a.entry.reference): a.entry
            for assessments in config.maintenance_plan.values() for a in assessments
            if a.status == "valid" and not a.invalid and a.entry.end.timestamp() > now}


class AlertmanagerClient:
    """The three calls we need, through the checks' HTTP client (same TLS, caps, classes)."""

    def __init__(self, settings: AlertmanagerConfig, clock: Clock) -> None:
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self._http = HttpClient(clock=clock, https=self.base.startswith("https:"),
                                tls=settings.tls)

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = dict(self.settings.headers)
        data = None
        if body is not None:
            data = encode_json(body)
            headers = with_content_type(headers, "application/json")
        exchange = await self._http.exchange(method, self.base + path, headers=headers,
                                             body=data, max_body=1 << 20)
        if exchange.status // 100 != 2:
            raise CheckFailure("http_status", f"HTTP {exchange.status}: "
                               f"{exchange.body[:200].decode(errors='replace')}")
        return json.loads(exchange.body) if exchange.body.strip() else None

    async def create(self, entry: MaintenanceEntry) -> str:
        s = self.settings
        matchers = [{"name": s.contract_label, "value": entry.contract, "isRegex": False,
                     "isEqual": True}]
        if entry.services:
            matchers.append({"name": s.service_label, "isRegex": True, "isEqual": True,
                             "value": "|".join(re.escape(x) for x in entry.services)})
        answer = await self._call("POST", "/api/v2/silences", {
            "matchers": matchers, "startsAt": iso(entry.start.timestamp()),
            "endsAt": iso(entry.end.timestamp()), "createdBy": s.created_by,
            "comment": f"maintenance {entry.reference} of {entry.contract} (sla-probe)",
        })
        return str(answer["silenceID"])

    async def expire(self, silence_id: str) -> None:
        await self._call("DELETE", f"/api/v2/silence/{silence_id}")

    async def aclose(self) -> None:
        await self._http.aclose()


async def sync_silences(config: Config, worker: LedgerWorker, clock: Clock,
                        client: AlertmanagerClient) -> tuple[int, int]:
    """Make Alertmanager's silences match the valid windows; (created, expired)."""
    now = clock.wall()
    want = wanted(config, now)
    ledger = worker.ledger
    have = await worker.call(ledger.read, feed_store.active_silences)
    created = expired = 0
    for key, (silence_id, start, end) in sorted(have.items()):
        entry = want.get(key)
        if entry is not None and (start, end) == (entry.start.timestamp(),
                                                  entry.end.timestamp()):
            continue
        try:
            if end > now:
                await client.expire(silence_id)
        except (CheckFailure, TimeoutError, ValueError, KeyError) as exc:
            log.warning("alertmanager_failed", action="expire", silence=silence_id,
                        error=str(exc))
            continue
        await worker.call(ledger.write, lambda c, k=key, s=silence_id: feed_store
                          .silence_removed(c, k[0], k[1], s, now))
        expired += 1
        log.info("silence_expired", contract=key[0], reference=key[1], silence=silence_id,
                 why="window over" if entry is None and end <= now else
                 "cancelled, rescheduled or invalid")
    still = await worker.call(ledger.read, feed_store.active_silences)
    for key, entry in sorted(want.items()):
        if key in still:
            continue
        try:
            silence_id = await client.create(entry)
        except (CheckFailure, TimeoutError, ValueError, KeyError, TypeError) as exc:
            log.warning("alertmanager_failed", action="create", reference=key[1],
                        error=str(exc))
            continue
        await worker.call(ledger.write, lambda c, k=key, s=silence_id, e=entry: feed_store
                          .silence_created(c, k[0], k[1], s, start=e.start.timestamp(),
                                           end=e.end.timestamp(), at=now))
        created += 1
        log.info("silence_created", contract=key[0], reference=key[1], silence=silence_id,
                 start=entry.start.isoformat(), end=entry.end.isoformat())
    return created, expired
