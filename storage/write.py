"""The only writer. Implements the collectors' Sink: posts, observations, gone marks, runs.

Posts go through small Core upserts; observations go in as Core bulk inserts, one transaction
per batch, together with the latest-counter columns on `posts` and the hourly rollup.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from collectors import base
from collectors.base import Clock, KnownPost, RunReport
from storage.models import CollectorRun, Post, TrackedVideo, VideoHourly
from storage.models import Observation as ObservationRow

logger = logging.getLogger("viralwatch.storage")

COUNTERS = ("views", "likes", "shares", "comments", "quotes")
# Keys per IN (...) lookup: well under SQLite's 32,766 bound-parameter limit.
LOOKUP_CHUNK = 500


class VideoExists(ValueError):
    """A video with that slug is already tracked."""


class UnknownVideo(LookupError):
    """No tracked video has that slug."""


@dataclass(frozen=True, slots=True)
class VideoInput:
    """A tracked video to add or update."""

    slug: str
    title: str
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    started_at: datetime | None = None
    source: str = "cli"


def _insert(connection: Connection, table: Any) -> Any:
    """A dialect insert that supports ON CONFLICT (SQLite and PostgreSQL both do)."""
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class StorageSink:
    """`collectors.base.Sink` on a SQLAlchemy engine."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

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
        with self.engine.begin() as conn:
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

    def sync_config_videos(self, videos: Sequence[VideoInput]) -> None:
        """Make the config file's [[videos]] tracked (added, or updated in place)."""
        for video in videos:
            self.add_video(video, replace=True)

    def set_video_paused(self, slug: str, is_paused: bool) -> None:
        """Pause or resume collection for a video; UnknownVideo when absent."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(TrackedVideo).where(TrackedVideo.slug == slug).values(is_paused=is_paused)
            )
            if result.rowcount == 0:
                raise UnknownVideo(f"no tracked video {slug!r}")

    def remove_video(self, slug: str) -> None:
        """Stop tracking a video and delete its posts and observations; UnknownVideo when absent."""
        with self.engine.begin() as conn:
            video_id = conn.execute(
                select(TrackedVideo.id).where(TrackedVideo.slug == slug)
            ).scalar()
            if video_id is None:
                raise UnknownVideo(f"no tracked video {slug!r}")
            post_ids = select(Post.id).where(Post.video_id == video_id)
            conn.execute(
                ObservationRow.__table__.delete().where(ObservationRow.post_id.in_(post_ids))
            )
            conn.execute(Post.__table__.delete().where(Post.video_id == video_id))
            conn.execute(VideoHourly.__table__.delete().where(VideoHourly.video_id == video_id))
            conn.execute(TrackedVideo.__table__.delete().where(TrackedVideo.id == video_id))

    def active_videos(self) -> list[base.TrackedVideo]:
        """Videos collectors should look for (not paused)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(TrackedVideo)
                .where(TrackedVideo.is_paused.is_(False))
                .order_by(TrackedVideo.id)
            ).all()
        return [
            base.TrackedVideo(
                slug=row.slug,
                title=row.title,
                keywords=tuple(row.keywords),
                hashtags=tuple(row.hashtags),
                urls=tuple(row.urls),
                started_at=row.started_at,
            )
            for row in rows
        ]

    # --- posts --------------------------------------------------------------------------

    def record_posts(self, video_slug: str | None, posts: Sequence[base.PostRef]) -> int:
        """Insert posts not seen before; returns how many were new.

        With `video_slug` None (cascade children found during refresh) each post joins its
        parent's video; a child whose parent is unknown is skipped.
        """
        if not posts:
            return 0
        now = self.clock()
        unique = list({ref.key: ref for ref in posts}.values())
        with self.engine.begin() as conn:
            video_of = self._video_ids_for(conn, video_slug, unique)
            rows = [
                {
                    "video_id": video_of[ref.key],
                    "platform": ref.platform,
                    "platform_post_id": ref.platform_post_id,
                    "url": ref.url,
                    "author": ref.author,
                    "text": ref.text,
                    "published_at": ref.published_at,
                    "first_seen_at": now,
                    "matched_by": ref.matched_by,
                    "parent_platform": ref.parent_platform,
                    "parent_platform_post_id": ref.parent_platform_post_id,
                    "relation": ref.relation,
                    "is_gone": False,
                    "extra": ref.extra,
                }
                for ref in unique
                if ref.key in video_of
            ]
            if not rows:
                return 0
            existing = self._existing_keys(
                conn, [(r["platform"], r["platform_post_id"]) for r in rows]
            )
            new_rows = [r for r in rows if (r["platform"], r["platform_post_id"]) not in existing]
            if new_rows:
                conn.execute(
                    _insert(conn, Post).on_conflict_do_nothing(
                        index_elements=["platform", "platform_post_id"]
                    ),
                    new_rows,
                )
            return len(new_rows)

    def _video_ids_for(
        self, conn: Connection, video_slug: str | None, refs: Sequence[base.PostRef]
    ) -> dict[tuple[str, str], int]:
        if video_slug is not None:
            video_id = conn.execute(
                select(TrackedVideo.id).where(TrackedVideo.slug == video_slug)
            ).scalar()
            if video_id is None:
                raise UnknownVideo(f"no tracked video {video_slug!r}")
            return {ref.key: video_id for ref in refs}
        parent_keys = [
            (ref.parent_platform, ref.parent_platform_post_id)
            for ref in refs
            if ref.parent_platform and ref.parent_platform_post_id
        ]
        parents = self._lookup(conn, parent_keys, Post.video_id)
        result = {}
        for ref in refs:
            parent = parents.get((ref.parent_platform or "", ref.parent_platform_post_id or ""))
            if parent is None:
                logger.debug("skipping %s: parent post unknown", ref.key)
                continue
            result[ref.key] = parent[0]
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

    def posts_to_refresh(self, platform: str, due_before: datetime) -> list[KnownPost]:
        """Active posts of `platform` (of unpaused videos) not observed since `due_before`."""
        query = (
            select(Post.platform, Post.platform_post_id, Post.url, Post.extra)
            .join(TrackedVideo, TrackedVideo.id == Post.video_id)
            .where(
                Post.platform == platform,
                Post.is_gone.is_(False),
                TrackedVideo.is_paused.is_(False),
                or_(Post.latest_observed_at.is_(None), Post.latest_observed_at < due_before),
            )
            .order_by(Post.id)
        )
        with self.engine.connect() as conn:
            return [
                KnownPost(platform=r[0], platform_post_id=r[1], url=r[2], extra=r[3] or {})
                for r in conn.execute(query)
            ]

    def mark_gone(self, gone: Sequence[base.Gone]) -> int:
        """Mark posts gone so they are no longer refreshed; returns how many changed."""
        changed = 0
        with self.engine.begin() as conn:
            for item in gone:
                result = conn.execute(
                    update(Post)
                    .where(
                        Post.platform == item.platform,
                        Post.platform_post_id == item.platform_post_id,
                        Post.is_gone.is_(False),
                    )
                    .values(is_gone=True, gone_at=item.detected_at, gone_reason=item.reason)
                )
                changed += result.rowcount
        return changed

    # --- observations -------------------------------------------------------------------

    def record_observations(self, observations: Sequence[base.Observation]) -> int:
        """Insert observations (idempotent per post and time); returns rows newer than the
        post's latest. Updates latest counters and the hourly rollup in the same transaction."""
        if not observations:
            return 0
        with self.engine.begin() as conn:
            posts = self._lookup(
                conn,
                [(o.platform, o.platform_post_id) for o in observations],
                Post.id,
                Post.video_id,
                Post.latest_observed_at,
                *(getattr(Post, f"latest_{c}") for c in COUNTERS),
            )
            rows, latest_updates, fresh = [], {}, 0
            rollup: dict[tuple[int, str, datetime], list[int]] = defaultdict(
                lambda: [0] * (len(COUNTERS) + 1)
            )
            for obs in sorted(observations, key=lambda o: o.observed_at):
                post = posts.get((obs.platform, obs.platform_post_id))
                if post is None:
                    logger.debug(
                        "observation for unknown post %s/%s", obs.platform, obs.platform_post_id
                    )
                    continue
                post_id, video_id, latest_at, *latest = post
                if post_id in latest_updates:
                    latest_at, latest = (
                        latest_updates[post_id]["at"],
                        latest_updates[post_id]["values"],
                    )
                values = [getattr(obs, c) for c in COUNTERS]
                rows.append(
                    {
                        "post_id": post_id,
                        "observed_at": obs.observed_at,
                        **dict(zip(COUNTERS, values, strict=True)),
                    }
                )
                if latest_at is not None and obs.observed_at <= latest_at:
                    continue  # a retry or a late, older reading: stored, but not a new latest
                fresh += 1
                bucket = rollup[(video_id, obs.platform, hour_start(obs.observed_at))]
                for i, (new, old) in enumerate(zip(values, latest, strict=True)):
                    if new is not None:
                        bucket[i] += new - (old or 0)
                bucket[-1] += 1
                merged = [
                    new if new is not None else old for new, old in zip(values, latest, strict=True)
                ]
                latest_updates[post_id] = {"at": obs.observed_at, "values": merged}
            if rows:
                conn.execute(
                    _insert(conn, ObservationRow).on_conflict_do_nothing(
                        index_elements=["post_id", "observed_at"]
                    ),
                    rows,
                )
            if latest_updates:
                self._update_latest(conn, latest_updates)
            if rollup:
                self._add_rollup(conn, rollup)
            return fresh

    def _update_latest(self, conn: Connection, updates: dict[int, dict[str, Any]]) -> None:
        table = Post.__table__
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                latest_observed_at=bindparam("b_at"),
                **{f"latest_{c}": bindparam(f"b_{c}") for c in COUNTERS},
            )
        )
        conn.execute(
            statement,
            [
                {
                    "b_id": post_id,
                    "b_at": u["at"],
                    **{f"b_{c}": v for c, v in zip(COUNTERS, u["values"], strict=True)},
                }
                for post_id, u in updates.items()
            ],
        )

    def _add_rollup(
        self, conn: Connection, rollup: dict[tuple[int, str, datetime], list[int]]
    ) -> None:
        statement = _insert(conn, VideoHourly)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["video_id", "platform", "bucket_start"],
            set_={
                **{
                    f"{c}_delta": getattr(VideoHourly, f"{c}_delta")
                    + getattr(excluded, f"{c}_delta")
                    for c in COUNTERS
                },
                "observations": VideoHourly.observations + excluded.observations,
            },
        )
        conn.execute(
            statement,
            [
                {
                    "video_id": video_id,
                    "platform": platform,
                    "bucket_start": bucket_start,
                    **{f"{c}_delta": deltas[i] for i, c in enumerate(COUNTERS)},
                    "observations": deltas[-1],
                }
                for (video_id, platform, bucket_start), deltas in rollup.items()
            ],
        )

    # --- runs ---------------------------------------------------------------------------

    def record_run(self, report: RunReport) -> None:
        """Store one collector run for the dashboard's status view."""
        with self.engine.begin() as conn:
            conn.execute(
                _insert(conn, CollectorRun).values(
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
            )
