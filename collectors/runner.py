"""Runs one collector and owns its failures: the only place collector errors are caught.

Discovery and refresh keep separate states (one failing next to a working other logs nothing
twice). Rejected credentials pause the whole collector with a growing backoff, never forever.
A 2xx answer that used the last request of a rate window is stored; only the next run waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, cast

import httpx

from collectors.base import (
    AuthFailed,
    Clock,
    Collector,
    CollectorError,
    Gone,
    KnownPost,
    MalformedPayload,
    Observation,
    PostError,
    PostRef,
    RateLimited,
    RunReport,
    Sink,
    SinkUnavailable,
    SourceUnavailable,
    TrackedVideo,
    unstorable_counters,
)
from collectors.http import capped_wait, policy_of, window_wait
from collectors.registry import stored_platform

logger = logging.getLogger("viralwatch.runner")

RunKind = Literal["discover", "refresh"]

# Posts are refreshed in slices so that a killed process loses at most one slice of work and
# memory stays flat however many posts a video has.
REFRESH_SLICE = 500
# Readings are stored in batches of this many items (issue 14: one transaction per slice cost
# four statements and a commit per 500 posts); a killed process loses at most this many.
STORE_EVERY = 5_000
# A slice holds at least this many rounds of the collector's requests in flight.
ROUNDS_PER_SLICE = 4
# Two slices failing in a row say the source is down: stop rather than hammer it.
MAX_FAILED_SLICES = 2
# Most due posts one refresh pass takes unless the daemon says otherwise.
DEFAULT_PASS_LIMIT = 5_000


@dataclass(slots=True)
class RunnerState:
    """What the runner knows about one kind of run (discovery or refresh) between runs."""

    is_failing: bool = False
    last_error: str | None = None
    deferred_until: datetime | None = None


@dataclass(slots=True)
class AuthPause:
    """Rejected credentials: the collector waits until `until`, each rejection doubling it."""

    until: datetime | None = None
    rejections: int = 0
    message: str | None = None


@dataclass(frozen=True, slots=True)
class RunnerPolicy:
    """How long the runner waits after failures it cannot retry at once."""

    auth_backoff_initial: timedelta = timedelta(minutes=5)
    auth_backoff_max: timedelta = timedelta(hours=6)
    max_defer: timedelta = timedelta(hours=25)
    """Longest rate-limit deferral honoured: a daily quota resets within 24 h in any zone."""


@dataclass(slots=True)
class _Writes:
    """A pass's writes: one at a time, in a worker thread, while the event loop reads on (issue
    14: the loop stood idle during each write). Only stored readings count as read."""

    report: RunReport
    read: set[tuple[str, str]]
    _task: asyncio.Future[tuple[int, int]] | None = None
    _items: Sequence[Any] = ()

    def start(
        self, store: Callable[[Sequence[Any]], tuple[int, int]], items: Sequence[Any]
    ) -> None:
        self._task = asyncio.ensure_future(asyncio.to_thread(store, items))
        self._items = items

    async def wait(self) -> None:
        """Until the write under way (if any) is done; its failure is raised here."""
        if self._task is None:
            return
        task, items, self._task = self._task, self._items, None
        written, found = await task
        self.read.update(
            (i.platform, i.platform_post_id) for i in items if not isinstance(i, PostRef)
        )
        self.report.observations_written += written
        self.report.posts_found += found


@dataclass(slots=True)
class _Pass:
    """One run in progress: its report and the failures it met so far."""

    report: RunReport
    errors: list[Exception] = field(default_factory=list)


class CollectorRunner:
    """Runs discovery and refresh passes for one collector, recording every run in the sink."""

    def __init__(
        self,
        collector: Collector,
        sink: Sink,
        clock: Clock,
        client: httpx.AsyncClient | None = None,
        policy: RunnerPolicy | None = None,
    ) -> None:
        self.collector = collector
        self.platform: str = stored_platform(collector)
        # Off for news feeds (no counters), and when another collector refreshes this platform's
        # posts (see daemon.wire).
        self.refreshes: bool = bool(collector.spec.counters)
        self.sink = sink
        self.clock = clock
        self.policy = policy or RunnerPolicy()
        self.states: dict[RunKind, RunnerState] = {
            "discover": RunnerState(),
            "refresh": RunnerState(),
        }
        self.auth = AuthPause()
        self._requests = 0
        self._window_wait: float | None = None
        self._max_wait_seconds = 3600.0
        if client is not None:
            self._max_wait_seconds = policy_of(client).max_wait_seconds
            client.event_hooks.setdefault("request", []).append(self._count_request)
            client.event_hooks.setdefault("response", []).append(self._note_window)

    @property
    def name(self) -> str:
        return self.collector.name

    async def _count_request(self, request: httpx.Request) -> None:
        self._requests += 1

    async def _note_window(self, response: httpx.Response) -> None:
        if 200 <= response.status_code < 300:
            wait = window_wait(self.name, response, self.clock(), self._max_wait_seconds)
            if wait is not None:
                self._window_wait = max(wait, self._window_wait or 0.0)

    def credentials_changed(self) -> None:
        """New credentials in the config: try them at the next run, not after the backoff."""
        self.auth = AuthPause()

    def _skip_reason(self, kind: RunKind, now: datetime) -> str | None:
        if self.auth.until and now < self.auth.until:
            return (
                f"paused after rejected credentials until {self.auth.until.isoformat()}: "
                f"{self.auth.message}"
            )
        deferred = self.states[kind].deferred_until
        if deferred and now < deferred:
            return f"rate-limited until {deferred.isoformat()}"
        return None

    async def discover(self, videos: Sequence[TrackedVideo]) -> RunReport:
        """One discovery pass over `videos`; returns the recorded run (never raises).

        A video whose discovery fails does not stop the others (unless the platform refuses
        everything: rate limit, credentials)."""
        run = self._start("discover")
        if (skipped := self._skipped(run.report)) is not None:
            return skipped
        for video in videos:
            # Discovery starts from the stored high-water marks (collectors/sweep.py), stored
            # again only after the posts they cover.
            marks = await asyncio.to_thread(self.sink.discovery_marks, video.slug, self.name)
            refs = await self._attempt(run, self.collector.discover(replace(video, marks=marks)))
            if refs is None:
                if self._must_stop(run):
                    break
                continue
            run.report.posts_found += await asyncio.to_thread(
                self.sink.record_posts, video.slug, refs
            )
            await asyncio.to_thread(self.sink.save_discovery_marks, video.slug, self.name, marks)
        return await self._finish(run)

    async def refresh(
        self, limit: int = DEFAULT_PASS_LIMIT, ahead: timedelta = timedelta(0)
    ) -> RunReport:
        """One refresh pass over up to `limit` of this platform's posts due within `ahead` (the
        schedule in storage says which, most-moving first); returns the recorded run."""
        run = self._start("refresh")
        report = run.report
        if (skipped := self._skipped(report)) is not None:
            return skipped
        if not self.refreshes:
            # Nothing to re-read (news feeds), or another collector reads these counters.
            return report
        # Collectors with a per-pass budget (cascade lookups, issue 14) start it afresh here.
        self.collector.begin_pass()
        posts = await self._attempt(
            run, asyncio.to_thread(self.sink.claim_refresh, self.platform, limit, ahead)
        )
        if posts is None:
            return await self._finish(run)
        read: set[tuple[str, str]] = set()
        try:
            return await self._refresh_claimed(run, posts, read)
        finally:
            # Posts this pass did not get to (budget spent, source down) stay due, visibly.
            unread = [p for p in posts if (p.platform, p.platform_post_id) not in read]
            await asyncio.to_thread(self.sink.release_refresh, unread)

    async def _refresh_claimed(
        self, run: _Pass, posts: Sequence[KnownPost], read: set[tuple[str, str]]
    ) -> RunReport:
        report = run.report
        if not posts:
            # Nothing due: no request was made, so this run says nothing about the platform
            # and is not recorded (it would hide a failing discovery on the dashboard).
            report.finished_at = self.clock()
            return report
        failed_in_a_row = 0
        pending: list[Any] = []
        writes = _Writes(report, read)
        size = self._slice_size()
        try:
            for start in range(0, len(posts), size):
                batch = posts[start : start + size]
                items = await self._read_slice(run, batch)
                failed_in_a_row = 0 if items is not None else failed_in_a_row + 1
                # A failed slice's posts keep the reason; later slices still get their turn.
                pending += items if items is not None else self._slice_errors(batch, run.errors[-1])
                stop = self._must_stop(run) or failed_in_a_row >= MAX_FAILED_SLICES
                if stop or len(pending) >= STORE_EVERY or start + size >= len(posts):
                    # One write at a time, in a worker thread while the next slices are read.
                    await writes.wait()
                    writes.start(self._store_refresh, pending)
                    pending = []
                if stop:
                    break
        finally:
            await writes.wait()
        return await self._finish(run)

    def _slice_size(self) -> int:
        """Posts per `collector.refresh` call: at least REFRESH_SLICE, and enough for several
        rounds of the requests it may keep in flight (a slice's last round runs part-empty)."""
        batch = self.collector.spec.batch_size or 1
        # Set by collectors with a declared quota (`allowed_in_flight`); others send one at a time.
        in_flight = getattr(self.collector, "in_flight", 1)
        return max(REFRESH_SLICE, batch * in_flight * ROUNDS_PER_SLICE)

    async def _read_slice(self, run: _Pass, batch: Sequence[KnownPost]) -> list[Any] | None:
        """The slice's items, or None with the error noted on `run`."""
        items = await self._attempt(run, self._refresh_isolating(batch))
        if items and len(batch) > 1 and all(_is_miss(i) for i in items):
            # An answer that leaves out every one of several posts says more about the
            # source than the posts (one `{"hits": []}` once marked 19 HN posts gone).
            message = f"{self.name}: the answer held none of {len(batch)} posts; will retry"
            run.errors.append(SourceUnavailable(message))
            return None
        return cast(list[Any] | None, items)

    async def _refresh_isolating(self, batch: Sequence[KnownPost]) -> list[Any]:
        """`collector.refresh(batch)`; when one post's item is malformed, the batch is halved
        until that post is found: it gets the error, the others their readings (about two
        requests per halving: 19 for one bad post among 500)."""
        try:
            return await self.collector.refresh(batch)
        except MalformedPayload as err:
            return await self._isolate(batch, err)

    async def _isolate(self, bad: Sequence[KnownPost], err: MalformedPayload) -> list[Any]:
        """Readings of `bad` (a batch known to fail with `err`) but for its malformed post.

        Both halves failing means the answer drifted as a whole, not one post: `err` stands.
        """
        if len(bad) == 1:
            return [PostError(bad[0].platform, bad[0].platform_post_id, self.clock(), str(err))]
        first, second = bad[: len(bad) // 2], bad[len(bad) // 2 :]
        try:
            good = await self.collector.refresh(first)
        except MalformedPayload as first_err:
            try:
                good = await self.collector.refresh(second)
            except MalformedPayload:
                raise err from None
            return good + await self._isolate(first, first_err)
        return good + await self._isolate(second, err)

    async def _attempt(self, run: _Pass, work: Awaitable[Any]) -> Any:
        """`await work`, or None with the error noted on `run`."""
        try:
            return await work
        except Exception as err:
            # A database outage is the sink's to report (once), not a bug in this collector.
            if not isinstance(err, CollectorError | SinkUnavailable):
                logger.exception("%s: unexpected error in %s", self.name, run.report.kind)
            run.errors.append(err)
            return None

    @staticmethod
    def _must_stop(run: _Pass) -> bool:
        """Rate limits and rejected credentials hold for every further request of the run."""
        return any(isinstance(e, RateLimited | AuthFailed) for e in run.errors) or any(
            not isinstance(e, CollectorError) for e in run.errors
        )

    def _slice_errors(self, batch: Sequence[KnownPost], err: Exception) -> list[PostError]:
        if isinstance(err, RateLimited | AuthFailed) or not isinstance(err, CollectorError):
            return []  # not about these posts
        now = self.clock()
        return [PostError(p.platform, p.platform_post_id, now, str(err)) for p in batch]

    def _store_refresh(self, items: Sequence[Any]) -> tuple[int, int]:
        observations: list[Observation] = []
        errors = [i for i in items if isinstance(i, PostError)]
        for item in items:
            if not isinstance(item, Observation):
                continue
            if unstorable := unstorable_counters(item):
                # Issue 13: one absurd counter is that post's error, never the platform's.
                message = f"{', '.join(unstorable)} beyond the storable range (2^63)"
                errors.append(
                    PostError(item.platform, item.platform_post_id, item.observed_at, message)
                )
            else:
                observations.append(item)
        gone = [i for i in items if isinstance(i, Gone)]
        children = [i for i in items if isinstance(i, PostRef)]
        found = self.sink.record_posts(None, children) if children else 0
        written = self.sink.record_observations(observations) if observations else 0
        if gone:
            self.sink.mark_gone(gone)
        if errors:
            self.sink.record_errors(errors)
        return written, found

    def _start(self, kind: RunKind) -> _Pass:
        self._requests = 0
        self._window_wait = None
        return _Pass(RunReport(collector=self.name, kind=kind, started_at=self.clock()))

    def _skipped(self, report: RunReport) -> RunReport | None:
        """The report of a run that must not start (paused or deferred), else None."""
        reason = self._skip_reason(report.kind, report.started_at)
        if reason is None:
            return None
        logger.debug("%s: %s skipped: %s", self.name, report.kind, reason)
        paused = self.auth.until is not None and report.started_at < self.auth.until
        report.status = "auth_failed" if paused else "rate_limited"
        report.error_message = reason
        report.retry_at = self.auth.until if paused else self.states[report.kind].deferred_until
        report.finished_at = report.started_at
        return report

    def _fail(self, report: RunReport, err: Exception) -> None:
        state = self.states[report.kind]
        message = str(err) or type(err).__name__
        if isinstance(err, RateLimited):
            report.status = "rate_limited"
            wait = capped_wait(
                self.name, err.retry_after_seconds, self.policy.max_defer.total_seconds()
            )
            report.retry_at = self.clock() + timedelta(seconds=wait)
            state.deferred_until = report.retry_at
        elif isinstance(err, AuthFailed):
            report.status = "auth_failed"
            report.retry_at = self._pause_for_credentials(message)
        elif isinstance(err, SinkUnavailable):
            # The platform may be fine: the sink has logged the outage and says when it ends.
            report.status = "failed"
            report.error_message = message
            return
        else:
            report.status = "failed"
            if not isinstance(err, CollectorError):
                message = f"{self.name}: unexpected {type(err).__name__}: {err}"
        report.error_message = message
        if not state.is_failing:
            log = logger.error if isinstance(err, AuthFailed) else logger.warning
            log("%s", message)
        state.is_failing = True
        state.last_error = message

    def _pause_for_credentials(self, message: str) -> datetime:
        backoff = min(
            self.policy.auth_backoff_initial * 2**self.auth.rejections,
            self.policy.auth_backoff_max,
        )
        self.auth.rejections += 1
        self.auth.until = self.clock() + backoff
        self.auth.message = message
        return self.auth.until

    def _succeed(self, report: RunReport) -> None:
        # A collector may run in a reduced mode (e.g. Bluesky search without a login); its
        # `notice` travels with the ok run so the dashboard can show it.
        state = self.states[report.kind]
        report.error_message = self.collector.notice
        if state.is_failing:
            logger.info("%s: %s recovered", self.name, report.kind)
        state.is_failing = False
        state.last_error = None
        state.deferred_until = None
        self.auth = AuthPause()
        if self._window_wait is not None:
            # The answers were used; the next run waits for the window to reset.
            report.retry_at = self.clock() + timedelta(seconds=self._window_wait)
            state.deferred_until = report.retry_at

    async def _finish(self, run: _Pass) -> RunReport:
        report = run.report
        if run.errors:
            self._fail(report, _worst(run.errors))
        else:
            self._succeed(report)
        report.finished_at = self.clock()
        report.requests = self._requests
        await asyncio.to_thread(self.sink.record_run, report)
        return report


def _is_miss(item: object) -> bool:
    return isinstance(item, PostError) and item.is_miss


def _worst(errors: Sequence[Exception]) -> Exception:
    """The error that decides a run's status: credentials, then rate limits, then the first."""
    for kind in (AuthFailed, RateLimited):
        for err in errors:
            if isinstance(err, kind):
                return err
    return errors[0]
