"""Measures view-models (issue 11): storage rows -> `analytics/` -> what pages, the JSON API and
the CSVs show. One function per page area; each result carries the notes that say how its
numbers were computed (`NOTES`), so a tooltip and the API say the same thing.

A video's series are built from the hourly rollup with first readings left out
(`storage.measures_read.platform_hourly_growth`): per platform, a cumulative series of measured
growth with a reading at the end of each hour that had readings. An hour without readings is
spread over the real interval, or is a gap when readings stopped for longer than
`analytics.series.DEFAULT_MAX_GAP_HOURS`, exactly as `analytics` treats one post's readings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Engine

from analytics import forecast as fc
from analytics.bursts import Burst, find_bursts
from analytics.overperformance import InsufficientBaseline, Overperformance, overperformance
from analytics.series import (
    PostHistory,
    Reading,
    combined_growth,
    hours_between,
    measure,
    platform_series,
)
from analytics.spread import HourShares, Pickup, combine_rates, growth_shares, pickup_order
from analytics.velocity import Bucket, DoublingTime, acceleration, doubling_time, hourly_rates
from analytics.velocity import velocity as window_velocity
from dashboard.platforms import NO_PLATFORMS, Platforms
from dashboard.timegrid import Window, auto_bucket_hours
from storage import measures_read, read
from storage.measures_read import MEASURED_COUNTERS, PostGrowth

ALL = "all"
"""The scope of a video's measures over all platforms together."""
PEERS_LIMIT = 200
LEADERBOARD_SIZE = 50
LEADERBOARD_OVERPERFORMANCE = 20
"""Rows of the leaderboard that also get an overperformance (each costs one peer query)."""
PAST_FORECAST_HOURS = (24.0, 6.0)
"""The video page also shows the forecasts made this long before the latest reading."""

NOTES = {
    "velocity": "Views gained per hour: growth between readings over the real hours between "
    "them; a post's first reading is its baseline, never growth; no reading for over 3 h is a "
    "gap, not zero.",
    "velocity_chart": "Per bucket (a clock hour; wider on long ranges, at most 400 a chart) and "
    "platform: growth over the bucket's measured hours, from the hourly rollup with each post's "
    "first reading left out; the current bucket counts up to the latest reading.",
    "leaderboard": "Views per hour between the last reading before the window (or the first "
    "reading in it) and the latest one. Window: the last {hours:g} h.",
    "acceleration": "Velocity over the last hour minus velocity over the hour before it, per hour.",
    "doubling": "ln 2 over the growth rate of ln(views) in the measured part of the last 6 h.",
    "overperformance": "Views against the median of up to {peers} posts on the same platform "
    "at the same age since publication (CrowdTangle's method); at least 5 needed.",
    "bursts": "Hours whose growth exceeds the median of the 12 measured hours before by more "
    "than 5 scaled median absolute deviations; consecutive hours form one burst.",
    "forecast": "Damped trend on ln(velocity), fitted to the last 4 h; band: 10th-90th "
    "percentile of backtest errors (80% nominal, docs/FORECAST.md).",
    "spread": "Pickup: each platform's first post by publication time. Share: each "
    "platform's part of the views gained in each bucket (as the velocity chart's).",
}


@dataclass(frozen=True, slots=True)
class PastForecast:
    """A forecast made earlier, beside what then happened."""

    forecast: fc.Forecast
    actual: float | None
    """The series' value at the forecast's time; None when that time is not reached yet."""


@dataclass(frozen=True, slots=True)
class VideoMeasures:
    counter: str
    latest_at: datetime | None
    series: dict[str, list[Reading]]
    """Scope (platform, or ALL) -> cumulative measured growth; ALL is offset to real totals."""
    rates: dict[str, list[Bucket]]
    """Platform -> growth per hour of each bucket of `bucket_hours` (the velocity chart)."""
    bucket_hours: int
    """Width of the velocity and share buckets: 1, or wider so a chart has at most
    `timegrid.AUTO_POINTS` (bursts are always found in hourly rates)."""
    velocity_now: dict[str, float | None]
    """Scope -> views per hour over the last hour."""
    bursts: list[tuple[str, Burst]]
    forecasts: list[fc.Forecast] | fc.NoForecast
    past_forecasts: list[PastForecast]
    pickups: list[Pickup]
    shares: list[HourShares]
    notes: dict[str, str] = field(default_factory=lambda: dict(NOTES))


