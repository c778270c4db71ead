"""Readings -> measured intervals, the one place that decides what counts as growth.

A series is a sequence of `(observed_at, value)` readings of one cumulative counter. Readings
whose value is None (the platform hides that counter) are skipped. Between two consecutive
readings lies an interval: its growth is the difference of the two values, spread evenly over the
real time between them, unless the readings are more than `max_gap_hours` apart, which makes the
interval a gap (growth unknown). Before the first reading nothing was measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

Reading = tuple[datetime, float | None]
Series = Sequence[Reading]

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
class Interval:
    """The time between two consecutive readings and what the counter did in it."""

    start: datetime
    end: datetime
    start_value: float
    end_value: float
    is_gap: bool

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    @property
    def growth(self) -> float | None:
        """Counter change over the interval; None when the interval is a gap."""
        return None if self.is_gap else self.end_value - self.start_value


@dataclass(frozen=True, slots=True)
class WindowGrowth:
    """Growth measured inside a time window, and how much of the window was measured."""

    start: datetime
    end: datetime
    growth: float
    measured_hours: float
    gap_hours: float

    @property
    def per_hour(self) -> float | None:
        """Growth per measured hour; None when nothing in the window was measured."""
        return self.growth / self.measured_hours if self.measured_hours > 0 else None


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
    return found


def intervals(readings: Series, max_gap_hours: float = DEFAULT_MAX_GAP_HOURS) -> list[Interval]:
    """Consecutive readings paired into intervals; two readings at one instant make none."""
    found = points(readings)
    return [
        Interval(t0, t1, v0, v1, is_gap=hours_between(t0, t1) > max_gap_hours)
        for (t0, v0), (t1, v1) in pairwise(found)
        if t1 > t0
    ]


def overlap_hours(interval: Interval, start: datetime, end: datetime) -> float:
    return max(0.0, hours_between(max(interval.start, start), min(interval.end, end)))


def growth_in_window(spans: Sequence[Interval], start: datetime, end: datetime) -> WindowGrowth:
    """Growth inside [start, end]: each interval contributes the share of its growth that falls
    in the window (growth is assumed even within an interval, which is all the readings say)."""
    growth = measured = gap = 0.0
    for span in spans:
        inside = overlap_hours(span, start, end)
        if inside <= 0:
            continue
        if span.growth is None:
            gap += inside
        else:
            growth += span.growth * inside / span.hours
            measured += inside
    return WindowGrowth(start, end, growth, measured, gap)


def window_before(end: datetime, window_hours: float) -> tuple[datetime, datetime]:
    return end - timedelta(hours=window_hours), end
