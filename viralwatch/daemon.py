"""The composition root: wires settings, collectors, storage and the scheduler together."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from collectors.base import Clock, RunReport, utc_now
from collectors.http import RequestPolicy, build_client
from collectors.registry import collector_classes
from collectors.runner import CollectorRunner
from config.settings import CollectorSettings, Settings
from storage.db import StorageError, describe_url, make_engine, upgrade
from storage.locks import job_lock
from storage.write import StorageSink, VideoInput

logger = logging.getLogger("viralwatch.daemon")


@dataclass(slots=True)
class CollectorPlan:
    """What the daemon will do with each registered collector."""

    name: str
    state: str  # "enabled", "disabled" (by config) or "missing credentials"
    detail: str = ""
    config: CollectorSettings | None = None


@dataclass(slots=True)
class Wiring:
    """Live runners and the clients they own."""

    runners: list[CollectorRunner] = field(default_factory=list)
    configs: dict[str, CollectorSettings] = field(default_factory=dict)
    clients: list[httpx.AsyncClient] = field(default_factory=list)


def open_storage(settings: Settings, clock: Clock) -> tuple[Engine, StorageSink]:
    """Engine with the schema upgraded, and the sink on it; config videos synced in."""
    engine = make_engine(
        settings.storage.url.get_secret_value(),
        sqlite_busy_timeout_ms=settings.storage.sqlite_busy_timeout_ms,
    )
    try:
        upgrade(engine)
    except OperationalError as err:
        reason = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
        raise StorageError(
            f"cannot open database {describe_url(engine)}: {reason}; check storage.url"
        ) from None
    sink = StorageSink(engine, clock)
    sink.sync_config_videos(
        [
            VideoInput(
                slug=v.slug,
                title=v.title,
                keywords=tuple(v.keywords),
                hashtags=tuple(v.hashtags),
                urls=tuple(v.urls),
                started_at=v.started_at,
                source="config",
            )
            for v in settings.videos
        ]
    )
    return engine, sink


def plan_collectors(settings: Settings, only: Sequence[str] = ()) -> list[CollectorPlan]:
    """Every registered collector with whether it will run and why not."""
    sections = settings.collectors.sections()
    classes = collector_classes()
    unknown = [name for name in only if name not in classes]
    if unknown:
        raise ValueError(f"unknown collector {unknown[0]!r}; known: {', '.join(sorted(classes))}")
    plans = []
    for name in classes:
        config = sections.get(name)
        if only and name not in only:
            continue
        if config is None or not config.enabled:
            plans.append(CollectorPlan(name, "disabled", "enabled = false in config", config))
        elif missing := config.missing_credentials():
            keys = ", ".join(f"collectors.{name}.{key}" for key in missing)
            plans.append(CollectorPlan(name, "missing credentials", f"set {keys}", config))
        else:
            plans.append(CollectorPlan(name, "enabled", "", config))
    return plans


def wire(
    settings: Settings,
    sink: StorageSink,
    clock: Clock,
    only: Sequence[str] = (),
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
        runner = CollectorRunner(collector, sink, clock, client)
        # Two collectors of one platform (youtube, youtube_rss): the first listed refreshes.
        if runner.platform in refreshed_platforms:
            runner.refreshes = False
        refreshed_platforms.add(runner.platform)
        wiring.runners.append(runner)
        wiring.configs[plan.name] = plan.config
        wiring.clients.append(client)
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
        videos = await asyncio.to_thread(sink.active_videos)

        async def reported(run: Coroutine[Any, Any, RunReport]) -> RunReport:
            report = await run
            if on_report is not None:
                on_report(report)
            return report

        reports += await asyncio.gather(*(reported(r.discover(videos)) for r in wiring.runners))
        reports += await asyncio.gather(*(reported(r.refresh()) for r in wiring.runners))
    finally:
        await close(wiring)
    return reports


class Daemon:
    """APScheduler jobs per collector: discovery and refresh, never overlapping themselves."""

    def __init__(
        self, settings: Settings, sink: StorageSink, clock: Clock, schedule_clock: Clock = utc_now
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.clock = clock  # stamps the data (observed_at, first_seen_at)
        self.schedule_clock = schedule_clock  # drives APScheduler: always wall-clock time
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.wiring = Wiring()
        self._inflight: set[asyncio.Task[Any]] = set()
        self._running: set[str] = set()
        self.stopping = asyncio.Event()

    def start(self) -> None:
        """Wire collectors and schedule their jobs (first runs start immediately)."""
        self.wiring = wire(self.settings, self.sink, self.clock)
        common = {
            "max_instances": 1,
            "coalesce": True,
            "jitter": self.settings.scheduler.jitter_seconds or None,
            "misfire_grace_time": self.settings.scheduler.misfire_grace_seconds,
        }
        now = self.schedule_clock()
        for runner in self.wiring.runners:
            config = self.wiring.configs[runner.name]
            self.scheduler.add_job(
                self._discover,
                "interval",
                args=[runner],
                id=f"{runner.name}:discover",
                seconds=config.interval_seconds,
                next_run_time=now,
                **common,
            )
            self.scheduler.add_job(
                self._refresh,
                "interval",
                args=[runner],
                id=f"{runner.name}:refresh",
                seconds=config.refresh_interval_seconds,
                next_run_time=now + timedelta(seconds=5),
                **common,
            )
        self.scheduler.start()
        logger.info(
            "collecting with %s", ", ".join(r.name for r in self.wiring.runners) or "no collectors"
        )

    async def _tracked(self, job_id: str, job: Coroutine[Any, Any, RunReport]) -> RunReport | None:
        """Run `job` under its cross-daemon lock; None when another daemon holds it."""
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        self._running.add(job_id)
        try:
            with job_lock(self.sink.engine, job_id) as acquired:
                if not acquired:
                    job.close()
                    logger.debug("%s: another daemon is running it", job_id)
                    return None
                return await job
        finally:
            self._inflight.discard(task)
            self._running.discard(job_id)

    async def _discover(self, runner: CollectorRunner) -> None:
        if self.stopping.is_set():
            return
        videos = await asyncio.to_thread(self.sink.active_videos)
        report = await self._tracked(f"{runner.name}:discover", runner.discover(videos))
        if report is None:
            return
        self._after(runner, report)
        refreshing = f"{runner.name}:refresh" in self._running
        if report.posts_found and not refreshing and not self.stopping.is_set():
            # New posts: read their counters now rather than a whole refresh interval later.
            self.scheduler.modify_job(f"{runner.name}:refresh", next_run_time=self.schedule_clock())

    async def _refresh(self, runner: CollectorRunner) -> None:
        if self.stopping.is_set():
            return
        config = self.wiring.configs[runner.name]
        # Skip posts read in the last half interval (e.g. just after a discovery-triggered run).
        due = self.clock() - timedelta(seconds=config.refresh_interval_seconds / 2)
        report = await self._tracked(f"{runner.name}:refresh", runner.refresh(due_before=due))
        if report is not None:
            self._after(runner, report)

    def _after(self, runner: CollectorRunner, report: RunReport) -> None:
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
        if report.retry_at is not None and not self.stopping.is_set():
            retry_at = self.schedule_clock() + (report.retry_at - self.clock())
            for kind in ("discover", "refresh"):
                self.scheduler.modify_job(f"{runner.name}:{kind}", next_run_time=retry_at)

    async def stop(self) -> None:
        """Stop scheduling, let in-flight runs finish their writes, close clients."""
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._inflight:
            logger.info("waiting for %d running collector job(s) to finish", len(self._inflight))
            await asyncio.wait(self._inflight, timeout=30)
        await close(self.wiring)


async def run_forever(
    settings: Settings,
    sink: StorageSink,
    clock: Clock,
    extra_services: Sequence[Callable[[asyncio.Event], Any]] = (),
    collect: bool = True,
    schedule_clock: Clock = utc_now,
) -> None:
    """Run the daemon (and e.g. the dashboard) until SIGINT/SIGTERM, then stop cleanly."""
    daemon = Daemon(settings, sink, clock, schedule_clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        if collect:
            stack.push_async_callback(daemon.stop)
            daemon.start()
        services = [asyncio.create_task(service(stop)) for service in extra_services]
        await stop.wait()
        logger.info("stopping")
        await asyncio.gather(*services, return_exceptions=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
