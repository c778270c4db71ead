"""Series building: rows from storage/read.py -> numpy series, the same for every rendering.

Every chart, JSON response and CSV download is built from the functions here, so the three
renderings always agree. The time axis comes from dashboard/timegrid.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Engine

from dashboard.errors import BadParameter
from dashboard.platforms import NO_PLATFORMS, Platforms
from dashboard.timegrid import (
    FINE_MINUTES,
    MAX_POINTS,
    STEPS_VISIBLE_SPAN,
    Window,
    axis,
    axis_start,
    bucket_ends,
    cadence_bucket_minutes,
    floor_to,
    grid_minutes,
    readable_bucket_minutes,
    to_datetime64,
)
from storage import read
from storage.read import COUNTERS, AppearanceTime

# Chartable counters: the one list, from the records (see collectors/base.py COUNTERS).
METRICS = COUNTERS


SERIES_METRICS = (*METRICS, "reposts")


@dataclass(frozen=True, slots=True)
class Series:
    """One metric of one video per platform, on a shared time axis of equal buckets.

    `values[p][i]` is the cumulative total at the end of bucket i (cumulative series) or the
    amount in bucket i (per-bucket series, e.g. new reposts).
    """

    video: str
    metric: str
    cumulative: bool
    bucket_minutes: int
    starts: np.ndarray
    ends: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def bucket_hours(self) -> float:
        return self.bucket_minutes / 60

    @property
    def times(self) -> np.ndarray:
        """Where each value is drawn: the bucket's end for totals, its start for amounts."""
        return self.ends if self.cumulative else self.starts


def counter_series(
    engine: Engine,
    video: str,
    metric: str,
    window: Window,
    platforms: Sequence[str] = (),
    bucket_minutes: int | None = None,
    *,
    cumulative: bool = True,
    catalog: Platforms = NO_PLATFORMS,
) -> Series:
    """Growth of `metric` per platform from the rollups, cumulative (from the first data, not
    from the window start) unless `cumulative` is False.

    Windows up to 24 hours (and buckets under an hour) read the 5-minute rollup, others the
    hourly one; `bucket_minutes` None picks the size. Raises BadParameter for an unknown metric
    or too many buckets.
    """
    found = counter_series_many(
        engine, video, (metric,), window, platforms, bucket_minutes, cumulative, catalog
    )
    return found[metric]


