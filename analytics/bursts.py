"""Bursts: hours whose growth breaks out of the recent normal.

Method: take the hourly rates of a post, platform or video (`velocity.hourly_rates`, or summed
with `spread.combine_rates`). An hour is bursting when its rate exceeds the median of the
`baseline_hours` measured hours before it by more than `k` times their scaled median absolute
deviation (MAD * 1.4826, the robust stand-in for a standard deviation). So a flat or steadily
growing series never bursts, the burst itself barely moves the baseline, and a lone outlier in
the history does not either. The scale has a floor, `min_scale_share` of the baseline median (and
at least one count), so a perfectly regular series does not burst on a tiny wobble. At least
`min_history` measured hours are needed before any hour can burst. Consecutive bursting hours
form one burst; an unmeasured hour (a gap) ends it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.velocity import Bucket

MAD_TO_SIGMA = 1.4826
"""MAD times this estimates the standard deviation of normally distributed data."""


@dataclass(frozen=True, slots=True)
class Burst:
    """Consecutive hours of growth above the robust baseline."""

    start: datetime
    end: datetime
    """End of the last bursting bucket."""
    growth: float
    """Everything that grew during the burst."""
    excess: float
    """Growth above the baseline median: the burst's size."""
    peak_per_hour: float


def threshold(history: Sequence[float], k: float, min_scale_share: float) -> tuple[float, float]:
    """(baseline median, rate above which an hour bursts) for the hours in `history`."""
    median = statistics.median(history)
    mad = statistics.median(abs(value - median) for value in history)
    scale = max(MAD_TO_SIGMA * mad, min_scale_share * abs(median), 1.0)
    return median, median + k * scale


def find_bursts(
    buckets: Sequence[Bucket],
    k: float = 5.0,
    baseline_hours: int = 12,
    min_history: int = 4,
    min_scale_share: float = 0.2,
    bucket_hours: float = 1.0,
) -> list[Burst]:
    """Bursts in a rate series, oldest first (see the module docstring for the method)."""
    bursts: list[Burst] = []
    history: list[float] = []
    current: list[tuple[Bucket, float]] = []  # bursting buckets with their baseline median
    for bucket in buckets:
        rate = bucket.per_hour
        is_bursting = False
        if rate is not None and len(history) >= min_history:
            median, limit = threshold(history[-baseline_hours:], k, min_scale_share)
            is_bursting = rate > limit
        if is_bursting and rate is not None:
            # Each hour keeps the baseline it was judged against: the excess is measured from
            # before the burst, not from a baseline the burst itself has raised.
            current.append((bucket, median))
        elif current:
            bursts.append(_burst(current, bucket_hours))
            current = []
        # Bursting hours join the history too: a lasting new level becomes the new normal.
        if rate is not None:
            history.append(rate)
    if current:
        bursts.append(_burst(current, bucket_hours))
    return bursts


def _burst(hours: list[tuple[Bucket, float]], bucket_hours: float) -> Burst:
    rates = [bucket.per_hour or 0.0 for bucket, _ in hours]
    return Burst(
        start=hours[0][0].start,
        end=hours[-1][0].start + timedelta(hours=bucket_hours),
        growth=sum(rates) * bucket_hours,
        excess=sum(rate - median for rate, (_, median) in zip(rates, hours, strict=True))
        * bucket_hours,
        peak_per_hour=max(rates),
    )