def total_series(series: dict[str, list[Reading]], total_now: float) -> list[Reading]:
    """All platforms' measured growth summed at every reading time, offset so the latest value
    is the video's current total (first readings stay baselines: `combined_growth`)."""
    moments = sorted({t for readings in series.values() for t, _ in readings})
    if not moments:
        return []
    summed = combined_growth(series.values(), moments)
    offset = total_now - summed[-1][1]
    return [(t, offset + value) for t, value in summed]


def video_measures(
    engine: Engine,
    video: str,
    window: Window,
    platforms: Sequence[str],
    now: datetime,
    catalog: Platforms = NO_PLATFORMS,
    counter: str = "views",
) -> VideoMeasures:
    """Velocity per platform and hour, bursts, forecast and spread of `video` in `window`."""
    hours = measures_read.platform_hourly_growth(
        engine, video, counter, platforms=platforms, since=window.since, until=window.until
    )
    end = min(now, window.until)
    series = platform_series(hours, end)
    start = min((s[0][0] for s in series.values()), default=end)
    measured = {name: measure(series[name]) for name in catalog.order(series) if series[name]}
    hourly = {name: hourly_rates(found, start, end) for name, found in measured.items()}
    # Bursts are hourly; the charts draw at most AUTO_POINTS buckets, each labelled as wide
    # as it is (1,481 hourly bars a platform on two months cost seconds to draw: issue 7).
    width = auto_bucket_hours(max(1, math.ceil(hours_between(start, end))))
    rates = (
        hourly
        if width == 1
        else {name: hourly_rates(found, start, end, width) for name, found in measured.items()}
    )
    totals = read.platform_totals(engine, video=video, platforms=platforms)
    total_now = float(sum(getattr(t, counter) or 0 for t in totals))
    combined = combine_rates(hourly.values())
    video_series = total_series(series, total_now)
    series_all = {**series, ALL: video_series}
    latest_at = video_series[-1][0] if video_series else None
    velocity_now = {
        scope: window_velocity(readings, latest_at).per_hour if latest_at else None
        for scope, readings in series_all.items()
    }
    bursts = [(ALL, b) for b in find_bursts(combined)]
    bursts += [(name, b) for name, buckets in hourly.items() for b in find_bursts(buckets)]
    histories = [PostHistory(name, s[0][0], s) for name, s in series.items()]
    firsts = measures_read.platform_pickups(engine, video, platforms)
    pickups = pickup_order(PostHistory(p.platform, p.first_at, ()) for p in firsts)
    counts = {p.platform: p.posts for p in firsts}
    return VideoMeasures(
        counter=counter,
        latest_at=latest_at,
        series=series_all,
        rates=rates,
        bucket_hours=width,
        velocity_now=velocity_now,
        bursts=bursts,
        forecasts=fc.forecast(video_series),
        past_forecasts=past_forecasts(video_series),
        pickups=[replace(p, posts=counts[p.platform]) for p in pickups],
        shares=growth_shares(histories, start, end, width) if histories else [],
    )


def past_forecasts(readings: Sequence[Reading]) -> list[PastForecast]:
    """The forecasts made `PAST_FORECAST_HOURS` before the latest reading, with the outcome."""
    if not readings:
        return []
    latest_at = readings[-1][0]
    measured = measure(readings)
    found = []
    for back in PAST_FORECAST_HOURS:
        made_at = latest_at - timedelta(hours=back)
        made = fc.forecast([r for r in readings if r[0] <= made_at])
        if isinstance(made, fc.NoForecast):
            continue
        for forecast in made:
            reached = forecast.at <= latest_at
            actual = None
            if reached and measured.origin is not None:
                offset = float(readings[0][1] or 0.0)
                actual = offset + float(measured.growth_at([forecast.at])[0])
            found.append(PastForecast(forecast, actual))
    return found


@dataclass(frozen=True, slots=True)
class PostMeasures:
    counter: str | None
    """The counter measured (views, else shares, else likes); None without readings."""
    velocity: float | None
    velocity_hours: float
    acceleration: float | None
    doubling: DoublingTime | None
    overperformance: Overperformance | InsufficientBaseline | None
    baseline_note: str
    notes: dict[str, str] = field(default_factory=lambda: dict(NOTES))


