"""Riding out database outages: writes that fail are kept in memory and replayed in order.

With the database stopped, locked by another writer or unreachable, `SpoolingSink` keeps every
write it could not make (runs, posts, readings, gone marks, post errors) in a bounded queue and
raises `SinkUnavailable` for reads, so each collector run is recorded as failed ("database
unavailable") instead of vanishing. The first call that reaches the database again replays the
queue in its original order, so the failed runs land in `collector_runs` and the dashboard shades
the outage like any other gap (issue 13). The outage is logged once when it starts and once when
it ends.

With a spool file (viralwatch/spool_file.py) every kept write is also on disk before the call
returns, so a daemon killed or restarted during an outage stores them when it next reaches the
database; without one (or when another process holds it) they live in memory only. Either way
the queue is bounded: the oldest writes are dropped first, and the count is logged. Replaying is
idempotent (posts, readings, gone marks and errors are by their nature; a run is skipped when
the same run is stored), so a write replayed twice after a kill is stored once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from collectors import base
from collectors.base import Clock, KnownPost, RunReport, SinkUnavailable
from config.redact import mask_url
from storage.write import StorageSink
from viralwatch.spool_file import SpoolBusy, SpoolEntry, SpoolFile

logger = logging.getLogger("viralwatch.spool")

# What a database that is down, frozen past its timeouts or locked raises through SQLAlchemy.
OUTAGE_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)

T = TypeVar("T")


def outage_reason(err: Exception) -> str:
    orig = getattr(err, "orig", None)
    text = str(orig if orig is not None else err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    return mask_url(first)[:300]


class SpoolingSink(StorageSink):
    """A StorageSink that keeps failed writes while the database is down (see module doc)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        max_items: int,
        spool_path: Path | None = None,
        misses_before_gone: int = 3,
    ) -> None:
        super().__init__(engine, clock, misses_before_gone=misses_before_gone)
        self.max_items = max_items
        self._pending: deque[SpoolEntry] = deque()
        self._pending_items = 0
        self._dropped_items = 0
        self._seq = 0
        self._lock = threading.RLock()
        self._outage_since: float | None = None  # monotonic seconds
        self._outage_started_at: datetime | None = None
        self._file = _open_spool(spool_path)
        if self._file is not None:
            self._adopt(self._file.load())

    def _adopt(self, entries: list[SpoolEntry]) -> None:
        """Queue the writes an earlier process kept, to be stored before any new one."""
        if not entries:
            return
        for entry in entries:
            self._pending.append(entry)
            self._pending_items += entry.size
        self._seq = entries[-1].seq
        self._drop_oldest()
        logger.warning(
            "%d kept writes from an earlier run found in %s; storing them when the database "
            "answers",
            self._pending_items,
            self._file.path if self._file else "",
        )

    @property
    def outage_started_at(self) -> datetime | None:
        """When the current outage began (the data clock), None while the database answers."""
        return self._outage_started_at

    @property
    def pending_items(self) -> int:
        return self._pending_items

    # --- writes: kept while the database is down ------------------------------------------

    def record_posts(self, video_slug: str | None, posts: Sequence[base.PostRef]) -> int:
        return self._write("record_posts", (video_slug, tuple(posts)), len(posts), 0)

    def record_observations(self, observations: Sequence[base.Observation]) -> int:
        return self._write("record_observations", (tuple(observations),), len(observations), 0)

    def mark_gone(self, gone: Sequence[base.Gone]) -> int:
        return self._write("mark_gone", (tuple(gone),), len(gone), 0)

    def record_errors(self, errors: Sequence[base.PostError]) -> int:
        return self._write("record_errors", (tuple(errors),), len(errors), 0)

    def record_run(self, report: RunReport) -> None:
        self._write("record_run", (report,), 1, None)

    def save_discovery_marks(
        self, video_slug: str, collector: str, marks: dict[str, base.QueryMark]
    ) -> None:
        # Never kept: a kept mark could outlive the dropped posts it covers. Unsaved, the next
        # pass reads those posts again.
        self._read(
            lambda: super(SpoolingSink, self).save_discovery_marks(video_slug, collector, marks)
        )

    # --- reads: fail as SinkUnavailable, so the run is recorded as failed -----------------

    def claim_refresh(
        self, platform: str, limit: int, ahead: timedelta = timedelta(0)
    ) -> list[KnownPost]:
        return self._read(lambda: super(SpoolingSink, self).claim_refresh(platform, limit, ahead))

    def release_refresh(self, posts: Sequence[KnownPost]) -> None:
        # Never kept for later: a late release could end a newer claim; the lease expires.
        try:
            self._read(lambda: super(SpoolingSink, self).release_refresh(posts))
        except SinkUnavailable:
            return

    def active_videos(self) -> list[base.TrackedVideo]:
        return self._read(super().active_videos)

    def discovery_marks(self, video_slug: str, collector: str) -> dict[str, base.QueryMark]:
        return self._read(lambda: super(SpoolingSink, self).discovery_marks(video_slug, collector))

    def flush(self) -> bool:
        """Replay kept writes if the database answers; whether nothing is left pending."""
        try:
            self._read(lambda: None)
        except SinkUnavailable:
            return False
        return True

    # --- the machinery --------------------------------------------------------------------

    def _read(self, call: Callable[[], T]) -> T:
        with self._lock:
            try:
                self._replay()
                result = call()
            except OUTAGE_ERRORS as err:
                self.note_outage(err)
                raise SinkUnavailable(f"database unavailable: {outage_reason(err)}") from None
            self._recovered()
            return result

    def _write(self, op: str, args: tuple[Any, ...], size: int, kept: T) -> T:
        with self._lock:
            try:
                self._replay()
                result: T = self._apply(op, args)
            except OUTAGE_ERRORS as err:
                self.note_outage(err)
                self._keep(op, args, size)
                return kept
            self._recovered()
            return result

    def _apply(self, op: str, args: tuple[Any, ...]) -> Any:
        if op == "record_run":
            # A run stored just before a kill, or before a commit answer that never came,
            # is not stored again.
            return StorageSink.record_run_once(self, *args)
        return getattr(StorageSink, op)(self, *args)

    def _replay(self) -> None:
        while self._pending:
            entry = self._pending[0]
            self._apply(entry.op, entry.args)  # an outage error here leaves it queued, in order
            self._pending.popleft()
            self._pending_items -= entry.size
            if self._file is not None:
                self._file.ack(entry.seq, self._pending)

    def _keep(self, op: str, args: tuple[Any, ...], size: int) -> None:
        self._seq += 1
        entry = SpoolEntry(self._seq, op, args, size)
        if self._file is not None:
            self._file.append(entry)
        self._pending.append(entry)
        self._pending_items += size
        self._drop_oldest()

    def _drop_oldest(self) -> None:
        dropped_seq = 0
        while self._pending_items > self.max_items and self._pending:
            entry = self._pending.popleft()
            self._pending_items -= entry.size
            dropped_seq = entry.seq
            if not self._dropped_items:
                logger.error(
                    "database still unavailable: more than %d kept writes; dropping the oldest",
                    self.max_items,
                )
            self._dropped_items += entry.size
        if dropped_seq and self._file is not None:
            self._file.ack(dropped_seq, self._pending)

    def close(self) -> None:
        """Let go of the spool file (what it keeps stays in it for the next start)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def note_outage(self, err: Exception) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            self._outage_started_at = self.clock()
            logger.warning(
                "database unavailable (%s); keeping runs and readings in memory until it is back",
                outage_reason(err),
            )

    def _recovered(self) -> None:
        if self._outage_since is None:
            return
        seconds = time.monotonic() - self._outage_since
        dropped = f", {self._dropped_items} dropped" if self._dropped_items else ""
        logger.info("database back after %.0f s; kept writes stored%s", seconds, dropped)
        self._outage_since = None
        self._outage_started_at = None
        self._dropped_items = 0


def spool_path(configured: str, engine: Engine) -> Path | None:
    """`daemon.spool_file`, or beside a SQLite file (`<db>.spool`); None keeps it in memory."""
    if configured:
        return Path(configured).expanduser()
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return Path(database + ".spool")
    return None


def _open_spool(path: Path | None) -> SpoolFile | None:
    """The spool file at `path`, or None (memory only) when there is none or it is unusable."""
    if path is None:
        return None
    try:
        return SpoolFile(path)
    except (SpoolBusy, OSError) as err:
        logger.warning("outage spool kept in memory only: %s", err)
        return None
