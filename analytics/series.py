"""Readings -> what was measured: the one place that decides what counts as growth.

A series is a sequence of `(observed_at, value)` readings of one cumulative counter. Readings
whose value is None (the platform hides that counter) are skipped; of readings at one instant the
last counts. Between two consecutive readings lies an interval: its growth is the difference of
the two values, spread evenly over the real time between them, unless the readings are more than
`max_gap_hours` apart, which makes the interval a gap (growth unknown, neither growth nor zero).
Before the first reading nothing was measured: the first reading is a baseline.

`measure` turns readings into running totals (growth, measured hours, gap hours) at each
reading, so growth in any window is a difference of two interpolated totals: exact for uneven
spacing, and one vectorised pass for thousands of buckets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Reading = tuple[datetime, float | None]
Series = Sequence[Reading]
Floats = NDArray[np.float64]

DEFAULT_MAX_GAP_HOURS = 3.0
"""Readings further apart than this are a gap in collection, not growth (a few missed polls)."""


@dataclass(frozen=True, slots=True)
class PostHistory:
    """One post's readings of one counter, with the platform and publication time that make
    posts comparable (overperformance) and date a platform's pickup (spread)."""

    platform: str
    published_at: datetime
    readings: Series


@dataclass(frozen=True, slots=True)
class WindowGrowth:
    """Growth measured inside a time window, and how much of the window was measured; the rest
    of the window lies before the first or after the latest reading (not read yet)."""

    start: datetime
    end: datetime
    growth: float
    measured_hours: float
    gap_hours: float

    @property
    def per_hour(self) -> float | None:
        """Growth per measured hour; None when nothing in the window was measured."""
        return self.growth / self.measured_hours if self.measured_hours > 0 else None


@dataclass(frozen=True, slots=True)
class Totals:
    """Per window: growth, measured hours, gap hours, and ln-growth over the hours where the
    counter was positive at both ends (for doubling times)."""

    growth: Floats
    measured_hours: Floats
    gap_hours: Floats
    log_growth: Floats
    log_hours: Floats


@dataclass(frozen=True, slots=True)
class Measured:
    """Running totals at each reading (index 0: the first reading, all zero)."""

    origin: datetime | None
    """Time of the first reading; None without readings."""
    latest_at: datetime | None
    hours: Floats
    """Reading times, hours after `origin`."""
    values: Floats
    running: Totals

    def offsets(self, moments: Sequence[datetime]) -> Floats:
        if self.origin is None:
            return np.zeros(len(moments))
        origin = self.origin
        return np.array([hours_between(origin, moment) for moment in moments])

    def totals(self, edges: Sequence[datetime]) -> Totals:
        """Totals inside each window between consecutive `edges` (len(edges) - 1 windows)."""
        # One reading is only a baseline: nothing measured yet in any window.
        if len(self.hours) < 2:
            empty = np.zeros(max(0, len(edges) - 1))
            return Totals(empty, empty, empty, empty, empty)
        at = self.offsets(edges)

        # np.interp holds the ends flat outside the readings: no growth is invented before the
        # first reading or after the latest, which is what "not measured" must mean.
        def between(running: Floats) -> Floats:
            return np.diff(np.interp(at, self.hours, running))

        r = self.running
        return Totals(
            between(r.growth),
            between(r.measured_hours),
            between(r.gap_hours),
            between(r.log_growth),
            between(r.log_hours),
        )

    def growth_at(self, moments: Sequence[datetime]) -> Floats:
        """Growth measured from the first reading up to each moment (0 before it)."""
        if len(self.hours) < 2:
            return np.zeros(len(moments))
        return np.interp(self.offsets(moments), self.hours, self.running.growth)

    def window(self, start: datetime, end: datetime) -> WindowGrowth:
        found = self.totals([start, end])
        return WindowGrowth(
            start,
            end,
            float(found.growth[0]),
            float(found.measured_hours[0]),
            float(found.gap_hours[0]),
        )


