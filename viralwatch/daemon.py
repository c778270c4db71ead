"""The composition root: wires settings, collectors, storage and the scheduler together."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from alembic.util import CommandError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from alerts.budgets import BudgetWatch
from alerts.measures import Measures
from alerts.service import build_alert_service
from collectors.base import Clock, PostRef, RunReport, SinkUnavailable, manual_post, utc_now
from collectors.bluesky import HandleResolver
from collectors.http import RequestPolicy, build_client
from collectors.registry import collector_classes, stored_platform
from collectors.runner import CollectorRunner
from config.redact import mask_url
from config.settings import CollectorSettings, Settings
from storage import health
from storage.budgets import budget_statuses
from storage.db import StorageError, check_schema, describe_url, make_engine, upgrade
from storage.locks import job_lock
from storage.maintenance import Retention, maintain
from storage.schedule import due_counts
from storage.write import StorageSink, VideoInput
from viralwatch.budget_gate import BudgetGate
from viralwatch.metrics import Metrics
from viralwatch.plan import plan_collectors
from viralwatch.planner import discover_pass, refresh_pass, scheduling_for
from viralwatch.spool import OUTAGE_ERRORS, SpoolingSink, outage_reason, spool_path

logger = logging.getLogger("viralwatch.daemon")


@dataclass(frozen=True, slots=True)
class Cadence:
    """How often one collector's jobs run: its config's override, else its declared default."""

    discover_seconds: int
    refresh_seconds: int


def cadence(config: CollectorSettings, collector: type[Any]) -> Cadence:
    # The collector knows how fast its counters move and what its quota allows; the config may
    # only say otherwise on purpose (the demo runs every 20 seconds).
    return Cadence(
        config.interval_seconds or int(collector.spec.default_interval.total_seconds()),
        config.refresh_interval_seconds
        or int(collector.spec.default_refresh_interval.total_seconds()),
    )


@dataclass(slots=True)
class Wiring:
    """Live runners and the clients they own."""

    runners: list[CollectorRunner] = field(default_factory=list)
    cadences: dict[str, Cadence] = field(default_factory=dict)
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    gates: dict[str, BudgetGate] = field(default_factory=dict)


def url_identifier(settings: Settings) -> Callable[[str], PostRef]:
    """Hand-added URL -> post: a platform's own post where that platform's collector runs
    (it alone can refresh any post of it), a yt-dlp `urls` post everywhere else."""
    classes = collector_classes()
    collected = {
        plan.name
        for plan in plan_collectors(settings)
        if plan.state == "enabled"
        and plan.name != "urls"
        and stored_platform(classes[plan.name]) == plan.name
    }
    lemmy_hosts = tuple(settings.collectors.lemmy.instances)
    resolver = None
    if "bluesky" in collected:
        # Lives as long as the process: adding URLs by hand is rare and needs no pool.
        client = httpx.Client(
            base_url=settings.collectors.bluesky.base_url,
            timeout=settings.scheduler.http_timeout_seconds,
            headers={"User-Agent": settings.scheduler.user_agent},
        )
        resolver = HandleResolver(client)
    return functools.partial(
        manual_post,
        platforms=frozenset(collected),
        lemmy_hosts=lemmy_hosts,
        resolve_handle=resolver,
    )


def open_storage(
    settings: Settings, clock: Clock, *, migrate: bool = False
) -> tuple[Engine, StorageSink]:
    """Engine and sink on `storage.url`; StorageError (one line) when it cannot be used.

    With `migrate` (run, collect, db upgrade) the schema is created or upgraded and the config
    file's changed videos are applied. Without it nothing is written: the schema must already
    be current, and is only read to check that (issue 10).
    """
    url = settings.storage.url.get_secret_value()
    check_database_url(url, creating=migrate)
    engine = make_engine(url, sqlite_busy_timeout_ms=settings.storage.sqlite_busy_timeout_ms)
    if not migrate:
        check_schema(engine)
        return engine, StorageSink(
            engine, clock, url_identifier(settings), settings.daemon.misses_before_gone
        )
    try:
        upgrade(engine)
    except CommandError as err:
        raise StorageError(
            f"cannot upgrade database {describe_url(engine)}: {err}; "
            "it was made by a newer viralwatch: upgrade viralwatch"
        ) from None
    except OperationalError as err:
        reason = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
        raise StorageError(
            f"cannot open database {describe_url(engine)}: {mask_url(reason)}; check storage.url"
        ) from None
    sink = StorageSink(engine, clock, url_identifier(settings), settings.daemon.misses_before_gone)
    applied = sink.sync_config_videos([VideoInput.of(v, source="config") for v in settings.videos])
    if applied:
        logger.info("applied config videos: %s", ", ".join(applied))
    return engine, sink


def check_database_url(url: str, *, creating: bool) -> None:
    """Refuse an in-memory SQLite database (lost at exit) and, when `creating`, a SQLite file
    whose folder does not exist (a typo there would otherwise start an empty database)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError("storage.url is not a valid database URL; see README") from None
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database or ""
    if not database or ":memory:" in database or parsed.query.get("mode") == "memory":
        raise StorageError(
            "storage.url is an in-memory SQLite database, lost at exit; "
            "use a file, e.g. sqlite:///viralwatch.db"
        )
    folder = Path(database).parent
    if creating and not folder.is_dir():
        raise StorageError(
            f"folder {folder} for the SQLite database does not exist; create it or fix storage.url"
        )


