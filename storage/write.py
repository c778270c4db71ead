"""The only writer. Implements the collectors' Sink: posts, observations, gone marks, runs.

Posts go through small Core upserts. Readings go in one transaction per batch, computed in
one pass in plain Python and written with one driver-level statement per table
(storage/bulk.py): observation rows, confirmations, the latest-counter columns on `posts`, the
hourly and 5-minute rollups and each post's next refresh time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, or_, select, update
from sqlalchemy.orm import aliased

from collectors import base
from collectors.base import Clock, KnownPost, RunReport
from storage import discovery_marks, partitions, post_events, schedule
from storage.bulk import DriverSql, LockedPost
from storage.db import conflict_insert as _insert
from storage.db import write_transaction
from storage.growth import (
    COUNTERS,
    Counters,
    apply_reading,
    five_minute_start,
    hour_start,
    is_covered,
)
from storage.linking import Link, add_links, links_of
from storage.models import (
    MAX_KEY_LENGTH,
    CollectorLatestRun,
    CollectorRun,
    ConfigVideoSync,
    Post,
    PostVideo,
    TrackedVideo,
    Video5Min,
    VideoHourly,
)
from storage.models import Observation as ObservationRow
from storage.video_posts import post_ids_of

logger = logging.getLogger("viralwatch.storage")

# Keys per IN (...) lookup: well under SQLite's 32,766 bound-parameter limit.
LOOKUP_CHUNK = 500
# What a reading sets on its post: the latest state, and no error any more.
_LATEST_COLUMNS = ("latest_observed_at", *(f"latest_{c}" for c in COUNTERS), "latest_row_at")
_LATEST_CONSTANTS = "last_error = NULL, last_error_at = NULL"


class VideoExists(ValueError):
    """A video with that slug is already tracked."""


class UnknownVideo(LookupError):
    """No tracked video has that slug."""


class KeyTooLong(ValueError):
    """A post key is longer than the store keeps (MAX_KEY_LENGTH characters)."""


# UTF-8 bytes a key may take: what a PostgreSQL b-tree entry holds beside the platform name.
MAX_KEY_BYTES = 2600


def check_key(field: str, value: str | None) -> None:
    """Refuse a key the database could not index; KeyTooLong names the field."""
    if value is None:
        return
    if len(value) > MAX_KEY_LENGTH or len(value.encode()) > MAX_KEY_BYTES:
        raise KeyTooLong(
            f"{field} is {len(value)} characters long ({value[:40]!r}…); the limit is "
            f"{MAX_KEY_LENGTH:,} characters ({MAX_KEY_BYTES:,} bytes in UTF-8): shorten it"
        )


def video_fields(video: Any) -> dict[str, Any]:
    """The TrackedVideo fields of any object that has them (a config VideoSettings, an ORM row),
    lists as tuples."""
    # Described fields only: discovery marks (compare=False) are the runner's, not the video's.
    values = {f.name: getattr(video, f.name) for f in fields(base.TrackedVideo) if f.compare}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


@dataclass(frozen=True, slots=True)
class VideoInput(base.TrackedVideo):
    """A tracked video to add or update: what collectors see of it, and where it came from."""

    source: str = "cli"

    @classmethod
    def of(cls, video: Any, source: str) -> VideoInput:
        return cls(**video_fields(video), source=source)


def config_fingerprint(video: VideoInput) -> str:
    """A digest of what a config entry says about its video (slug aside)."""
    started_at = video.started_at.isoformat() if video.started_at else None
    described = [video.title, video.keywords, video.hashtags, video.urls, started_at]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()


class StorageSink:
    """`collectors.base.Sink` on a SQLAlchemy engine."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        identify_url: Callable[[str], base.PostRef] = base.manual_post,
        misses_before_gone: int = 3,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.misses_before_gone = misses_before_gone
        """Answers in a row that may leave a post out before it counts as gone (issue 8)."""
        self.identify_url = identify_url
        """Hand-added URL -> the post it stands for (the composition root says which
        platforms are collected)."""
        self.scheduling = schedule.Scheduling()
        """Each platform's refresh policy and this process's lease identity (issue 8)."""

    # --- videos -------------------------------------------------------------------------

    def add_video(self, video: VideoInput, *, replace: bool = False) -> None:
        """Track a video. Raises VideoExists unless `replace` (which updates it in place)."""
        values = {
            "title": video.title,
            "keywords": list(video.keywords),
            "hashtags": list(video.hashtags),
            "urls": list(video.urls),
            "started_at": video.started_at,
        }
        with write_transaction(self.engine) as conn:
            existing = conn.execute(
                select(TrackedVideo.id).where(TrackedVideo.slug == video.slug)
            ).scalar()
            if existing is not None and not replace:
                raise VideoExists(f"video {video.slug!r} is already tracked")
            if existing is None:
                conn.execute(
                    _insert(conn, TrackedVideo).values(
                        slug=video.slug,
                        created_at=self.clock(),
                        is_paused=False,
                        source=video.source,
                        **values,
                    )
                )
            else:
                conn.execute(
                    update(TrackedVideo).where(TrackedVideo.id == existing).values(**values)
                )
                # An earlier start or new terms: discovery reads back to the start once more.
                discovery_marks.forget(conn, existing)

    def sync_config_videos(self, videos: Sequence[VideoInput]) -> list[str]:
        """Apply the config file's [[videos]] entries that changed since they were last applied
        (added, or updated in place); returns their slugs.

        An entry applied before and unchanged since is left alone, so a video removed or edited
        at run time stays removed or edited until its entry in the file changes. Pausing is
        never touched.
        """
        applied = []
        with self.engine.begin() as conn:
            rows = conn.execute(select(ConfigVideoSync.slug, ConfigVideoSync.fingerprint))
            known = {slug: fingerprint for slug, fingerprint in rows}
            # An entry dropped from the file and added back later counts as changed.
            conn.execute(
                delete(ConfigVideoSync).where(ConfigVideoSync.slug.not_in([v.slug for v in videos]))
            )
        for video in videos:
            fingerprint = config_fingerprint(video)
            if known.get(video.slug) == fingerprint:
                continue
            self.add_video(video, replace=True)
            with self.engine.begin() as conn:
                conn.execute(
                    _insert(conn, ConfigVideoSync)
                    .values(slug=video.slug, fingerprint=fingerprint, synced_at=self.clock())
                    .on_conflict_do_update(
                        index_elements=["slug"],
                        set_={"fingerprint": fingerprint, "synced_at": self.clock()},
                    )
                )
            applied.append(video.slug)
        return applied

    def set_video_paused(self, slug: str, is_paused: bool) -> None:
        """Pause or resume collection for a video; UnknownVideo when absent."""
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(TrackedVideo).where(TrackedVideo.slug == slug).values(is_paused=is_paused)
            )
            if result.rowcount == 0:
                raise UnknownVideo(f"no tracked video {slug!r}")

    def remove_video(self, slug: str) -> None:
        """Stop tracking a video: its links and rollups go, and the posts (with their
        observations) no other video carries; UnknownVideo when absent."""
        with write_transaction(self.engine) as conn:
            video_id = conn.execute(
                select(TrackedVideo.id).where(TrackedVideo.slug == slug)
            ).scalar()
            if video_id is None:
                raise UnknownVideo(f"no tracked video {slug!r}")
            # Posts this video alone carries go; those shared with another video stay.
            linked = post_ids_of(video_id)
            other = aliased(PostVideo)  # its own FROM: never correlated with `linked`
            others = select(other.post_id).where(other.video_id != video_id)
            post_ids = linked.where(PostVideo.post_id.not_in(others))
            conn.execute(delete(ObservationRow).where(ObservationRow.post_id.in_(post_ids)))
            conn.execute(delete(Post).where(Post.id.in_(post_ids)))
            conn.execute(delete(PostVideo).where(PostVideo.video_id == video_id))
            conn.execute(delete(VideoHourly).where(VideoHourly.video_id == video_id))
            conn.execute(delete(Video5Min).where(Video5Min.video_id == video_id))
            conn.execute(delete(TrackedVideo).where(TrackedVideo.id == video_id))

    def active_videos(self) -> list[base.TrackedVideo]:
        """Videos collectors should look for (not paused)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(TrackedVideo)
                .where(TrackedVideo.is_paused.is_(False))
                .order_by(TrackedVideo.id)
            ).all()
        return [base.TrackedVideo(**video_fields(row)) for row in rows]

    # --- posts --------------------------------------------------------------------------

    def follow_post_url(self, video_slug: str, url: str) -> base.PostRef | None:
        """Follow a post URL added by hand: the post it stands for, or None when that post is
        already linked to the video (added before, or found by a collector). Raises
        UnknownVideo."""
        ref = self.identify_url(url)
        return ref if self.record_posts(video_slug, [ref]) else None

    def record_posts(self, video_slug: str | None, posts: Sequence[base.PostRef]) -> int:
        """Insert posts not seen before and link each to its video; returns how many links
        were new (a post already known, found for another video, gains a link: both count it).

        With `video_slug` None (cascade children found during refresh) each post joins its
        parent's videos; a child whose parent is unknown is skipped.
        """
        if not posts:
            return 0
        now = self.clock()
        unique = list({ref.key: ref for ref in posts}.values())
        for ref in unique:
            check_key("platform_post_id", ref.platform_post_id)
            check_key("parent_platform_post_id", ref.parent_platform_post_id)
        with write_transaction(self.engine) as conn:
            videos_of = self._video_ids_for(conn, video_slug, unique)
            refs = [ref for ref in unique if videos_of.get(ref.key)]
            if not refs:
                return 0
            # Column values for a Core insert: one heterogeneous mapping per post.
            rows: list[dict[str, Any]] = [
                {
                    "platform": ref.platform,
                    "platform_post_id": ref.platform_post_id,
                    "url": ref.url,
                    "author": ref.author,
                    "text": ref.text,
                    "published_at": ref.published_at,
                    "first_seen_at": now,
                    "parent_platform": ref.parent_platform,
                    "parent_platform_post_id": ref.parent_platform_post_id,
                    "relation": ref.relation,
                    "is_gone": False,
                    "extra": ref.extra,
                }
                for ref in refs
            ]
            existing = self._existing_keys(conn, [ref.key for ref in refs])
            new_rows = [r for r in rows if (r["platform"], r["platform_post_id"]) not in existing]
            if new_rows:
                conn.execute(
                    _insert(conn, Post).on_conflict_do_nothing(
                        index_elements=["platform", "platform_post_id"]
                    ),
                    new_rows,
                )
            # Found again: a gone post answers, so it is live again (issue 8).
            post_events.revive(conn, list(existing), now, "found again by discovery")
            ids = self._lookup(conn, [ref.key for ref in refs], Post.id)
            links = [
                Link(ids[ref.key][0], video_id, ref.matched_by)
                for ref in refs
                for video_id in videos_of[ref.key]
            ]
            return add_links(conn, links, now)

    def _video_ids_for(
        self, conn: Connection, video_slug: str | None, refs: Sequence[base.PostRef]
    ) -> dict[tuple[str, str], tuple[int, ...]]:
        if video_slug is not None:
            video_id = conn.execute(
                select(TrackedVideo.id).where(TrackedVideo.slug == video_slug)
            ).scalar()
            if video_id is None:
                raise UnknownVideo(f"no tracked video {video_slug!r}")
            return {ref.key: (video_id,) for ref in refs}
        parent_keys = [
            (ref.parent_platform, ref.parent_platform_post_id)
            for ref in refs
            if ref.parent_platform and ref.parent_platform_post_id
        ]
        parents = self._lookup(conn, parent_keys, Post.id)
        videos = links_of(conn, [row[0] for row in parents.values()])
        result = {}
        for ref in refs:
            parent = parents.get((ref.parent_platform or "", ref.parent_platform_post_id or ""))
            if parent is None:
                logger.debug("skipping %s: parent post unknown", ref.key)
                continue
            result[ref.key] = videos.get(parent[0], ())
        return result

    def _existing_keys(
        self, conn: Connection, keys: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        return set(self._lookup(conn, keys, Post.id))

    def _lookup(
        self, conn: Connection, keys: Iterable[tuple[Any, Any]], *columns: Any
    ) -> dict[tuple[str, str], Any]:
        """Rows of `posts` by (platform, platform_post_id), chunked to stay under bind limits."""
        keys = list(dict.fromkeys(keys))
        found: dict[tuple[str, str], Any] = {}
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            by_platform: dict[str, list[str]] = defaultdict(list)
            for platform, post_id in chunk:
                by_platform[platform].append(post_id)
            condition = or_(
                *(
                    and_(Post.platform == platform, Post.platform_post_id.in_(ids))
                    for platform, ids in by_platform.items()
                )
            )
            query = select(Post.platform, Post.platform_post_id, *columns).where(condition)
            for row in conn.execute(query):
                found[(row[0], row[1])] = tuple(row[2:])
        return found

    def claim_refresh(
        self, platform: str, limit: int, ahead: timedelta = timedelta(0)
    ) -> list[KnownPost]:
        """Lease up to `limit` of `platform`'s posts due within `ahead`, most-moving first
        (storage/schedule)."""
        now = self.clock()
        return schedule.claim_due(self.engine, self.scheduling, platform, now, limit, now + ahead)

    def release_refresh(self, posts: Sequence[KnownPost]) -> None:
        """Give back leased posts that were not read: they stay due."""
        if posts:
            schedule.release(self.engine, self.scheduling, posts)

    def mark_gone(self, gone: Sequence[base.Gone]) -> int:
        """Mark posts gone so they are no longer refreshed; returns how many changed."""
        with write_transaction(self.engine) as conn:
            schedule.unschedule(conn, [(g.platform, g.platform_post_id) for g in gone])
            return post_events.mark_gone(conn, gone)

    def discovery_marks(self, video_slug: str, collector: str) -> dict[str, base.QueryMark]:
        return discovery_marks.load(self.engine, video_slug, collector)

    def save_discovery_marks(
        self, video_slug: str, collector: str, marks: dict[str, base.QueryMark]
    ) -> None:
        discovery_marks.save(self.engine, video_slug, collector, marks, self.clock())

    # --- observations -------------------------------------------------------------------

    def record_observations(self, observations: Sequence[base.Observation]) -> int:
        """Store readings in one transaction; returns how many were newer than their post's
        latest. Keeps the invariant stated in storage/growth.py: a changed reading adds a row
        and its growth to the hourly and 5-minute rollups, an unchanged one only extends the
        latest row's confirmed_until, an older one arriving late joins the history without
        growth, and the posts' rows are locked (BEGIN IMMEDIATE on SQLite, FOR UPDATE on
        PostgreSQL) from the read of their latest counters to the commit.

        This is the hot path, so it speaks driver-level SQL: compiling and type-processing every
        row through SQLAlchemy costs several times the insert itself (see benchmarks/).
        """
        if not observations:
            return 0
        with write_transaction(self.engine) as conn:
            sql = DriverSql(conn)
            posts = sql.lock_posts([(o.platform, o.platform_post_id) for o in observations])
            # A gone post that answers is live again (issue 8); rare, so looked up only then.
            gone = [post.id for post in posts.values() if post.is_gone]
            post_events.revive_ids(conn, gone, self.clock(), "answered again")
            batch = _ObservationBatch(sql)
            for obs in sorted(observations, key=_observed_at):
                post = posts.get((obs.platform, obs.platform_post_id))
                if post is None:
                    logger.debug(
                        "observation for unknown post %s/%s", obs.platform, obs.platform_post_id
                    )
                    continue
                batch.add(post, obs)
            batch.flush(self.scheduling)
            return batch.fresh

    def record_errors(self, errors: Sequence[base.PostError]) -> int:
        """Remember why posts could not be read; returns how many were updated."""
        changed = 0
        with write_transaction(self.engine) as conn:
            keys = [(e.platform, e.platform_post_id) for e in errors]
            schedule.record_failures(conn, self.scheduling, keys, self.clock())
            for item in errors:
                result = conn.execute(
                    update(Post)
                    .where(
                        Post.platform == item.platform,
                        Post.platform_post_id == item.platform_post_id,
                    )
                    .values(last_error=item.message[:2000], last_error_at=item.detected_at)
                )
                changed += result.rowcount
            misses = [item for item in errors if item.is_miss]
            post_events.count_misses(conn, misses, self.misses_before_gone)
        return changed

    # --- runs ---------------------------------------------------------------------------

    def record_run(self, report: RunReport) -> None:
        """Store one collector run for the dashboard's status view, and make it the newest of
        its collector and kind."""
        with write_transaction(self.engine) as conn:
            _insert_run(conn, report)

    def record_run_once(self, report: RunReport) -> None:
        """`record_run` unless this run (collector, kind, video, start) is stored already: an
        outage spool replayed again after a kill stores each run once."""
        with write_transaction(self.engine) as conn:
            stored = conn.execute(
                select(CollectorRun.id).where(
                    CollectorRun.collector == report.collector,
                    CollectorRun.started_at == report.started_at,
                    CollectorRun.kind == report.kind,
                    CollectorRun.video_slug.is_(None)
                    if report.video_slug is None
                    else CollectorRun.video_slug == report.video_slug,
                )
            ).first()
            if stored is None:
                _insert_run(conn, report)


def _insert_run(conn: Connection, report: RunReport) -> None:
    run_id = conn.execute(
        _insert(conn, CollectorRun)
        .values(
            collector=report.collector,
            kind=report.kind,
            video_slug=report.video_slug,
            started_at=report.started_at,
            finished_at=report.finished_at,
            status=report.status,
            requests=report.requests,
            posts_found=report.posts_found,
            observations_written=report.observations_written,
            error_message=report.error_message,
            retry_at=report.retry_at,
        )
        .returning(CollectorRun.id)
    ).scalar_one()
    latest = _insert(conn, CollectorLatestRun).values(
        collector=report.collector, kind=report.kind, run_id=run_id
    )
    conn.execute(
        latest.on_conflict_do_update(
            index_elements=["collector", "kind"], set_={"run_id": latest.excluded.run_id}
        )
    )


def _observed_at(obs: base.Observation) -> datetime:
    return obs.observed_at


class _ObservationBatch:
    """One batch's rows, confirmations, latest counters, rollup sums and next refresh times,
    gathered in one pass over the readings and written with one statement per table."""

    def __init__(self, sql: DriverSql) -> None:
        self.sql = sql
        self.fresh = 0
        # Rows newer than their post's latest cannot collide with a stored one (the post is
        # locked and every stored row is at or before its latest): they take the bulk path.
        self.rows: list[tuple[Any, ...]] = []
        self.late_rows: list[tuple[Any, ...]] = []
        self.moments: set[datetime] = set()
        # (post id, row's observed_at) -> until: every row a batch confirms, not only the last
        # (a confirmed row followed by a changed reading keeps its confirmation).
        self.confirms: dict[tuple[int, Any], Any] = {}
        # Post id -> the post and its newest reading in the batch (readings come oldest first).
        self.read: dict[int, tuple[LockedPost, base.Observation]] = {}
        # (video id, platform, 5-minute bucket start as stored) -> each reading's deltas,
        # baselines and 1, summed column-wise at flush; the hourly rollup is summed from
        # these, so the two always agree.
        self.five_minute: dict[tuple[int, str, Any], list[tuple[int, ...]]] = {}
        self._hour_of: dict[Any, Any] = {}  # 5-minute bucket start -> its hour's, as stored
        self._bucket_of: dict[datetime, Any] = {}

    def add(self, post: LockedPost, obs: base.Observation) -> None:
        post_id, state = post.id, post.state
        self.read[post_id] = (post, obs)
        at = self.sql.timestamp(obs.observed_at)
        values: Counters = (obs.views, obs.likes, obs.shares, obs.comments, obs.quotes)
        step = apply_reading(state, at, values)
        kind = step.kind
        if kind == "repeat":
            return
        if kind == "late":
            if not is_covered(self.sql.row_at_or_before(post_id, at), at, values):
                self.late_rows.append((post_id, at, *values))
                self.moments.add(obs.observed_at)
            return
        self.fresh += 1
        if kind == "confirm":
            self.confirms[(post_id, state.latest_row_at)] = at
        else:
            self.rows.append((post_id, at, *values))
            self.moments.add(obs.observed_at)
        start = self._bucket_of.get(obs.observed_at)
        if start is None:  # a batch shares a handful of clock readings
            start = self._bucket_of[obs.observed_at] = self.sql.timestamp(
                five_minute_start(obs.observed_at)
            )
            self._hour_of[start] = self.sql.timestamp(hour_start(obs.observed_at))
        sums = (*step.deltas, *step.baselines, 1)
        for video_id in post.video_ids:  # a post shared by several videos grows each of them
            self.five_minute.setdefault((video_id, obs.platform, start), []).append(sums)

    def flush(self, scheduling: schedule.Scheduling) -> None:
        sql = self.sql
        partitions.ensure_partitions(sql.conn, self.moments)
        sql.insert_new_observations(self.rows)
        sql.insert_observations(self.late_rows)
        sql.update_rows(
            "observations",
            ("confirmed_until",),
            ("post_id", "observed_at"),
            [(until, post_id, row_at) for (post_id, row_at), until in self.confirms.items()],
        )
        latest = [
            (post.state.latest_at, *post.state.latest, post.state.latest_row_at, post.id)
            for post, _ in self.read.values()
        ]
        sql.update_rows("posts", _LATEST_COLUMNS, ("id",), latest, _LATEST_CONSTANTS)
        self._flush_rollups()
        # In the same transaction: a committed reading always moves its post's next time.
        plans = ((post.id, obs, post.schedule) for post, obs in self.read.values() if post.schedule)
        changes = schedule.after_readings(scheduling, plans)
        stamp = sql.timestamp
        rows = [(stamp(c[0]), c[1], c[2], stamp(c[3]), c[4], c[5]) for c in changes]
        sql.update_rows(
            "post_schedule", schedule.READ_COLUMNS, ("post_id",), rows, schedule.READ_CONSTANTS
        )

    def _flush_rollups(self) -> None:
        five_minute = {
            key: [sum(column) for column in zip(*steps, strict=True)]
            for key, steps in self.five_minute.items()
        }
        hourly: dict[tuple[int, str, Any], list[int]] = {}
        for (video_id, platform, start), sums in five_minute.items():
            key = (video_id, platform, self._hour_of[start])
            total = hourly.setdefault(key, [0] * len(sums))
            for i, value in enumerate(sums):
                total[i] += value
        self.sql.add_rollup("video_hourly", [(*key, *sums) for key, sums in hourly.items()])
        self.sql.add_rollup("video_5min", [(*key, *sums) for key, sums in five_minute.items()])
