"""Time-grid maths: windows, bucket boundaries and the axis every series shares.

Series are bucketed on the grid of the rollup they read: 5 minutes for windows up to 24 hours
(at most 288 points), whole hours for longer or open ones (the hourly rollup). An automatic
bucket size keeps a trace within AUTO_POINTS points, one asked for within MAX_POINTS. Pure
functions, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from dashboard.errors import BadParameter

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


MAX_POINTS = 2000


# An automatic bucket size keeps a trace at most this long: a chart is a few hundred pixels
# wide, and each point costs building, sending and drawing (1,481 hourly points per trace made
# a two-month video page take seconds; issue 7). A size asked for may go up to MAX_POINTS.
AUTO_POINTS = 400


# Windows up to FINE_SPAN long are drawn in FINE_MINUTES buckets from the 5-minute rollup.
FINE_SPAN = timedelta(hours=24)


FINE_MINUTES = 5


BUCKET_HOURS = (1, 2, 3, 6, 12, 24, 48, 168)


# Bars per chart over the stretch where something happens: fewer is a few blocks, more a
# barcode of hairlines (288 five-minute bars in a day).
READABLE_BARS = 48


FINE_BUCKETS = (5, 10, 15, 30)


@dataclass(frozen=True, slots=True)
class Window:
    """The time range a view covers: [since, until); since None means from the first data."""

    range: str
    since: datetime | None
    until: datetime
    start_text: str = ""
    end_text: str = ""


def floor_to(moment: datetime, minutes: int) -> datetime:
    """`moment` rounded down to a multiple of `minutes` (a divisor of 60, or 60) in its hour."""
    return moment.replace(minute=moment.minute - moment.minute % minutes, second=0, microsecond=0)


def ceil_to(moment: datetime, minutes: int) -> datetime:
    floored = floor_to(moment, minutes)
    return floored if floored == moment else floored + timedelta(minutes=minutes)


def is_fine(window: Window) -> bool:
    """Whether `window` is short enough for 5-minute buckets (FINE_SPAN at most)."""
    return window.since is not None and window.until - window.since <= FINE_SPAN


def grid_minutes(window: Window, bucket_minutes: int | None) -> int:
    """The grid (and rollup) a series of `bucket_minutes` (None: auto) is built on: 5 or 60."""
    if bucket_minutes is None:
        return FINE_MINUTES if is_fine(window) else 60
    # Whole hours read the hourly rollup (12 times fewer rows); anything else needs 5 minutes.
    return 60 if bucket_minutes % 60 == 0 else FINE_MINUTES


def axis_start(window: Window, grid: int) -> datetime | None:
    """The first grid boundary at or after the window's start, so a 24-hour window has 288
    five-minute buckets and an hour 12 (what came before is the cumulative baseline). A window
    shorter than one grid step starts at the boundary before. None for an open window."""
    if window.since is None:
        return None
    start = ceil_to(window.since, grid)
    return start if start < window.until else floor_to(window.since, grid)


def auto_bucket_hours(span_hours: int) -> int:
    # The smallest readable size that keeps a trace under AUTO_POINTS; beyond a week a bucket,
    # whatever fits.
    for hours in BUCKET_HOURS:
        if math.ceil(span_hours / hours) <= AUTO_POINTS:
            return hours
    return math.ceil(span_hours / AUTO_POINTS)


def to_datetime64(moment: datetime) -> np.datetime64:
    # numpy has no time zones: every array holds naive UTC, converted here and only here.
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "s")


def to_datetime(moment: np.datetime64) -> datetime:
    seconds = int(moment.astype("datetime64[s]").astype(np.int64))
    return datetime.fromtimestamp(seconds, tz=UTC)


def axis(
    t0: datetime, until: datetime, grid: int, bucket_minutes: int | None
) -> tuple[int, np.ndarray]:
    """Bucket size in minutes and bucket starts from `t0` (on the grid) up to `until`.

    Raises BadParameter when a requested bucket size would give more than MAX_POINTS buckets.
    """
    step = np.timedelta64(grid, "m")
    first = to_datetime64(t0)
    # `until` is exclusive: a window ending on a boundary has no bucket starting there.
    last = to_datetime64(floor_to(until - timedelta(microseconds=1), grid))
    span_steps = max(1, int((last - first) // step) + 1)
    if bucket_minutes is not None:
        minutes = bucket_minutes
    elif grid == FINE_MINUTES:
        minutes = FINE_MINUTES
    else:
        minutes = auto_bucket_hours(span_steps) * 60
    count = math.ceil(span_steps * grid / minutes)
    if count > MAX_POINTS:
        raise BadParameter(
            f"bucket: {count} buckets of {minutes} minutes in this range, over the "
            f"{MAX_POINTS} allowed; pick a larger bucket or auto"
        )
    return minutes, first + np.arange(count) * np.timedelta64(minutes, "m")


def bucket_ends(starts: np.ndarray, minutes: int, window: Window) -> np.ndarray:
    # The newest bucket is still filling: it ends now, not in the future.
    return np.minimum(starts + np.timedelta64(minutes, "m"), to_datetime64(window.until))


def readable_bucket_minutes(grid: int, active: timedelta) -> int:
    """The smallest bucket on `grid` (5 or 60 minutes) giving at most READABLE_BARS bars over
    `active`, the stretch from the first event to the end of the axis."""
    sizes = [*FINE_BUCKETS, 60] if grid == FINE_MINUTES else [h * 60 for h in BUCKET_HOURS]
    minutes = active.total_seconds() / 60
    return next((m for m in sizes if minutes / m <= READABLE_BARS), sizes[-1])


# Up to this span a cumulative line in buckets finer than the readings shows as flat steps.
STEPS_VISIBLE_SPAN = timedelta(hours=6)


def cadence_bucket_minutes(starts_by_platform: dict[str, list[datetime]]) -> int:
    """The smallest fine bucket (5, 10, 15, 30 or 60 minutes) no finer than the readings: the
    typical spacing of the buckets that hold data, for the platform read most often."""
    spacings = []
    for starts in starts_by_platform.values():
        if len(starts) >= 2:
            gaps = np.diff(np.array([to_datetime64(t) for t in sorted(set(starts))]))
            spacings.append(float(np.median(gaps.astype(np.int64))) / 60)
    cadence = min(spacings, default=FINE_MINUTES)
    return next((m for m in (*FINE_BUCKETS, 60) if m >= cadence), 60)