def counter_series_many(
    engine: Engine,
    video: str,
    metrics: Sequence[str],
    window: Window,
    platforms: Sequence[str] = (),
    bucket_minutes: int | None = None,
    cumulative: bool = True,
    catalog: Platforms = NO_PLATFORMS,
) -> dict[str, Series]:
    """`counter_series` of each of `metrics`, from one read of the rollup (the video page draws
    three counters from the same rows)."""
    for metric in metrics:
        if metric not in METRICS:
            raise BadParameter(
                f"metric: {metric[:20]!r} is unknown; use one of {', '.join(SERIES_METRICS)}"
            )
    grid = grid_minutes(window, bucket_minutes)
    since = axis_start(window, grid)
    rows = read.rollup_deltas(
        engine, video, bucket_minutes=grid, platforms=platforms, since=since, until=window.until
    )
    # An open window ("all") starts at the first bucket with data, not at some fixed origin.
    t0 = since or (rows[0].bucket_start if rows else floor_to(window.until, grid))
    if bucket_minutes is None and grid == FINE_MINUTES and window.until - t0 <= STEPS_VISIBLE_SPAN:
        # Readings every 15 minutes drawn in 5-minute buckets are stairs, not growth.
        starts: dict[str, list[datetime]] = {}
        for row in rows:
            starts.setdefault(row.platform, []).append(row.bucket_start)
        bucket_minutes = cadence_bucket_minutes(starts)
    minutes, axis_starts = axis(t0, window.until, grid, bucket_minutes)
    # Totals count from the first data, so a 24-hour chart starts at what came before it.
    before: list[read.RollupRow] = []
    if since is not None and cumulative:
        before = read.rollup_totals_before(engine, video, since, platforms=platforms)
    ends = bucket_ends(axis_starts, minutes, window)
    at = np.array([to_datetime64(row.bucket_start) for row in rows], dtype="datetime64[s]")
    # Rollup buckets (5 or 60 min) fold into the wider display bucket they fall in.
    index = ((at - axis_starts[0]) // np.timedelta64(minutes, "m")).astype(np.int64)
    found = {}
    for metric in metrics:
        values = _platform_values(rows, index, metric, before, len(axis_starts), catalog)
        if cumulative:
            values = {p: np.cumsum(v) + b for p, (v, b) in values.items()}
        else:
            values = {p: v for p, (v, _) in values.items()}
        found[metric] = Series(video, metric, cumulative, minutes, axis_starts, ends, values)
    return found


def _platform_values(
    rows: Sequence[read.RollupRow],
    index: np.ndarray,
    metric: str,
    before: Sequence[read.RollupRow],
    size: int,
    catalog: Platforms,
) -> dict[str, tuple[np.ndarray, int]]:
    """Per platform, `metric`'s growth per display bucket and its total before the axis."""
    baseline = {row.platform: getattr(row, metric) for row in before}
    # A platform with a baseline but no growth in the window still gets its flat line.
    positions: dict[str, list[int]] = {p: [] for p in baseline}
    for n, row in enumerate(rows):
        positions.setdefault(row.platform, []).append(n)
    amounts_of = np.array([getattr(row, metric) for row in rows], dtype=np.int64)
    values = {}
    for platform in catalog.order(positions):
        amounts = np.zeros(size, dtype=np.int64)
        mine = np.array(positions[platform], dtype=np.int64)
        # add.at, not +=, because several rollup rows land on one index.
        np.add.at(amounts, index[mine], amounts_of[mine])
        values[platform] = (amounts, baseline.get(platform, 0))
    return values


def repost_series(
    appearances: Sequence[AppearanceTime],
    video: str,
    window: Window,
    bucket_minutes: int | None = None,
    catalog: Platforms = NO_PLATFORMS,
) -> Series:
    """New reposts per bucket and platform, by when each post appeared. Unless `bucket_minutes`
    is given, buckets are sized from the data's own extent (READABLE_BARS bars from the first
    post in the window to its end) on the grid `counter_series` uses."""
    grid = grid_minutes(window, bucket_minutes)
    since = axis_start(window, grid)
    # Posts that appeared before the axis are not new in it: unlike totals, no baseline.
    inside = [
        a
        for a in appearances
        if (since is None or a.appeared_at >= since) and a.appeared_at < window.until
    ]
    first_at = min((a.appeared_at for a in inside), default=window.until)
    t0 = since or floor_to(first_at, grid)
    if bucket_minutes is None:
        bucket_minutes = readable_bucket_minutes(grid, window.until - first_at)
    minutes, starts = axis(t0, window.until, grid, bucket_minutes)
    grouped: dict[str, list[np.datetime64]] = {}
    for a in inside:
        grouped.setdefault(a.platform, []).append(to_datetime64(a.appeared_at))
    values = {}
    for platform in catalog.order(grouped):
        at = np.array(grouped[platform], dtype="datetime64[s]")
        index = ((at - starts[0]) // np.timedelta64(minutes, "m")).astype(np.int64)
        values[platform] = np.bincount(index, minlength=len(starts)).astype(np.int64)
    return Series(
        video, "reposts", False, minutes, starts, bucket_ends(starts, minutes, window), values
    )


@dataclass(frozen=True, slots=True)
class PostSeries:
    """One post's counters over time (downsampled to MAX_POINTS); NaN where not exposed."""

    post_id: int
    times: np.ndarray
    values: dict[str, np.ndarray]


def post_series(engine: Engine, post_id: int, window: Window) -> PostSeries:
    """One post's observations in the window, evenly thinned to at most MAX_POINTS."""
    rows = read.post_observations(engine, post_id, since=window.since, until=window.until)
    if len(rows) > MAX_POINTS:
        step = math.ceil(len(rows) / MAX_POINTS)
        keep = list(range(0, len(rows), step))
        # Always keep the newest reading: it is the number the page prints next to the chart.
        if keep[-1] != len(rows) - 1:
            keep.append(len(rows) - 1)
        rows = [rows[i] for i in keep]
    times = np.array([to_datetime64(r.observed_at) for r in rows], dtype="datetime64[s]")
    # NaN, not 0, for a hidden counter: plotly leaves a gap and the CSV an empty cell.
    values = {
        metric: np.array(
            [np.nan if getattr(r, metric) is None else getattr(r, metric) for r in rows],
            dtype=np.float64,
        )
        for metric in METRICS
    }
    return PostSeries(post_id, times, values)