def hours_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def points(readings: Series) -> list[tuple[datetime, float]]:
    """Readings with a value, oldest first; a naive datetime is refused (UTC everywhere)."""
    found = []
    for observed_at, value in readings:
        if observed_at.tzinfo is None:
            raise ValueError(f"reading at {observed_at} has no timezone: pass UTC datetimes")
        if value is not None:
            found.append((observed_at, float(value)))
    found.sort(key=lambda point: point[0])
    # Of several readings at one instant the last one stands.
    return [p for p, later in pairwise([*found, None]) if p and (later is None or later[0] > p[0])]


def measure(readings: Series | Measured, max_gap_hours: float = DEFAULT_MAX_GAP_HOURS) -> Measured:
    """Running totals of what the readings measured (a `Measured` passes through as it is)."""
    if isinstance(readings, Measured):
        return readings
    found = points(readings)
    if not found:
        empty = np.zeros(0)
        return Measured(None, None, empty, empty, Totals(empty, empty, empty, empty, empty))
    origin = found[0][0]
    hours = np.array([hours_between(origin, t) for t, _ in found])
    values = np.array([v for _, v in found])
    # From the datetimes themselves, so a gap is decided exactly at `max_gap_hours`.
    step = np.array([hours_between(t0, t1) for (t0, _), (t1, _) in pairwise(found)])
    is_gap = step > max_gap_hours
    rise = np.diff(values)
    # log needs both ends positive; elsewhere the 1.0 placeholders give a rise of exactly 0.
    has_log = ~is_gap & (values[:-1] > 0) & (values[1:] > 0)
    log_rise = np.log(np.where(has_log, values[1:], 1.0)) - np.log(
        np.where(has_log, values[:-1], 1.0)
    )

    def running(increments: Floats) -> Floats:
        return np.concatenate(([0.0], np.cumsum(increments)))

    totals = Totals(
        running(np.where(is_gap, 0.0, rise)),
        running(np.where(is_gap, 0.0, step)),
        running(np.where(is_gap, step, 0.0)),
        running(log_rise),
        running(np.where(has_log, step, 0.0)),
    )
    return Measured(origin, found[-1][0], hours, values, totals)


def combined_growth(
    posts: Iterable[Series | Measured],
    moments: Sequence[datetime],
    max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
) -> list[tuple[datetime, float]]:
    """A series of the growth measured on all `posts` together up to each moment.

    Summing raw counters would count each post's first reading (all its history) as growth the
    moment it is found; this sums only what was measured, so a video's or platform's series can
    go into `velocity`, `find_bursts` or `forecast` (add the latest total back to a forecast)."""
    total = np.zeros(len(moments))
    for post in posts:
        total += measure(post, max_gap_hours).growth_at(moments)
    return [(moment, float(value)) for moment, value in zip(moments, total, strict=True)]


def window_before(end: datetime, window_hours: float) -> tuple[datetime, datetime]:
    return end - timedelta(hours=window_hours), end


class HourGrowth(Protocol):
    """One platform's measured growth in one clock hour (`storage.measures_read.PlatformHour`)."""

    @property
    def platform(self) -> str: ...
    @property
    def bucket_start(self) -> datetime: ...
    @property
    def growth(self) -> int: ...
    @property
    def observations(self) -> int: ...


def platform_series(hours: Iterable[HourGrowth], now: datetime) -> dict[str, list[Reading]]:
    """Per platform, cumulative measured growth at the end of each hour that had readings
    (the current hour ends at `now`), starting from 0 at the first such hour's start."""
    series: dict[str, list[Reading]] = {}
    for row in hours:
        if row.observations == 0:
            continue  # an hour without readings is a gap, not zero growth
        found = series.setdefault(row.platform, [(row.bucket_start, 0.0)])
        end = min(row.bucket_start + timedelta(hours=1), now)
        # The current hour ends at `now`; a row no later than the last point adds nothing new.
        if end > found[-1][0]:
            found.append((end, (found[-1][1] or 0.0) + row.growth))
    return series
