"""The `vendor-feeds` task: polls each feed on its interval, stores what changed, tells the
daemon, and keeps Alertmanager's silences in step.

Every request goes through the checks' HTTP client (`checks.transport.http`): the same TLS
options, the same capped read (a 1 GB answer stops at `max_body`), the same failure classes.
A feed that is down, slow, garbage or in another format is logged (`vendor_feed_failed`, with
the feed, URL and why), sets `sla_probe_vendor_feed_up` to 0, and changes nothing: what was
stored stays, the maintenance plan keeps what it had, no verdict moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric

from checks.base import CheckFailure
from checks.transport.http import HttpClient
from probe.contracts.vendor import Announcement, Version
from probe.feeds import formats
from probe.feeds.plan import with_vendor_maintenance
from probe.feeds.silences import AlertmanagerClient, sync_silences
from probe.store import feeds as feed_store

if TYPE_CHECKING:
    from probe.clock import Clock
    from probe.config import Config
    from probe.feeds.config import VendorFeedConfig
    from probe.store import LedgerReader, LedgerWorker, Transaction

log = structlog.get_logger("sla_probe.feeds")

STATUSPAGE_PATHS = ("/api/v2/incidents.json", "/api/v2/scheduled-maintenances.json",
                    "/api/v2/components.json")


class FeedError(Exception):
    """One poll failed; the message says why, for the log line."""


@dataclasses.dataclass(slots=True)
class FeedState:
    up: bool | None = None
    last_success: float | None = None
    last_error: str = ""
    announcements: int = 0
    unknown_components: tuple[str, ...] = ()
    next_due: float = 0.0


async def imported(config: Config, worker: LedgerWorker) -> Config:
    """`config` with its feeds' maintenance from the ledger (read on the ledger thread)."""
    if not config.vendor_feeds:
        return config
    return await worker.call(with_vendor_maintenance, config, worker.ledger)


def _vanished(feed: str, history: dict[tuple[str, str], list[Version]],
              present: set[str], now: float) -> list[Announcement]:
    """iCalendar occurrences we saw in the future that the calendar no longer lists (an EXDATE
    added, the event deleted): a new version marked cancelled. Other formats drop finished
    items from their lists, so absence means nothing there."""
    out = []
    for (name, vid), versions in history.items():
        a = versions[-1].announcement
        if name == feed and vid not in present and not a.cancelled and a.start is not None \
                and a.start > now:
            out.append(dataclasses.replace(a, cancelled=True, status="REMOVED from calendar"))
    return out


