"""Velocity, acceleration, doubling time, hourly rates and inflection of one counter.

Method (the notes the dashboard shows beside each number):
- **Velocity**: growth measured in the window (default the last hour) divided by the hours of the
  window that were measured. Each interval between two readings contributes the part of its growth
  that falls in the window, so uneven spacing gives the exact rate over the real interval. Gaps
  (readings more than `max_gap_hours` apart) and the time before the first reading are left out,
  not counted as zero; with nothing measured the velocity is None.
- **Acceleration**: velocity over the window minus velocity over the window before it, per hour
  (counts per hour per hour).
- **Doubling time**: ln 2 divided by the growth rate of the logarithm of the cumulative counter
  over the measured part of the window (default the last 6 hours). Constant for an exponential;
  about `scale * ln 2` early on a logistic. None when the counter is not growing.
- **Hourly rates**: the velocity of each clock hour (buckets of `bucket_hours`), None for an hour
  nothing measured.
- **Inflection**: the moment growth peaked (where acceleration turns negative), from a parabola
  through the fastest hour and its neighbours; None until growth has clearly slowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.series import (
    DEFAULT_MAX_GAP_HOURS,
    Measured,
    Series,
    WindowGrowth,
    hours_between,
    measure,
    window_before,
)


def velocity(
    readings: Series | Measured,
    end: datetime,
    window_hours: float = 1.0,
    max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
) -> WindowGrowth:
    """Growth per measured hour over `window_hours` up to `end` (see `.per_hour`)."""
    return measure(readings, max_gap_hours).window(*window_before(end, window_hours))


def acceleration(
    readings: Series | Measured,
    end: datetime,
    window_hours: float = 1.0,
    max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
) -> float | None:
    """Change of velocity per hour between the window before `end` and the one before that."""
    measured = measure(readings, max_gap_hours)
    recent = measured.window(*window_before(end, window_hours)).per_hour
    earlier_end = end - timedelta(hours=window_hours)
    earlier = measured.window(*window_before(earlier_end, window_hours)).per_hour
    if recent is None or earlier is None:
        return None
    return (recent - earlier) / window_hours


@dataclass(frozen=True, slots=True)
class DoublingTime:
    """How long the cumulative counter takes to double at its recent growth rate."""

    hours: float | None
    """None when the counter did not grow (or nothing positive was measured)."""
    measured_hours: float
    start: datetime
    end: datetime


def doubling_time(
    readings: Series | Measured,
    end: datetime,
    window_hours: float = 6.0,
    max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
) -> DoublingTime:
    """ln 2 over the mean growth rate of ln(counter) in the measured part of the window.

    ln needs positive counts: an interval starting from zero says nothing about doubling."""
    start, end = window_before(end, window_hours)
    found = measure(readings, max_gap_hours).totals([start, end])
    log_growth, measured = float(found.log_growth[0]), float(found.log_hours[0])
    if measured <= 0 or log_growth <= 0:
        return DoublingTime(None, measured, start, end)
    return DoublingTime(math.log(2) * measured / log_growth, measured, start, end)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One clock bucket of a rate series."""

    start: datetime
    per_hour: float | None
    """Growth per measured hour in the bucket; None when nothing in it was measured."""
    measured_hours: float


def bucket_starts(start: datetime, end: datetime, bucket_hours: float = 1.0) -> list[datetime]:
    """Bucket boundaries from `start` (floored to the hour) up to `end`."""
    # Whole clock hours, so the buckets of different posts and platforms line up and can
    # be summed (spread.combine_rates) and drawn on one axis.
    first = start.replace(minute=0, second=0, microsecond=0)
    step = timedelta(hours=bucket_hours)
    count = max(0, math.ceil(hours_between(first, end) / bucket_hours))
    return [first + step * n for n in range(count)]


def hourly_rates(
    readings: Series | Measured,
    start: datetime,
    end: datetime,
    bucket_hours: float = 1.0,
    max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
) -> list[Bucket]:
    """Velocity of each bucket between `start` and `end`, buckets aligned to whole hours."""
    starts = bucket_starts(start, end, bucket_hours)
    edges = [*starts, starts[-1] + timedelta(hours=bucket_hours)] if starts else []
    found = measure(readings, max_gap_hours).totals(edges)
    # Plain floats first: arithmetic on numpy scalars costs a microsecond an operation.
    growths, measured = found.growth.tolist(), found.measured_hours.tolist()
    return [
        # Over the measured hours, not the bucket's length: an hour half lost to a gap reports
        # the rate it had while measured, not half of it.
        Bucket(moment, growth / hours if hours > 0 else None, hours)
        for moment, growth, hours in zip(starts, growths, measured, strict=True)
    ]


def inflection(
    readings: Series | Measured,
    bucket_hours: float = 1.0,
    max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
) -> datetime | None:
    """When growth peaked: vertex of the parabola through the fastest bucket and its two
    neighbours. None while the fastest bucket is the first or the latest one, or a neighbour
    was not measured (the peak is not established yet)."""
    measured = measure(readings, max_gap_hours)
    if measured.origin is None or measured.latest_at is None:
        return None
    buckets = hourly_rates(measured, measured.origin, measured.latest_at, bucket_hours)
    known = [(n, b.per_hour) for n, b in enumerate(buckets) if b.per_hour is not None]
    if not known:
        return None
    peak, _ = max(known, key=lambda item: item[1])
    # A peak at either end is not established: growth may have been higher before the first
    # bucket or rise again after the latest.
    if peak == 0 or peak >= len(buckets) - 1:
        return None
    before, top, after = (buckets[peak + d].per_hour for d in (-1, 0, 1))
    if before is None or top is None or after is None:
        return None
    # Vertex of the parabola through three equally spaced rates: the peak within the bucket.
    curvature = before - 2 * top + after
    shift = 0.0 if curvature == 0 else 0.5 * (before - after) / curvature
    centre = buckets[peak].start + timedelta(hours=bucket_hours / 2)
    return centre + timedelta(hours=shift * bucket_hours)