def wire(
    settings: Settings,
    sink: StorageSink,
    clock: Clock,
    only: Sequence[str] = (),
    metrics: Metrics | None = None,
) -> Wiring:
    """Build a runner per enabled collector; record a 'disabled' run for missing credentials."""
    wiring = Wiring()
    classes = collector_classes()
    refreshed_platforms: set[str] = set()
    for plan in plan_collectors(settings, only):
        if plan.state == "missing credentials":
            logger.warning("%s: disabled: missing credentials; %s", plan.name, plan.detail)
            now = clock()
            sink.record_run(
                RunReport(
                    collector=plan.name,
                    kind="discover",
                    started_at=now,
                    finished_at=now,
                    status="disabled",
                    error_message=f"missing credentials: {plan.detail}",
                )
            )
            continue
        if plan.state != "enabled" or plan.config is None:
            continue
        scheduler = settings.scheduler
        client = build_client(
            timeout_seconds=scheduler.http_timeout_seconds,
            # Reddit requires its own descriptive User-Agent; the others share the scheduler's.
            user_agent=getattr(plan.config, "user_agent", scheduler.user_agent),
            max_connections=scheduler.max_concurrent_requests,
            policy=RequestPolicy(
                deadline_seconds=scheduler.http_deadline_seconds,
                max_body_bytes=scheduler.max_body_bytes,
                max_wait_seconds=scheduler.max_retry_after_seconds,
                attempts=scheduler.http_attempts,
            ),
        )
        collector = classes[plan.name](client=client, clock=clock, config=plan.config)
        gate = BudgetGate(sink.engine, plan.name, classes[plan.name].spec.quotas, clock)
        gate.install(client)
        wiring.gates[plan.name] = gate
        runner = CollectorRunner(collector, sink, clock, client)
        if metrics is not None:
            metrics.watch_client(client, runner.platform)
        # Two collectors of one platform (youtube, youtube_rss): the first listed refreshes.
        if runner.platform in refreshed_platforms:
            runner.refreshes = False
        refreshed_platforms.add(runner.platform)
        wiring.runners.append(runner)
        wiring.cadences[plan.name] = cadence(plan.config, classes[plan.name])
        wiring.clients.append(client)
    fastest = {
        r.platform: wiring.cadences[r.name].refresh_seconds for r in wiring.runners if r.refreshes
    }
    sink.scheduling = scheduling_for(settings, fastest, sink.scheduling.owner)
    return wiring


