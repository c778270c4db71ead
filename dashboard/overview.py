"""Overview and table view-models: video summaries and the reposts table's rows.

Totals come from each post's latest counters; growth and sparklines from the rollups, on the
same buckets the window's charts use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Engine

from dashboard.errors import BadParameter
from dashboard.params import TableParams, View
from dashboard.platforms import NO_PLATFORMS, Platforms
from dashboard.series import METRICS
from dashboard.timegrid import (
    FINE_MINUTES,
    Window,
    axis_start,
    ceil_to,
    grid_minutes,
)
from storage import measures_read, read
from storage.read import PostRow, RollupRow, VideoRow


@dataclass(frozen=True, slots=True)
class PostTableRow:
    post: PostRow
    appeared_at: datetime
    growth_views: int | None
    """Views gained inside the window (all views for an "all" window); None when hidden."""
    matches: tuple[read.MatchRow, ...] = ()
    """Every video the post matched, and why (issue 9: a post can carry several)."""


GROWTH_SORT = "growth"
"""Sorts the reposts table by the Growth column (views gained in the window)."""


def top_posts(
    engine: Engine,
    video: str,
    view: View,
    table: TableParams,
    limit: int | None = 100,
    offset: int = 0,
) -> tuple[list[PostTableRow], int]:
    """A page of the reposts table (limit None: every page) with each post's growth in the
    view's window; and the match count. Reshare edges (no counters) are listed only with
    `table.reshares`. Raises BadParameter for an unknown sort key."""
    window = view.window
    by_growth = table.sort == GROWTH_SORT
    try:
        posts, total = read.list_posts(
            engine,
            video,
            platforms=view.platforms,
            author=table.author or None,
            sort="views" if by_growth else table.sort,
            descending=table.descending,
            limit=None if by_growth else limit,
            offset=0 if by_growth else offset,
            reshares=table.reshares,
        )
    except ValueError as err:
        raise BadParameter(f"sort: {err}; or {GROWTH_SORT}") from err
    # Growth in the window: latest views minus the reading before it, else minus the first
    # reading in it (a first reading is a baseline, never growth: issue 11).
    ids = None if by_growth else [p.id for p in posts]
    found = measures_read.growth_since(
        engine, window.since, video=video, post_ids=ids, platforms=view.platforms
    )
    rows = [
        PostTableRow(
            post,
            post.published_at or post.first_seen_at,
            None if post.views is None else (found[post.id].growth if post.id in found else 0),
        )
        for post in posts
    ]
    if by_growth:
        # Hidden counters last in both orders, as the other sorts keep NULLs last.
        known = [r for r in rows if r.growth_views is not None]
        known.sort(key=lambda r: (r.growth_views or 0, -r.post.id), reverse=table.descending)
        rows = [*known, *(r for r in rows if r.growth_views is None)]
        rows = rows[offset : None if limit is None else offset + limit]
    matches = read.post_matches(engine, [r.post.id for r in rows])
    return [replace(r, matches=tuple(matches.get(r.post.id, ()))) for r in rows], total


@dataclass(frozen=True, slots=True)
class VideoSummary:
    """One row of the overview."""

    video: VideoRow
    posts: int
    """Posts that carry the footage (with counters of their own)."""
    reshares: int
    """Reshare edges: who reposted/boosted one of those posts (no counters)."""
    totals: dict[str, int]
    platforms: list[str]
    growth_1h: int
    growth_24h: int
    growth_window: int
    sparkline: np.ndarray
    last_observed_at: datetime | None
    sparkline_minutes: int = 60
    """The bucket size behind the sparkline: 5 for windows up to 24 hours, else 60."""


def video_summaries(
    engine: Engine,
    window: Window,
    platforms: Sequence[str],
    now: datetime,
    slug: str | None = None,
    catalog: Platforms = NO_PLATFORMS,
    totals: Sequence[read.PlatformTotalsRow] | None = None,
) -> list[VideoSummary]:
    """Overview rows: totals from the latest counters, growth and sparkline from the rollups.

    Growth "last hour" and "24 h" sum the 5-minute buckets of the last 60 minutes / 24 hours
    (12 / 288 buckets, the newest one still filling). Growth in the window and the sparkline
    use the window's buckets, as its charts do.
    """
    if totals is None:
        totals = read.platform_totals(engine, video=slug, platforms=platforms)
    # On the 5-minute grid, so "last hour" is exactly 12 whole buckets (the newest filling).
    day_ago = ceil_to(now - timedelta(hours=24), FINE_MINUTES)
    hour_ago = ceil_to(now - timedelta(hours=1), FINE_MINUTES)
    recent = read.rollup_deltas(
        engine,
        slug,
        bucket_minutes=FINE_MINUTES,
        platforms=platforms,
        since=day_ago,
        until=now,
        by_platform=False,
    )
    grid = grid_minutes(window, None)
    since = axis_start(window, grid)
    # A window inside the last 24 hours is a slice of the rows already read: no second query.
    if grid == FINE_MINUTES and since is not None and since >= day_ago and window.until == now:
        windowed = [r for r in recent if r.bucket_start >= since]
    else:
        windowed = read.rollup_deltas(
            engine,
            slug,
            bucket_minutes=grid,
            platforms=platforms,
            since=since,
            until=window.until,
            by_platform=False,
        )
    summaries = []
    for video in read.list_videos(engine, slug):
        mine = [t for t in totals if t.video == video.slug]
        buckets = [r for r in recent if r.video == video.slug]
        in_window = [r for r in windowed if r.video == video.slug]
        observed = [t.last_observed_at for t in mine if t.last_observed_at]
        summaries.append(
            VideoSummary(
                video=video,
                posts=sum(t.posts for t in mine),
                reshares=sum(t.reshares for t in mine),
                totals={m: sum(getattr(t, m) for t in mine) for m in METRICS},
                # Only platforms with a post of their own: reshare edges alone do not count.
                platforms=catalog.order(t.platform for t in mine if t.posts),
                # A post's first reading is its baseline, not growth (issue 11).
                growth_1h=_growth(r for r in buckets if r.bucket_start >= hour_ago),
                growth_24h=_growth(buckets),
                growth_window=_growth(in_window),
                sparkline=_sparkline(in_window, grid),
                last_observed_at=max(observed) if observed else None,
                sparkline_minutes=grid,
            )
        )
    return summaries


def _growth(rows: Iterable[RollupRow]) -> int:
    """Views gained in the buckets of `rows`, first readings (baselines) left out."""
    return sum(r.views - r.views_baseline for r in rows)


def _sparkline(rows: Sequence[read.RollupRow], minutes: int, points: int = 48) -> np.ndarray:
    """Cumulative views over the rows (buckets of `minutes`), thinned to at most `points`."""
    if not rows:
        return np.zeros(0, dtype=np.int64)
    # Seconds since the epoch, one call a row: the overview of an "all" range reads every hour.
    seconds = np.array([r.bucket_start.timestamp() for r in rows], dtype=np.int64)
    index = (seconds - seconds[0]) // (minutes * 60)
    amounts = np.zeros(int(index[-1]) + 1, dtype=np.int64)
    np.add.at(amounts, index, np.array([r.views for r in rows], dtype=np.int64))
    cumulative = np.cumsum(amounts)
    if len(cumulative) > points:
        picks = np.linspace(0, len(cumulative) - 1, points).round().astype(np.int64)
        cumulative = cumulative[picks]
    return cumulative
