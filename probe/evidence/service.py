"""The daemon's evidence task: sign the chain head, timestamp it, write closed months' packs.

One named task in the daemon's TaskGroup. Every tick it signs the chain's tip when the last
head is older than `evidence.head_every` (at least daily), asks the TSA for the tokens still
missing (a TSA that is down is retried after `tsa_retry` and counted, probing never waits on
it) and writes the pack of every month that closed (`MARGIN` after its end) into
`state_dir/evidence/CONTRACT/YYYY-MM/`. The attempts a pack holds may then be pruned:
`prune_before` keeps every attempt that a pack still to be written needs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import aiohttp
import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from probe.clock import Clock
from probe.config import Config
from probe.contracts.month import Month
from probe.evidence import format as fmt
from probe.evidence.keys import evidence_dir, load_vantage_key
from probe.evidence.pack import MARGIN, PackError, closing_head, sign_head, write_pack
from probe.store import Ledger, LedgerReader, LedgerWorker, Transaction, chain

log = structlog.get_logger("sla_probe.evidence")

TICK = 60.0


def config_entries(config: Config, now: float) -> list[tuple[str, str, dict[str, Any], float,
                                                             str]]:
    """The config's maintenance entries and declared exclusions, to chain once each."""
    out = []
    for kind, items in (("maintenance", config.maintenance), ("exclusion", config.exclusions)):
        for item in items:
            body = item.model_dump(mode="json")
            key = fmt.sha256_hex(fmt.canon({"kind": kind, "config": body}).encode())
            out.append((kind, item.contract, {"action": "config", "entry": body,
                                              "recorded_by": "config"}, now, key))
    return out