async def close(wiring: Wiring) -> None:
    for client in wiring.clients:
        await client.aclose()


async def collect_once(
    settings: Settings,
    sink: StorageSink,
    clock: Clock,
    only: Sequence[str] = (),
    on_start: Callable[[int], None] | None = None,
    on_report: Callable[[RunReport], None] | None = None,
) -> list[RunReport]:
    """One discovery pass, then one refresh pass, for each enabled collector; collectors run
    side by side (each talks to its own platform).

    `on_start(total_runs)` and `on_report(report)` let a caller show progress.
    """
    wiring = wire(settings, sink, clock, only)
    reports: list[RunReport] = []
    if on_start is not None:
        on_start(2 * len(wiring.runners))
    try:

        async def reported(run: Coroutine[Any, Any, RunReport | None]) -> RunReport | None:
            report = await run
            if report is not None and on_report is not None:
                on_report(report)
            return report

        found = await asyncio.gather(
            *(
                reported(
                    discover_pass(
                        r,
                        wiring.gates[r.name],
                        sink,
                        wiring.cadences[r.name].discover_seconds,
                        everything=True,
                    )
                )
                for r in wiring.runners
            )
        )
        found += await asyncio.gather(
            *(
                reported(refresh_pass(r, wiring.gates[r.name], settings, everything=True))
                for r in wiring.runners
            )
        )
        reports += [r for r in found if r is not None]
    finally:
        await close(wiring)
    return reports