def post_measures(engine: Engine, post: read.PostRow, now: datetime) -> PostMeasures:
    """Velocity, acceleration, doubling time and overperformance of one post."""
    for counter in MEASURED_COUNTERS:
        readings = measures_read.post_readings(engine, post.id, counter)
        if any(value is not None for _, value in readings):
            break
    else:
        return PostMeasures(None, None, 0.0, None, None, None, "no readings yet")
    measured = measure(readings)
    end = measured.latest_at or now
    rate = window_velocity(measured, end)
    published_at = post.published_at
    found: Overperformance | InsufficientBaseline | None = None
    note = "no publication time: age unknown, nothing to compare"
    if published_at is not None:
        age_hours = (end - published_at).total_seconds() / 3600
        peers = measures_read.peer_readings_at_age(
            engine,
            post.platform,
            age_hours,
            counter,
            exclude_post_id=post.id,
            before=now,
            limit=PEERS_LIMIT,
        )
        histories = [PostHistory(p.platform, p.published_at, p.readings) for p in peers]
        found = overperformance(PostHistory(post.platform, published_at, readings), histories)
        note = _baseline_note(found, counter)
    return PostMeasures(
        counter,
        rate.per_hour,
        rate.measured_hours,
        acceleration(measured, end),
        doubling_time(measured, end),
        found,
        note,
    )


def _baseline_note(found: Overperformance | InsufficientBaseline, counter: str) -> str:
    if isinstance(found, InsufficientBaseline):
        return f"too few comparable posts ({found.reason})"
    lower, upper = found.age_bucket
    bucket = f"{lower:g}-{upper:g} h" if upper is not None else f"over {lower:g} h"
    return (
        f"median {counter} of {found.posts} comparable posts at {found.age_hours:.1f} h old "
        f"(age bucket {bucket}): {found.baseline:,.0f}"
    )


@dataclass(frozen=True, slots=True)
class LeaderRow:
    growth: PostGrowth
    overperformance: Overperformance | InsufficientBaseline | None
    """Computed for the first `LEADERBOARD_OVERPERFORMANCE` rows only (None below)."""

    @property
    def ratio(self) -> float | None:
        found = self.overperformance
        return found.ratio if isinstance(found, Overperformance) else None


LEADER_SORTS = ("growth", "overperformance", "views")


def growing_now(
    engine: Engine,
    now: datetime,
    window_hours: float = 1.0,
    sort: str = "growth",
    descending: bool = True,
    limit: int = LEADERBOARD_SIZE,
) -> list[LeaderRow]:
    """Posts of every tracked video by views per hour over the last `window_hours`."""
    if sort not in LEADER_SORTS:
        raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(LEADER_SORTS)}")
    since = now - timedelta(hours=window_hours)
    found = measures_read.growth_since(engine, since)
    # Each rate once: thousands of posts grew in the window, and sorting on the property
    # recomputed it (datetime arithmetic) twice per comparison key.
    rates = [(rate, -g.post_id, g) for g in found.values() if (rate := g.per_hour) is not None]
    rates.sort(key=lambda item: item[:2], reverse=True)
    ranked = [g for *_, g in rates[:limit]]
    rows = []
    for n, growth in enumerate(ranked):
        over = (
            _leader_overperformance(engine, growth, now)
            if n < LEADERBOARD_OVERPERFORMANCE
            else None
        )
        rows.append(LeaderRow(growth, over))
    keys = {
        "growth": lambda r: r.growth.per_hour,
        "overperformance": lambda r: r.ratio,
        "views": lambda r: float(r.growth.latest),
    }
    key = keys[sort]
    known = sorted((r for r in rows if key(r) is not None), key=key, reverse=descending)
    return [*known, *(r for r in rows if key(r) is None)]


def _leader_overperformance(
    engine: Engine, growth: PostGrowth, now: datetime
) -> Overperformance | InsufficientBaseline | None:
    post = read.get_post(engine, growth.post_id)
    if post is None or post.published_at is None:
        return None
    age_hours = (growth.latest_at - post.published_at).total_seconds() / 3600
    peers = measures_read.peer_readings_at_age(
        engine, post.platform, age_hours, exclude_post_id=post.id, before=now, limit=50
    )
    own = PostHistory(post.platform, post.published_at, [(growth.latest_at, float(growth.latest))])
    return overperformance(
        own, [PostHistory(p.platform, p.published_at, p.readings) for p in peers]
    )


def finite(value: float | None) -> float | None:
    """None for NaN/inf (JSON has no such numbers)."""
    return value if value is not None and bool(np.isfinite(value)) else None