class FeedPoller:
    def __init__(self, config: Callable[[], Config], worker: LedgerWorker, clock: Clock,
                 on_change: Callable[[], Awaitable[None]] | None = None) -> None:
        self._config = config
        self._worker = worker
        self._clock = clock
        self._on_change = on_change
        self.state: dict[str, FeedState] = {}
        self._clients: dict[str, HttpClient] = {}
        self._alertmanager: AlertmanagerClient | None = None

    # -- one poll ------------------------------------------------------------------------

    async def _get(self, feed: VendorFeedConfig, url: str) -> bytes:
        client = self._clients.get(feed.name)
        if client is None:
            client = self._clients[feed.name] = HttpClient(
                clock=self._clock, https=url.startswith("https:"), tls=feed.tls)
        headers = {"Accept": "application/json, text/calendar, application/xml;q=0.9, */*"}
        headers |= feed.headers
        try:
            exchange = await client.exchange("GET", url, headers=headers,
                                             max_body=feed.max_body, follow_redirects=True)
        except CheckFailure as exc:
            raise FeedError(f"{url}: {exc.failure_class}: {exc.detail}") from None
        if exchange.status != 200:
            raise FeedError(f"{url}: HTTP {exchange.status}")
        return exchange.body

    async def fetch(self, feed: VendorFeedConfig) -> list[Announcement]:
        """The feed's announcements now; `FeedError` says why not."""
        base = feed.url.rstrip("/")
        try:
            async with asyncio.timeout(feed.timeout):
                if feed.format == "statuspage":
                    bodies = [await self._get(feed, base + p) for p in STATUSPAGE_PATHS]
                    self._check_components(feed, formats.statuspage_components(bodies[2]))
                    return formats.statuspage(bodies[0], bodies[1])
                body = await self._get(feed, feed.url)
                if feed.format == "instatus":
                    return formats.instatus(body)
                if feed.format == "betterstack":
                    return formats.betterstack(body)
                return _calendar_feed(feed, body, self._clock.wall())
        except TimeoutError:
            raise FeedError(f"no complete answer within {feed.timeout:g}s") from None
        except formats.FeedFormatError as exc:
            raise FeedError(f"format: {exc}") from None

    def _check_components(self, feed: VendorFeedConfig, components: dict[str, str]) -> None:
        known = set(components) | set(components.values())
        unknown = tuple(sorted(k for k in feed.components if k != "*" and k not in known))
        state = self.state.setdefault(feed.name, FeedState())
        if unknown != state.unknown_components:
            if unknown:
                log.error("vendor_feed_unknown_components", feed=feed.name,
                          components=list(unknown), vendor_components=sorted(components.values()))
            state.unknown_components = unknown

    async def poll(self, feed: VendorFeedConfig) -> list[Version]:
        """Poll once; the versions written (empty when nothing changed or the poll failed)."""
        state = self.state.setdefault(feed.name, FeedState())
        try:
            announcements = await self.fetch(feed)
        except Exception as exc:
            error = str(exc) if isinstance(exc, FeedError) else f"{type(exc).__name__}: {exc}"
            if state.up is not False or state.last_error != error:
                log.warning("vendor_feed_failed", feed=feed.name, format=feed.format,
                            url=feed.url, error=error,
                            effect="nothing recorded changes; maintenance plan kept")
            state.up, state.last_error = False, error
            return []
        now = self._clock.wall()
        if state.up is False:
            log.info("vendor_feed_recovered", feed=feed.name, after=state.last_error)
        state.up, state.last_error, state.last_success = True, "", now
        state.announcements = len(announcements)

        def store(conn: Transaction) -> list[Version]:
            extra: list[Announcement] = []
            if feed.format == "ical":
                extra = _vanished(feed.name, feed_store.versions(conn, [feed.name]),
                                  {a.vendor_id for a in announcements}, now)
            return feed_store.record(conn, feed.name, [*announcements, *extra], now,
                                     contract=feed.contract)

        written = await self._worker.call(self._worker.ledger.write, store)
        for v in written:
            a = v.announcement
            log.info("vendor_announcement", feed=feed.name, vendor_id=a.vendor_id,
                     version=v.number, kind=a.kind, title=a.title, cancelled=a.cancelled,
                     start=a.start, end=a.end, created_at=a.created_at)
        return written

    # -- the task ------------------------------------------------------------------------

    async def sync_silences(self) -> None:
        config = self._config()
        if config.alertmanager is None:
            return
        if self._alertmanager is None or self._alertmanager.settings != config.alertmanager:
            if self._alertmanager is not None:
                await self._alertmanager.aclose()
            self._alertmanager = AlertmanagerClient(config.alertmanager, self._clock)
        async with asyncio.timeout(config.alertmanager.timeout * 4):
            await sync_silences(config, self._worker, self._clock, self._alertmanager)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll each feed when due, until `stop`; a change refreshes the plan and silences."""
        first = True
        try:
            while not stop.is_set():
                now = self._clock.wall()
                changed = False
                feeds = self._config().vendor_feeds
                for feed in feeds:
                    state = self.state.setdefault(feed.name, FeedState())
                    if state.next_due <= now:
                        state.next_due = now + feed.interval
                        changed |= bool(await self.poll(feed))
                try:
                    if changed and self._on_change is not None:
                        await self._on_change()
                    if changed or first:
                        first = False
                        await self.sync_silences()
                except TimeoutError:
                    log.warning("alertmanager_failed", action="sync", error="timeout")
                except Exception:
                    log.exception("vendor_feed_apply_failed")
                due = min((self.state[f.name].next_due for f in feeds), default=now + 60)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.05, due - self._clock.wall()))
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        if self._alertmanager is not None:
            await self._alertmanager.aclose()
            self._alertmanager = None

    def metric_families(self, config: Config, _reader: LedgerReader, now: float
                        ) -> list[Metric]:
        """`sla_probe_vendor_feed_*`: whether each feed's last poll worked, and when one did."""
        up = GaugeMetricFamily("sla_probe_vendor_feed_up",
                               "1 if the vendor feed's last poll was read and parsed, else 0.",
                               labels=["feed", "contract", "format"])
        last = GaugeMetricFamily("sla_probe_vendor_feed_last_success_timestamp_seconds",
                                 "When the vendor feed was last read and parsed.",
                                 labels=["feed", "contract", "format"])
        for feed in config.vendor_feeds:
            state = self.state.get(feed.name)
            if state is None or state.up is None:
                continue
            labels = [feed.name, feed.contract, feed.format]
            up.add_metric(labels, 1.0 if state.up else 0.0)
            if state.last_success is not None:
                last.add_metric(labels, state.last_success)
        return [up, last]



def _calendar_feed(feed: VendorFeedConfig, body: bytes, now: float) -> list[Announcement]:
    """An iCalendar or RSS feed's announcements. Its parsers are imported here, on first
    use: icalendar, recurring-ical-events and feedparser cost about 8 MiB of RSS in every
    daemon, and only calendar and RSS feeds need them (issue 19)."""
    from probe.feeds import calendar  # noqa: PLC0415

    if feed.format == "ical":
        return calendar.ical(body, now, feed.ical_component_property)
    return calendar.rss(body)
