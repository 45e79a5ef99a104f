"""The daemon's lifecycle, after uvicorn's server: startup → main loop → shutdown.

Long-lived loops are named tasks in one TaskGroup. The first SIGTERM/SIGINT drains: no new
attempts, in-flight ones get `shutdown_grace`, ended windows are decided and committed, the
ledger is closed. A second SIGINT forces: in-flight attempts are cancelled at once. SIGHUP
reloads the config; an invalid new config is logged and the old one keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from checks.base import Resources
from probe.clock import Clock, ClockSteps, SystemClock
from probe.config import Config, load_config
from probe.contracts.exclusions import declared_exclusions, overlay
from probe.evidence.service import EvidenceService
from probe.feeds.poller import FeedPoller, imported
from probe.jobs import build_jobs, close_jobs
from probe.metrics import ExtraFamilies, LedgerCollector, build_registry, incident_metric_families
from probe.metrics.process import process_metric_families
from probe.metrics.vendor import vendor_metric_families
from probe.model import Verdict, WindowVerdict
from probe.pipeline import AttemptWriter, Decider, write_due_revisions
from probe.quorum.node import QuorumNode
from probe.scheduler import Job, Scheduler
from probe.sdnotify import SdNotifier
from probe.shard import shard_config
from probe.store import Ledger, LedgerWorker, StateDirLock
from probe.web.app import build_app, start_site
from probe.web.config import load_web_config
from probe.web.status.routes import add_status_routes
from probe.web.tickets import add_ticket_routes, ledger_recorder
from probe.workers import WorkerPool, main_part, worker_count
from probe.yamlsource import ConfigError

log = structlog.get_logger("sla_probe.daemon")

SWITCH_INTERVAL = float(os.environ.get("SLA_PROBE_SWITCH_INTERVAL", "0.0005"))  # seconds

PRUNE_EVERY = 3600.0


class ListenError(Exception):
    """The listener cannot bind: each command says which option chooses another address."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot listen on {address}: {reason}")
        self.address = address
        self.reason = reason


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        config_path: Path | None = None,
        clock: Clock | None = None,
        port: int | None = None,
        metric_extras: Sequence[ExtraFamilies] = (),
        verdict_listeners: Sequence[Callable[[Sequence[WindowVerdict]], None]] = (),
        install_signals: bool = True,
        new_ledger: bool = False,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.clock = clock or SystemClock()
        self._port = port
        self._metric_extras = list(metric_extras)
        self._listeners = list(verdict_listeners)
        self._install_signals = install_signals
        self.bound_port: int | None = None
        self.stop_event = asyncio.Event()
        self.started = asyncio.Event()
        self._force = asyncio.Event()
        self._signals = 0
        self._ledger: Ledger | None = None
        self._worker: LedgerWorker | None = None
        self._runner: web.AppRunner | None = None
        self.scheduler: Scheduler | None = None
        self.decider: Decider | None = None
        self.writer: AttemptWriter | None = None
        self._jobs: list[Job] = []
        self._resources = Resources(clock=self.clock)
        self._draining = False
        self.quorum: QuorumNode | None = None
        self.evidence: EvidenceService | None = None
        self.feeds: FeedPoller | None = None
        self.workers: WorkerPool | None = None
        self._notifier = SdNotifier()
        self._new_ledger = new_ledger
        self._lock: StateDirLock | None = None
        self._probing = False
        self._steps: ClockSteps | None = getattr(self.clock, "steps", None)
        if self._steps is not None:
            self._steps.listeners.append(self._on_clock_step)

    # -- lifecycle -------------------------------------------------------------------------

    async def serve(self) -> int:
        try:
            await self.startup()
        except BaseException:
            await self.shutdown(quiet=True)  # a failed start says why in one line (the CLI)
            raise
        try:
            await self.main_loop()
        finally:
            await self.shutdown()
        return 0

    async def startup(self) -> None:
        """Lock the state directory, open the ledger, bind the listener, then catch up.

        The lock comes before any read or write, and the listener is bound before the
        start-up catch-up decides anything: a daemon that cannot run (directory in use, port
        taken) fails before it has written a single verdict."""
        config = self.config
        probe = config.probe
        self._lock = StateDirLock(probe.state_dir)
        self._lock.acquire()
        # TLS and basic auth for the listener; a bad file stops us before anything starts.
        web_config = (
            None if probe.web_config_file is None
            else load_web_config(probe.web_config_file)
        )
        for notice in web_config.notices if web_config is not None else ():
            log.info("web_config_notice", notice=notice)
        self._ledger = Ledger(probe.state_dir, new_ledger=self._new_ledger)
        self._worker = LedgerWorker(self._ledger)
        reader = Ledger.reader(probe.state_dir)
        # Maintenance the vendor feeds announced joins the plan (issue 18, probe/feeds).
        config = self.config = await imported(config, self._worker)
        self.feeds = FeedPoller(lambda: self.config, self._worker, self.clock,
                                on_change=self._vendor_changed)
        self._metric_extras += [self.feeds.metric_families, vendor_metric_families]
        # With workers (probe/workers/), this process probes only the controls.
        workers = worker_count(config)
        self._jobs = build_jobs(config if workers == 1 else main_part(config),
                                self._resources)
        self.writer = AttemptWriter(self._worker, self.clock)
        if workers > 1:
            self.workers = WorkerPool(config, workers, self.writer.put,
                                      config.probe.log_level)
        self.decider = Decider(config, self._worker, self.writer, self.clock,
                               adjust=self._exclusions, inflight_oldest=self._oldest_inflight)
        for listener in self._listeners:
            self.decider.subscribe(listener)
        self.decider.subscribe(self._log_verdicts)
        if config.quorum is not None:
            self.quorum = QuorumNode(config, self._worker, self.clock, adjust=self._exclusions)
            self._ledger.add_verdict_hook(self.quorum.outbox_hook)
            self.decider.subscribe(self.quorum.on_local_verdicts)
            self._metric_extras.append(self.quorum.metric_families)
        # the chained ledger's key (docs/evidence.md); it writes only after the bind below
        self.evidence = EvidenceService(config, self._worker, self.clock)
        self._metric_extras.append(self.evidence.metric_families)
        self.scheduler = Scheduler(
            self._jobs, self.clock, self.writer.put, max_concurrency=probe.max_concurrency,
            spread=probe.spread, jitter=probe.jitter,
        )
        if self.workers is not None:
            self.workers.on_lag = self.scheduler.lag.observe
        collector = LedgerCollector(
            lambda: self.config, reader, self.clock.wall, self.scheduler,
            [incident_metric_families, process_metric_families(self._steps),
             *self._metric_extras],
        )
        app = build_app(
            registry=build_registry(collector), config=lambda: self.config, reader=reader,
            ready=self.ready, now=self.clock.wall,
            middlewares=[] if web_config is None else [
                web_config.middleware(public_paths=("/-/healthy", "/-/ready"))
            ],
        )
        add_status_routes(app, lambda: self.config, lambda: reader, self.clock)
        add_ticket_routes(  # issue 16: writes only behind authentication
            app, config=lambda: self.config, reader=lambda: reader,
            record=ledger_recorder(lambda: self._ledger, self._worker.call),
            now=self.clock.wall,
            authenticated=web_config is not None and web_config.authenticates)
        port = probe.port if self._port is None else self._port
        try:
            self._runner, self.bound_port = await start_site(
                app, probe.host, port,
                ssl_context=None if web_config is None else web_config.ssl_context(),
            )
        except OSError as exc:
            await self.shutdown(quiet=True)
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ListenError(f"{probe.host}:{port}", reason) from None
        if self._install_signals:
            self._setup_signals()
        if self.quorum is not None and self.quorum.decider is not None:
            await self.quorum.decider.start()
        await self.decider.start()
        await self._revise_exclusions()
        # the config's entries and a first signed head in the chain
        await self.evidence.start()
        gaps = await self.decider.decide_ready()
        if gaps:
            log.info("caught_up", windows=len(gaps),
                     no_data=sum(v.verdict == Verdict.NO_DATA for v in gaps))
        log.info("started", vantage=probe.vantage, listen=f"{probe.host}:{self.bound_port}",
                 checks=len(self._jobs), contracts=len(config.contracts),
                 state_dir=str(probe.state_dir),
                 shard=f"{probe.shard.index}/{probe.shard.count}")
        # Everything built so far (config, checks, jobs) lives as long as the daemon: move it
        # out of the cyclic collector's sight, so that full collections, which attempts'
        # garbage triggers, do not walk ten thousand checks' objects each time (schedule
        # lag spikes of seconds at 10,000 checks, see BENCHMARKS.md).
        gc.collect()
        gc.freeze()
        # The ledger thread and a scrape's exposition run Python on other threads; the
        # event loop gets the GIL back after at most this long instead of the default
        # 5 ms, which at thousands of attempts a second is the difference between a few
        # milliseconds and a hundred of schedule lag (BENCHMARKS.md, issue 19).
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._probing = True
        self.started.set()

    async def main_loop(self) -> None:
        assert self.scheduler is not None
        assert self.writer is not None
        assert self.decider is not None
        scheduler, writer, decider = self.scheduler, self.writer, self.decider
        writer_stop = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(scheduler.run(), name="scheduler")
                group.create_task(writer.run(writer_stop), name="attempt-writer")
                group.create_task(decider.run(self.stop_event), name="decider")
                group.create_task(self._prune_loop(), name="pruner")
                if self.workers is not None:
                    group.create_task(self.workers.run(self.stop_event), name="workers")
                if self.evidence is not None:
                    group.create_task(self.evidence.run(self.stop_event), name="evidence")
                if self.feeds is not None:
                    group.create_task(self.feeds.run(self.stop_event), name="vendor-feeds")
                if self.quorum is not None:
                    group.create_task(self.quorum.link.run(self.stop_event), name="mqtt-link")
                    if self.quorum.decider is not None:
                        group.create_task(self.quorum.decider.run(self.stop_event),
                                          name="quorum-decider")
                group.create_task(self._systemd(scheduler), name="systemd-notify")
                await self.stop_event.wait()
                self._draining = True
                self._notifier.stopping()
                scheduler.stop()
                grace = 0.0 if self._force.is_set() else self.config.probe.shutdown_grace
                drain = asyncio.create_task(scheduler.drain(grace), name="drain")
                force = asyncio.create_task(self._force.wait(), name="force-wait")
                await asyncio.wait({drain, force}, return_when=asyncio.FIRST_COMPLETED)
                if not drain.done():
                    log.warning("forced_exit", inflight=scheduler.inflight)
                    drain.cancel()
                    await scheduler.drain(0)
                force.cancel()
                writer_stop.set()
        finally:
            with contextlib.suppress(Exception):
                await decider.decide_ready(final=True)

    async def shutdown(self, *, quiet: bool = False) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await close_jobs(self._jobs)
        self._jobs = []  # a failed start shuts down twice (at the bind, then in serve)
        if self._worker is not None:
            if self.writer is not None and self.writer.pending:
                with contextlib.suppress(Exception):
                    await self.writer.flush()
            self._worker.close()
            self._worker = None
        if self._install_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
        self._notifier.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if not quiet:  # a daemon that never started says why once, not "stopped" too
            log.info("stopped")

    # -- control ---------------------------------------------------------------------------

    def request_stop(self, force: bool = False) -> None:
        self.stop_event.set()
        if force:
            self._force.set()

    def _oldest_inflight(self) -> float | None:
        """Before the scheduler runs nothing is under way (startup catch-up)."""
        if self.scheduler is None or not self._probing:
            return None
        oldest = [t for t in (self.scheduler.oldest_inflight(),
                              None if self.workers is None else self.workers.oldest_inflight())
                  if t is not None]
        return min(oldest) if oldest else None

    def ready(self) -> tuple[bool, str]:
        if self._draining:
            return False, "draining"
        if self.scheduler is None or (self._jobs and self.scheduler.ticks == 0):
            return False, "starting"
        return True, "ready"

    def _setup_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self._on_stop_signal, "SIGINT")
        loop.add_signal_handler(signal.SIGTERM, self._on_stop_signal, "SIGTERM")
        loop.add_signal_handler(signal.SIGHUP, self._on_reload_signal)

    def _on_stop_signal(self, name: str) -> None:
        """Stop first, log after: a log line that cannot be written never keeps us running."""
        self._signals += 1
        force = self._signals > 1
        self.request_stop(force=force)
        if force:
            log.warning("forcing", signal=name)
        else:
            log.info("stopping", signal=name, grace=self.config.probe.shutdown_grace)

    def _on_clock_step(self, seconds: float) -> None:
        """Log a wall-clock step; attempts stamped into decided windows are re-decided."""
        log.warning("clock_step", seconds=round(seconds, 3),
                    direction="backward" if seconds < 0 else "forward")

    def _on_reload_signal(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload(), name="reload")
        task.add_done_callback(_log_reload_failure)

    async def reload(self, new: Config | None = None) -> bool:
        """Swap in a new config; on any problem keep the running one and say why."""
        if new is None:
            if self.config_path is None:
                log.warning("reload_ignored", why="no config file")
                return False
            try:
                new = await asyncio.to_thread(load_config, self.config_path)
                # The shard chosen at start (`--shard` or probe.shard) holds until restart.
                new = shard_config(new, self.config.probe.shard)
            except ConfigError as exc:
                log.error("reload_rejected", problems=exc.problems)  # noqa: TRY400
                return False
            except Exception as exc:  # MemoryError, a bug: the running config stays, loudly
                log.exception("reload_rejected", problems=[f"{type(exc).__name__}: {exc}"])
                return False
        try:
            jobs = build_jobs(new if self.workers is None else main_part(new),
                              self._resources)
        except ValueError as exc:
            log.error("reload_rejected", problems=[str(exc)])  # noqa: TRY400
            return False
        if new.probe.listen != self.config.probe.listen or \
                new.probe.state_dir != self.config.probe.state_dir:
            log.warning("reload_partial", why="listen and state_dir change only on restart")
        if new.quorum != self.config.quorum or new.probe.vantage != self.config.probe.vantage:
            log.warning("reload_partial", why="quorum and vantage change only on restart")
        assert self.scheduler is not None
        assert self.decider is not None
        assert self._worker is not None
        new = await imported(new, self._worker)
        self._notifier.reloading()
        old, self._jobs = self._jobs, jobs
        self.config = new
        self.decider.config = new
        if self.quorum is not None:
            self.quorum.set_config(new)  # contracts; broker, keys, peers and rule need a restart
            if self.quorum.decider is not None:
                await self.quorum.decider.start()
        await self.decider.start()
        await self._revise_exclusions()
        if self.evidence is not None:
            await self.evidence.reconfigure(new)
        self.scheduler.replace_jobs(jobs)
        if self.workers is not None:
            self.workers.reconfigure(new)
        log.info("reloaded", checks=len(jobs), contracts=len(new.contracts))
        self._notifier.ready(f"probing {len(jobs)} checks")
        await asyncio.sleep(new.max_timeout() + 0.5)
        await close_jobs(old)
        return True

    async def _vendor_changed(self) -> None:
        """A feed announced, moved or cancelled maintenance: re-judge the plan and revise
        the windows it touches (as for a reload; an unchanged window stays as it is)."""
        assert self._worker is not None
        assert self.decider is not None
        self.config = self.decider.config = await imported(self.config, self._worker)
        if self.quorum is not None:
            self.quorum.set_config(self.config)
        await self._revise_exclusions()

    def _exclusions(self, config: Config, verdicts: list[WindowVerdict]) -> list[WindowVerdict]:
        """Maintenance and declared exclusions (config and ledger) over fresh verdicts."""
        assert self._ledger is not None
        declared = declared_exclusions(config, self._ledger)
        return [overlay(config, v, declared) for v in verdicts]

    async def _revise_exclusions(self) -> None:
        """Windows decided before an exclusion was known get a new revision (never an edit)."""
        assert self._worker is not None
        written = 0
        scopes = ["local"] if self.quorum is None or self.quorum.decider is None \
            else ["local", "quorum"]
        for scope in scopes:
            written += await self._worker.call(
                write_due_revisions, self._worker.ledger, self.config, self.clock.wall(), scope
            )
        if written:
            log.info("exclusions_applied", revisions=written)

    async def _systemd(self, scheduler: Scheduler) -> None:
        """READY=1 once the ledger is open and the scheduler has ticked; then the watchdog,
        pinged from the event loop only while the scheduler makes progress."""
        notifier = self._notifier
        if not notifier.enabled:
            return
        while self._jobs and scheduler.ticks == 0 and not self.stop_event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), 0.05)
        if self.stop_event.is_set():
            return
        notifier.ready(f"probing {len(self._jobs)} checks")
        await notifier.keep_alive(lambda: scheduler.heartbeat, self.stop_event)

    async def _prune_loop(self) -> None:
        retention = self.config.probe.attempt_retention
        while not self.stop_event.is_set():
            assert self._worker is not None
            try:
                before = self.clock.wall() - retention
                if self.evidence is not None:  # only what a closed evidence pack holds
                    before = self.evidence.prune_before(before)
                removed = await self._worker.call(self._worker.ledger.prune_attempts, before)
                if removed:
                    log.info("attempts_pruned", removed=removed)
            except Exception:
                log.exception("prune_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), PRUNE_EVERY)

    @staticmethod
    def _log_verdicts(verdicts: Sequence[WindowVerdict]) -> None:
        for v in verdicts:
            event: dict[str, Any] = {
                "contract": v.contract, "service": v.service, "window_start": v.window_start,
                "verdict": v.verdict.value, "reason": v.reason.value,
                "attempts": v.attempts, "failures": v.failures,
                "failure_classes": list(v.failure_classes), "revision": v.revision,
            }
            if v.verdict == Verdict.DOWN:
                log.warning("window_down", **event)
            else:
                log.debug("window_decided", **event)


def _log_reload_failure(task: asyncio.Task[bool]) -> None:
    """A reload that failed after the new config was accepted is logged, never swallowed."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("reload_rejected", problems=[f"{type(exc).__name__}: {exc}"],
                  exc_info=exc)