class Daemon:
    """APScheduler jobs per collector: discovery and refresh, never overlapping themselves."""

    def __init__(
        self,
        settings: Settings,
        sink: StorageSink,
        clock: Clock,
        schedule_clock: Clock = utc_now,
        after_write: Callable[[], None] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.after_write = after_write  # the alerts hook: returns at once (issue 12)
        # Writes that fail while the database is down are kept and replayed (issue 13).
        self.sink = SpoolingSink(
            sink.engine,
            sink.clock,
            settings.daemon.spool_max_items,
            spool_path(settings.daemon.spool_file, sink.engine),
            misses_before_gone=sink.misses_before_gone,
        )
        self.metrics = metrics or Metrics()
        self.daemon_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._started_at = clock()
        self._last_beat_at: datetime | None = None
        self._last_beat_wall: datetime | None = None
        self.clock = clock  # stamps the data (observed_at, first_seen_at)
        self.schedule_clock = schedule_clock  # drives APScheduler: always wall-clock time
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.wiring = Wiring()
        self._inflight: set[asyncio.Task[Any]] = set()
        self._running: set[str] = set()
        self._wake_refresh: set[str] = set()  # collectors whose discovery found posts to read
        self.stopping = asyncio.Event()

    def start(self) -> None:
        """Wire collectors and schedule their jobs (first runs start immediately)."""
        self.wiring = wire(self.settings, self.sink, self.clock, metrics=self.metrics)
        common = {
            "max_instances": 1,
            "coalesce": True,
            "jitter": self.settings.scheduler.jitter_seconds or None,
            "misfire_grace_time": self.settings.scheduler.misfire_grace_seconds,
        }
        now = self.schedule_clock()
        tick = self.settings.schedule.tick_seconds
        for runner in self.wiring.runners:
            every = self.wiring.cadences[runner.name]
            # Jobs only look for what is due (queries and posts, in the database), so they run
            # every tick; refresh starts a little after discovery to see the new posts.
            jobs = (
                ("discover", self._discover, min(tick, every.discover_seconds), 0),
                ("refresh", self._refresh, min(tick, every.refresh_seconds), 5),
            )
            for kind, job, seconds, delay in jobs:
                self.scheduler.add_job(
                    job,
                    "interval",
                    args=[runner],
                    id=f"{runner.name}:{kind}",
                    seconds=seconds,
                    next_run_time=now + timedelta(seconds=delay),
                    **common,
                )
        storage = self.settings.storage
        self.scheduler.add_job(
            self._maintain,
            "interval",
            id="storage:maintenance",
            hours=storage.maintenance_interval_hours,
            next_run_time=now,
            **common,
        )
        self.scheduler.add_job(
            self._heartbeat,
            "interval",
            id="daemon:heartbeat",
            seconds=self.settings.daemon.heartbeat_seconds,
            next_run_time=now,
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.start()
        logger.info(
            "collecting with %s", ", ".join(r.name for r in self.wiring.runners) or "no collectors"
        )

    async def _heartbeat(self) -> None:
        if self.stopping.is_set():
            return
        try:
            await asyncio.to_thread(self.beat)
        except asyncio.CancelledError:
            # Stopping while the database does not answer: the stop is recorded in `stop`.
            logger.debug("heartbeat cancelled by the shutdown")

    def beat(self) -> None:
        """Record that this daemon is alive, replay writes kept during an outage and refresh the
        backlog metrics. A database that is down only makes the beat go missing."""
        now, wall = self.clock(), self.schedule_clock()
        interval = float(self.settings.daemon.heartbeat_seconds)
        if self._last_beat_at is not None and self._last_beat_wall is not None:
            # Stamped on the data clock: a demo's clock runs `speed` times faster than the wall
            # clock the beats are scheduled on, so its interval is that much longer (1x in
            # production, so a stall never stretches it).
            data = (now - self._last_beat_at).total_seconds()
            real = (wall - self._last_beat_wall).total_seconds()
            interval *= max(1.0, data / real) if real > 0 else 1.0
        row = health.HeartbeatRow(
            self.daemon_id, socket.gethostname(), os.getpid(), self._started_at, now, interval, None
        )
        self.metrics.spooled.set(self.sink.pending_items)
        if not self.sink.flush():
            return
        try:
            health.beat(self.sink.engine, row)
            self.metrics.record_backlog(due_counts(self.sink.engine, now, self.sink.scheduling))
            self.metrics.record_budgets(budget_statuses(self.sink.engine, now))
        except OUTAGE_ERRORS as err:
            logger.debug("heartbeat not stored: %s", outage_reason(err))
            return
        self._last_beat_at, self._last_beat_wall = now, wall
        self.metrics.heartbeat.set(now.timestamp())

    @contextmanager
    def _in_flight(self) -> Iterator[None]:
        """Count the current job as running from its first line, so `stop` waits for it."""
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            yield
        finally:
            self._inflight.discard(task)

    async def _tracked(
        self, job_id: str, job: Coroutine[Any, Any, RunReport | None]
    ) -> RunReport | None:
        """Run `job`, noting that it runs. Daemons sharing a database split the work through
        leases on each query and post (storage/schedule.py), so no connection is held for the
        length of a job."""
        self._running.add(job_id)
        try:
            return await job
        finally:
            self._running.discard(job_id)

    async def _maintain(self) -> None:
        """Retention and partitions ahead, in a worker thread, on one daemon at a time."""
        if self.stopping.is_set():
            return
        storage = self.settings.storage
        retention = Retention(
            collector_runs_days=storage.collector_runs_retention_days,
            observations_days=storage.observations_retention_days,
            partitions_ahead_months=storage.partitions_ahead_months,
        )

        def run() -> None:
            with job_lock(self.sink.engine, "storage:maintenance") as acquired:
                if not acquired:
                    return
                report = maintain(self.sink.engine, retention, self.clock())
                expired = report.collector_runs_deleted or report.observations_deleted
                logger.log(
                    logging.INFO if expired or report.partitions_dropped else logging.DEBUG,
                    "storage maintenance: expired %d collector runs, %d observations, "
                    "dropped partitions: %s",
                    report.collector_runs_deleted,
                    report.observations_deleted,
                    ", ".join(report.partitions_dropped) or "none",
                )

        await asyncio.to_thread(run)

    async def _outage_run(self, runner: CollectorRunner, kind: str, err: Exception) -> None:
        """A run that could not start because the database is down is still a run: recorded
        (kept until the database is back) so the dashboard shades the gap (issue 13)."""
        if not isinstance(err, SinkUnavailable):
            self.sink.note_outage(err)  # the lock query failed, not a sink call
        now = self.clock()
        message = str(err) if isinstance(err, SinkUnavailable) else outage_reason(err)
        report = RunReport(
            collector=runner.name,
            kind="discover" if kind == "discover" else "refresh",
            started_at=now,
            finished_at=now,
            status="failed",
            error_message=message if message.startswith("database") else f"database: {message}",
        )
        await asyncio.to_thread(self.sink.record_run, report)
        self.metrics.record_run(report)

    async def _discover(self, runner: CollectorRunner) -> None:
        if self.stopping.is_set():
            return
        with self._in_flight():
            try:
                await self._discover_videos(runner)
            except (SinkUnavailable, *OUTAGE_ERRORS) as err:
                await self._outage_run(runner, "discover", err)
            except asyncio.CancelledError:
                logger.warning("%s discover: still running at the shutdown timeout", runner.name)

    async def _discover_videos(self, runner: CollectorRunner) -> None:
        seconds = self.wiring.cadences[runner.name].discover_seconds
        gate = self.wiring.gates[runner.name]
        report = await self._tracked(
            f"{runner.name}:discover", discover_pass(runner, gate, self.sink, seconds)
        )
        if report is None:
            return
        self._after(runner, report)
        if report.posts_found and not self.stopping.is_set():
            # New posts: read their counters now rather than a whole refresh interval later.
            if f"{runner.name}:refresh" in self._running:
                # The running pass listed its posts before these were found: it runs again.
                self._wake_refresh.add(runner.name)
            else:
                self.scheduler.modify_job(
                    f"{runner.name}:refresh", next_run_time=self.schedule_clock()
                )

    async def _refresh(self, runner: CollectorRunner) -> None:
        if self.stopping.is_set():
            return
        with self._in_flight():
            try:
                await self._refresh_posts(runner)
            except (SinkUnavailable, *OUTAGE_ERRORS) as err:
                await self._outage_run(runner, "refresh", err)
            except asyncio.CancelledError:
                logger.warning("%s refresh: still running at the shutdown timeout", runner.name)

    async def _refresh_posts(self, runner: CollectorRunner) -> None:
        gate = self.wiring.gates[runner.name]
        report = await self._tracked(
            f"{runner.name}:refresh", refresh_pass(runner, gate, self.settings)
        )
        if report is not None:
            self._after(runner, report)
        if runner.name in self._wake_refresh and not self.stopping.is_set():
            self._wake_refresh.discard(runner.name)
            await self._refresh_posts(runner)  # posts found while this pass ran

    def _after(self, runner: CollectorRunner, report: RunReport) -> None:
        self.metrics.record_run(report)
        eventful = report.status != "ok" or report.posts_found or report.observations_written
        logger.log(
            logging.INFO if eventful else logging.DEBUG,
            "%s %s: %s, +%d posts, +%d observations, %d requests",
            runner.name,
            report.kind,
            report.status,
            report.posts_found,
            report.observations_written,
            report.requests,
        )
        if self.after_write is not None:
            self.after_write()
        if report.retry_at is not None and not self.stopping.is_set():
            retry_at = self.schedule_clock() + (report.retry_at - self.clock())
            # Rejected credentials pause the collector; a spent budget or rate window holds only
            # this kind (a search bucket spent must not stop refreshing counters).
            kinds = ("discover", "refresh") if report.status == "auth_failed" else (report.kind,)
            for kind in kinds:
                self.scheduler.modify_job(f"{runner.name}:{kind}", next_run_time=retry_at)

    async def stop(self) -> None:
        """Stop scheduling, let in-flight runs finish their writes, close clients."""
        self.stopping.set()
        # Shutting APScheduler down cancels the jobs it is running (one CancelledError traceback
        # each, issue 10), so pause it, let them finish, and only then shut it down.
        if self.scheduler.running:
            self.scheduler.pause()
        timeout = self.settings.daemon.shutdown_timeout_seconds
        if self._inflight:
            logger.info("waiting for %d running collector job(s) to finish", len(self._inflight))
            await asyncio.wait(self._inflight, timeout=timeout * 0.75)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await close(self.wiring)
        try:
            # Bounded: a frozen database must not hold the exit (the watchdog is the backstop).
            await asyncio.wait_for(asyncio.to_thread(self._mark_stopped), timeout / 8)
            self.sink.close()
        except TimeoutError:
            logger.warning("could not record the stop: the database does not answer")

    def _mark_stopped(self) -> None:
        try:
            self.sink.flush()
            health.mark_stopped(self.sink.engine, self.daemon_id, self.clock())
        except OUTAGE_ERRORS as err:
            logger.warning("could not record the stop: %s", outage_reason(err))


async def run_forever(
    settings: Settings,
    sink: StorageSink,
    clock: Clock,
    extra_services: Sequence[Callable[[asyncio.Event], Any]] = (),
    collect: bool = True,
    schedule_clock: Clock = utc_now,
    metrics: Metrics | None = None,
) -> None:
    """Run the daemon (and e.g. the dashboard) until SIGINT/SIGTERM, then stop cleanly.

    Alert rules are evaluated in their own thread after each collector run (issue 12). The stop
    is bounded by `daemon.shutdown_timeout_seconds`: past it the process exits anyway (issue 13).
    """
    # The budget rule projects the spend the budget gate stores (storage/budgets.py).
    measures = Measures(budgets=BudgetWatch(budget_statuses))
    alerts = (
        build_alert_service(sink.engine, settings.alerts, clock, measures=measures)
        if collect
        else None
    )
    after_write = alerts.after_write if alerts else None
    daemon = Daemon(settings, sink, clock, schedule_clock, after_write, metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    watchdog = ShutdownWatchdog(settings.daemon.shutdown_timeout_seconds, stop)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, watchdog.on_signal)
    async with AsyncExitStack() as stack:
        if alerts is not None:
            alerts.start()
            stack.push_async_callback(asyncio.to_thread, alerts.stop)
        if collect:
            stack.push_async_callback(daemon.stop)
            daemon.start()
        services = [asyncio.create_task(service(stop)) for service in extra_services]
        await stop.wait()
        logger.info("stopping")
        await asyncio.gather(*services, return_exceptions=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)


class ShutdownWatchdog:
    """Makes SIGTERM stop the process within a bound, whatever hangs.

    The first signal asks for a clean stop and arms a timer; when the timer runs out (a job or a
    worker thread stuck on a frozen database, which no timeout inside it can interrupt) the
    process exits with status 1. A second signal exits at once.
    """

    def __init__(self, timeout_seconds: float, stop: asyncio.Event) -> None:
        self.timeout_seconds = timeout_seconds
        self.stop = stop
        self._timer: threading.Timer | None = None

    def on_signal(self) -> None:
        if self._timer is not None:
            self._exit("second signal: exiting now")
        self.stop.set()
        self._timer = threading.Timer(
            self.timeout_seconds,
            self._exit,
            [f"did not stop within {self.timeout_seconds:g} s (shutdown_timeout_seconds): exiting"],
        )
        self._timer.daemon = True
        self._timer.start()

    @staticmethod
    def _exit(message: str) -> None:
        logger.error("%s", message)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(1)
