"""Forecast: expected totals some hours ahead, with an uncertainty band.

Method (a damped trend on the logarithm of velocity, chosen over a logistic fit by the backtest
in docs/FORECAST.md):
1. Velocity now: growth per hour over the last `VELOCITY_WINDOW_HOURS` (as `velocity.velocity`).
2. Trend: the slope `r` of ln(1 + hourly rate) against time over the hourly buckets of the last
   `TREND_WINDOW_HOURS` (least squares): how fast velocity itself grows or fades, per hour.
3. Ahead, velocity keeps changing at that rate, but the trend fades by `DAMPING_PER_HOUR` each
   hour (spreads slow down: every curve of cumulative counts flattens eventually):
   ln(1 + v(t)) = ln(1 + v0) + r * (1 - d^t) / -ln(d). The forecast is the latest reading plus
   the integral of v over the horizon.
4. Band: the growth ahead times the 10th and 90th percentile of (1 + actual growth) / (1 +
   forecast growth) seen in the backtest's calibration spreads at that horizon (`BAND`), so the
   band holds the outcome 8 times in 10 there, and it is checked on other spreads. The band
   never goes below the latest reading.
With fewer than 3 measured hours in the trend window, or no velocity measured now (a gap, or only
a first reading), there is no forecast (`NoForecast` says why).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from analytics.series import DEFAULT_MAX_GAP_HOURS, Measured, Series, hours_between, measure
from analytics.velocity import hourly_rates, velocity

VELOCITY_WINDOW_HOURS = 2.0
TREND_WINDOW_HOURS = 4.0
DAMPING_PER_HOUR = 0.7
MIN_TREND_HOURS = 3
NOMINAL_COVERAGE = 0.8
"""The band is meant to hold the outcome 8 times in 10."""

BAND: Mapping[float, tuple[float, float]] = {6.0: (-0.6, 0.312), 24.0: (-1.544, 0.525)}
"""Horizon (hours) -> ln of the 10th and 90th percentile ratio of actual to forecast growth,
calibrated by `make backtest` (docs/FORECAST.md); other horizons are interpolated."""

STEPS_PER_HOUR = 4


@dataclass(frozen=True, slots=True)
class Forecast:
    made_at: datetime
    """Time of the latest reading the forecast starts from."""
    horizon_hours: float
    at: datetime
    expected: float
    low: float
    high: float
    coverage: float
    """Nominal share of outcomes the band [low, high] should hold."""
    latest: float
    velocity_per_hour: float
    trend_per_hour: float
    """Slope of ln(1 + velocity) per hour: above 0 speeding up, below 0 slowing down."""


@dataclass(frozen=True, slots=True)
class NoForecast:
    reason: str


def growth_ahead(velocity_per_hour: float, trend_per_hour: float, horizon_hours: float) -> float:
    """Integral of the damped velocity over the horizon (see step 3 of the module docstring)."""
    # exp of an exponential has no elementary integral: integrate numerically, on a grid of
    # STEPS_PER_HOUR points an hour.
    t = np.linspace(0.0, horizon_hours, max(2, round(horizon_hours * STEPS_PER_HOUR) + 1))
    fade = -math.log(DAMPING_PER_HOUR)
    log_v = (
        # A falling counter (deleted posts) is no negative velocity to carry forward.
        math.log1p(max(0.0, velocity_per_hour)) + trend_per_hour * (1 - np.exp(-fade * t)) / fade
    )
    return float(np.trapezoid(np.maximum(0.0, np.expm1(log_v)), t))


def band_ratios(
    horizon_hours: float, band: Mapping[float, tuple[float, float]]
) -> tuple[float, float]:
    known = sorted(band)
    low = np.interp(horizon_hours, known, [band[h][0] for h in known])
    high = np.interp(horizon_hours, known, [band[h][1] for h in known])
    return math.exp(float(low)), math.exp(float(high))


def trend(measured: Measured, end: datetime) -> float | None:
    """Slope of ln(1 + hourly rate) over the trend window; None with too few measured hours."""
    start = end - timedelta(hours=TREND_WINDOW_HOURS)
    buckets = [
        b
        for b in hourly_rates(measured, start, end)
        # An hour measured for minutes gives a rate too noisy to fit a slope through.
        if b.per_hour is not None and b.measured_hours >= 0.5
    ]
    if len(buckets) < MIN_TREND_HOURS:
        return None
    hours = [hours_between(end, b.start) + 0.5 for b in buckets]
    # log1p: an hour with no growth is ln 1 = 0, not minus infinity.
    logs = [math.log1p(max(0.0, b.per_hour or 0.0)) for b in buckets]
    return float(np.polyfit(hours, logs, 1)[0])


def forecast(
    readings: Series | Measured,
    horizons_hours: Sequence[float] = (6.0, 24.0),
    max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
    band: Mapping[float, tuple[float, float]] = BAND,
) -> list[Forecast] | NoForecast:
    """Forecasts of the cumulative counter `horizons_hours` after its latest reading."""
    measured = measure(readings, max_gap_hours)
    latest_at = measured.latest_at
    if latest_at is None:
        return NoForecast("no readings yet")
    latest = float(measured.values[-1])
    now = velocity(measured, latest_at, VELOCITY_WINDOW_HOURS).per_hour
    if now is None:
        return NoForecast(f"no growth measured in the last {VELOCITY_WINDOW_HOURS:g} h")
    slope = trend(measured, latest_at)
    if slope is None:
        return NoForecast(
            f"fewer than {MIN_TREND_HOURS} measured hours in the last {TREND_WINDOW_HOURS:g} h"
        )
    forecasts = []
    for horizon in horizons_hours:
        ahead = growth_ahead(now, slope, horizon)
        low_ratio, high_ratio = band_ratios(horizon, band)
        forecasts.append(
            Forecast(
                made_at=latest_at,
                horizon_hours=horizon,
                at=latest_at + timedelta(hours=horizon),
                expected=latest + ahead,
                # The ratios scale growth, not the total: a big total with little growth
                # ahead gets a narrow band, never reaching below what was already counted.
                low=latest + max(0.0, (1 + ahead) * low_ratio - 1),
                high=latest + max(0.0, (1 + ahead) * high_ratio - 1),
                coverage=NOMINAL_COVERAGE,
                latest=latest,
                velocity_per_hour=now,
                trend_per_hour=slope,
            )
        )
    return forecasts
