"""Runs one collector and owns its failures: the only place collector errors are caught."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from collectors.base import (
    AuthFailed,
    Clock,
    Collector,
    CollectorError,
    Gone,
    Observation,
    PostError,
    PostRef,
    RateLimited,
    RunReport,
    Sink,
    SinkUnavailable,
    TrackedVideo,
)

logger = logging.getLogger("viralwatch.runner")

# Posts are refreshed in slices so that a killed process loses at most one slice of work and
# memory stays flat however many posts a video has.
REFRESH_SLICE = 500


@dataclass(slots=True)
class RunnerState:
    """What the runner knows about its collector between runs."""

    is_failing: bool = False
    last_error: str | None = None
    deferred_until: datetime | None = None
    is_paused: bool = False


class CollectorRunner:
    """Runs discovery and refresh passes for one collector, recording every run in the sink."""

    def __init__(
        self,
        collector: Collector,
        sink: Sink,
        clock: Clock,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.collector = collector
        self.platform: str = collector.platform
        # Off for news feeds (no counters), and when another collector refreshes this platform's
        # posts (see daemon.wire).
        self.refreshes: bool = bool(collector.counters)
        self.sink = sink
        self.clock = clock
        self.state = RunnerState()
        self._requests = 0
        if client is not None:
            client.event_hooks.setdefault("request", []).append(self._count_request)

    @property
    def name(self) -> str:
        return self.collector.name

    async def _count_request(self, request: httpx.Request) -> None:
        self._requests += 1

    def _skip_reason(self, now: datetime) -> str | None:
        if self.state.is_paused:
            return f"paused after rejected credentials: {self.state.last_error}"
        if self.state.deferred_until and now < self.state.deferred_until:
            return f"rate-limited until {self.state.deferred_until.isoformat()}"
        return None

    async def discover(self, videos: Sequence[TrackedVideo]) -> RunReport:
        """One discovery pass over `videos`; returns the recorded run (never raises)."""
        report = self._start("discover")
        if (reason := self._skip_reason(report.started_at)) is not None:
            logger.debug("%s: discovery skipped: %s", self.name, reason)
            return report_skipped(report, reason, self.state)
        try:
            for video in videos:
                refs = await self.collector.discover(video)
                report.posts_found += await asyncio.to_thread(
                    self.sink.record_posts, video.slug, refs
                )
        except Exception as err:
            self._fail(report, err)
        else:
            self._succeed(report)
        return await self._finish(report)

    async def refresh(self, due_before: datetime | None = None) -> RunReport:
        """One refresh pass over this platform's active posts; returns the recorded run."""
        report = self._start("refresh")
        if (reason := self._skip_reason(report.started_at)) is not None:
            logger.debug("%s: refresh skipped: %s", self.name, reason)
            return report_skipped(report, reason, self.state)
        if not self.refreshes:
            # Nothing to re-read (news feeds), or another collector reads these counters.
            return report
        cutoff = due_before or report.started_at
        try:
            posts = await asyncio.to_thread(self.sink.posts_to_refresh, self.platform, cutoff)
            if not posts:
                # Nothing due: no request was made, so this run says nothing about the platform
                # and is not recorded (it would hide a failing discovery on the dashboard).
                report.finished_at = self.clock()
                return report
            for start in range(0, len(posts), REFRESH_SLICE):
                items = await self.collector.refresh(posts[start : start + REFRESH_SLICE])
                written, found = await asyncio.to_thread(self._store_refresh, items)
                report.observations_written += written
                report.posts_found += found
        except Exception as err:
            self._fail(report, err)
        else:
            self._succeed(report)
        return await self._finish(report)

    def _store_refresh(self, items: Sequence[Any]) -> tuple[int, int]:
        observations = [i for i in items if isinstance(i, Observation)]
        gone = [i for i in items if isinstance(i, Gone)]
        errors = [i for i in items if isinstance(i, PostError)]
        children = [i for i in items if isinstance(i, PostRef)]
        found = self.sink.record_posts(None, children) if children else 0
        written = self.sink.record_observations(observations) if observations else 0
        if gone:
            self.sink.mark_gone(gone)
        if errors:
            self.sink.record_errors(errors)
        return written, found

    def _start(self, kind: Literal["discover", "refresh"]) -> RunReport:
        self._requests = 0
        return RunReport(collector=self.name, kind=kind, started_at=self.clock())

    def _fail(self, report: RunReport, err: Exception) -> None:
        message = str(err) or type(err).__name__
        if isinstance(err, RateLimited):
            report.status = "rate_limited"
            report.retry_at = self.clock() + timedelta(seconds=err.retry_after_seconds)
            self.state.deferred_until = report.retry_at
        elif isinstance(err, AuthFailed):
            report.status = "auth_failed"
            self.state.is_paused = True
        elif isinstance(err, CollectorError):
            report.status = "failed"
        elif isinstance(err, SinkUnavailable):
            # The platform may be fine: the sink has logged the outage and says when it ends.
            report.status = "failed"
            report.error_message = message
            return
        else:
            report.status = "failed"
            message = f"{self.name}: unexpected {type(err).__name__}: {err}"
            logger.exception("%s: unexpected error in %s", self.name, report.kind)
        report.error_message = message
        if not self.state.is_failing:
            log = logger.error if isinstance(err, AuthFailed) else logger.warning
            log("%s", message)
        self.state.is_failing = True
        self.state.last_error = message

    def _succeed(self, report: RunReport) -> None:
        # A collector may run in a reduced mode (e.g. Bluesky search without a login); its
        # `notice` travels with the ok run so the dashboard can show it.
        report.error_message = self.collector.notice
        if self.state.is_failing:
            logger.info("%s: recovered", self.name)
        self.state.is_failing = False
        self.state.last_error = None
        self.state.deferred_until = None

    async def _finish(self, report: RunReport) -> RunReport:
        report.finished_at = self.clock()
        report.requests = self._requests
        await asyncio.to_thread(self.sink.record_run, report)
        return report


def report_skipped(report: RunReport, reason: str, state: RunnerState) -> RunReport:
    report.status = "rate_limited" if state.deferred_until else "auth_failed"
    report.error_message = reason
    report.retry_at = state.deferred_until
    report.finished_at = report.started_at
    return report