class EvidenceService:
    def __init__(self, config: Config, worker: LedgerWorker, clock: Clock) -> None:
        self.config = config
        self.key = load_vantage_key(config)
        self._worker = worker
        self._clock = clock
        self._reader: LedgerReader | None = None
        self._session: aiohttp.ClientSession | None = None
        self._next_tsa = 0.0
        self._prune_bound: float | None = None
        self.heads_signed = self.timestamps = self.timestamp_failures = 0
        self.packs_written = self.pack_failures = 0

    @property
    def ledger(self) -> Ledger:
        return self._worker.ledger

    async def start(self) -> None:
        """Chain the config's maintenance and exclusions; sign a first head if none."""
        await self.reconfigure(self.config)
        await self.tick()

    async def reconfigure(self, config: Config) -> None:
        self.config = config
        added = await self._worker.call(self.ledger.chain_entries,
                                        config_entries(config, self._clock.wall()))
        if added:
            log.info("evidence_entries_chained", entries=added)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), min(TICK, self.config.evidence.tsa_retry))
                if stop.is_set():
                    break
                try:
                    await self.tick()
                except Exception:
                    log.exception("evidence_tick_failed")
        finally:
            await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def tick(self) -> None:
        now = self._clock.wall()
        last = await self._worker.call(self.ledger.read, chain.last_head)
        if last is None or now * 1000 - last[1] >= self.config.evidence.head_every * 1000:
            await self._sign(now)
        if self.config.evidence.tsa_url and now >= self._next_tsa:
            await self._timestamps(now)
        if self.config.evidence.packs:
            await self._packs(now)

    async def _sign(self, now: float) -> None:
        if await self._worker.call(sign_head, self.ledger, self.key, self.config.probe.vantage,
                                   now):
            self.heads_signed += 1
            log.info("chain_head_signed")

    async def _timestamps(self, now: float) -> None:
        # lazy: rfc3161-client costs 12 MiB of RSS, and most daemons have no TSA (issue 19)
        from probe.evidence.tsa import TsaError, request_timestamp  # noqa: PLC0415

        url = self.config.evidence.tsa_url
        assert url is not None
        pending = await self._worker.call(self.ledger.read, chain.untimestamped)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        for head_id, payload, _tries in pending:
            try:
                token = await request_timestamp(self._session, url, payload.encode(),
                                                self.config.evidence.tsa_timeout)
            except TsaError as exc:
                self.timestamp_failures += 1
                self._next_tsa = now + self.config.evidence.tsa_retry
                await self._worker.call(self.ledger.write,
                                        lambda c, i=head_id: chain.set_timestamp(c, i, None))
                log.warning("timestamp_failed", why=str(exc),
                            retry_in=self.config.evidence.tsa_retry)
                return
            await self._worker.call(self.ledger.write,
                                    lambda c, i=head_id, t=token: chain.set_timestamp(c, i, t))
            self.timestamps += 1

    async def _packs(self, now: float) -> None:
        bounds: list[float] = []
        for contract in self.config.contracts:
            first = await self._meta(f"evidence_from:{contract.name}")
            if first is None:
                first = str(Month.containing(now, contract.zone))
                await self._worker.call(self.ledger.set_meta, f"evidence_from:{contract.name}",
                                        first)
            done = await self._meta(f"evidence_packed:{contract.name}")
            month = Month.parse(done).next() if done else Month.parse(first)
            while month.bounds(contract.zone)[1] + MARGIN <= now:
                if not await self._pack(contract.name, month, now):
                    break
                month = month.next()
            bounds.append(month.bounds(contract.zone)[0] - 2 * MARGIN)
        self._prune_bound = min(bounds) if bounds else None

    async def _pack(self, name: str, month: Month, now: float) -> bool:
        end = month.bounds(self.config.contract(name).zone)[1]
        if self._reader is None:
            self._reader = Ledger.reader(self.config.probe.state_dir)
        reader = self._reader
        if await asyncio.to_thread(closing_head, reader, end) is None:
            await self._sign(now)
        out = evidence_dir(self.config) / name / str(month)
        try:
            if not out.exists():
                info = await asyncio.to_thread(write_pack, self.config, reader, self.key, name,
                                               month, out=out, now=now)
                log.info("evidence_pack_written", contract=name, month=str(month),
                         bytes=info.bytes, provisional=info.provisional)
                self.packs_written += 1
        except (PackError, OSError, ValueError) as exc:
            self.pack_failures += 1
            log.error("evidence_pack_failed", contract=name, month=str(month), why=str(exc))  # noqa: TRY400
            return False
        await self._worker.call(self.ledger.set_meta, f"evidence_packed:{name}", str(month))
        return True

    async def _meta(self, key: str) -> str | None:
        return await self._worker.call(self.ledger.meta, key)

    def prune_before(self, before: float) -> float:
        """`before`, or earlier while a pack that still needs older attempts is unwritten."""
        if not self.config.evidence.packs or self._prune_bound is None:
            return before
        return min(before, self._prune_bound)

    def metric_families(self, _config: Config, reader: LedgerReader,
                        _now: float) -> Iterable[Metric]:
        waiting = reader.read(chain.count_untimestamped) if self.config.evidence.tsa_url else 0
        last = reader.read(_last_head_at)
        yield _counter("sla_probe_evidence_heads_signed", "Chain heads signed by this process.",
                       self.heads_signed)
        yield _counter("sla_probe_evidence_timestamp_failures",
                       "RFC 3161 timestamp requests that failed (retried later).",
                       self.timestamp_failures)
        yield _counter("sla_probe_evidence_timestamps", "RFC 3161 timestamps stored.",
                       self.timestamps)
        yield _counter("sla_probe_evidence_packs_written", "Monthly evidence packs written.",
                       self.packs_written)
        yield _counter("sla_probe_evidence_pack_failures", "Evidence packs that failed.",
                       self.pack_failures)
        gauge = GaugeMetricFamily("sla_probe_evidence_heads_untimestamped",
                                  "Signed chain heads still waiting for their timestamp.")
        gauge.add_metric([], waiting)
        yield gauge
        gauge = GaugeMetricFamily("sla_probe_evidence_last_head_timestamp_seconds",
                                  "When the chain head was last signed (0: never).")
        gauge.add_metric([], last)
        yield gauge


def _last_head_at(conn: Transaction) -> float:
    head = chain.last_head(conn)
    return 0.0 if head is None else head[1] / 1000


def _counter(name: str, text: str, value: int) -> CounterMetricFamily:
    family = CounterMetricFamily(name, text)
    family.add_metric([], value)
    return family



