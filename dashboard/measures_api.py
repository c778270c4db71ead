"""The measures' JSON shapes (issue 11): pydantic models whose field descriptions document each
measure in the OpenAPI schema (/openapi.json), and converters from dashboard/measures.py."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from analytics import forecast as fc
from analytics.overperformance import InsufficientBaseline, Overperformance
from dashboard import measure_charts
from dashboard.measures import NOTES, LeaderRow, PostMeasures, VideoMeasures, finite

M = TypeVar("M", bound=BaseModel)
# Marks a field the record lacks, told apart from a field that is None.
_ABSENT = object()
_RATIO_FIELDS = ("ratio", "value", "baseline")


class OverperformanceOut(BaseModel):
    ratio: float | None = Field(
        description="Counter / baseline: 1.0 is typical, 3.0 three times the usual; null with "
        "too few comparable posts."
    )
    value: float | None = Field(description="The post's counter at its latest reading.")
    baseline: float | None = Field(
        description="Median counter of comparable posts (same platform, same age)."
    )
    posts: int = Field(description="Comparable posts behind the baseline.")
    age_hours: float = Field(description="The post's age since publication at that reading.")
    note: str = Field(description="How the baseline was made, or why there is none.")
    method: str = Field(default=NOTES["overperformance"].format(peers="N"))


def _model_of(model: type[M], source: object, **given: Any) -> M:
    """`model` filled from the same-named attributes of `source` (an analytics record), with
    `given` for the fields it names otherwise or lacks."""
    found = {n: getattr(source, n, _ABSENT) for n in model.model_fields if n not in given}
    return model(**{n: v for n, v in found.items() if v is not _ABSENT}, **given)


def overperformance_out(
    found: Overperformance | InsufficientBaseline | None, note: str
) -> OverperformanceOut | None:
    if found is None:
        return None
    # Too few peers: no ratio, value or baseline, only how many there were.
    absent = {} if isinstance(found, Overperformance) else dict.fromkeys(_RATIO_FIELDS)
    return _model_of(OverperformanceOut, found, note=note, **absent)


class LeaderOut(BaseModel):
    post_id: int
    video: str = Field(description="Slug of the tracked video the post carries.")
    platform: str
    author: str | None
    views: int = Field(description="Views at the latest reading.")
    views_per_hour: float | None = Field(description=NOTES["leaderboard"].format(hours=1))
    growth: int = Field(description="Views gained between the baseline and the latest reading.")
    baseline_at: datetime = Field(description="The reading growth is measured from.")
    latest_at: datetime
    overperformance: float | None = Field(
        description="Views / median of comparable posts at the same age (top rows only)."
    )


class LeaderboardOut(BaseModel):
    window_hours: float
    method: str
    posts: list[LeaderOut]


def leader_out(row: LeaderRow) -> LeaderOut:
    g = row.growth
    return _model_of(
        LeaderOut,
        g,
        # Storage names the reading's role (latest), the API the counter it is (views).
        views=g.latest,
        views_per_hour=finite(g.per_hour),
        overperformance=finite(row.ratio),
    )


BUCKET_HOURS_NOTE = "Width of the bucket in hours (1, or wider on long ranges)."


class VelocityOut(BaseModel):
    bucket_start: datetime = Field(description="Start of the bucket (UTC).")
    platform: str
    per_hour: float | None = Field(description=NOTES["velocity_chart"] + " Null: not measured.")
    measured_hours: float = Field(description="Hours of the bucket covered by readings.")
    bucket_hours: int = Field(description=BUCKET_HOURS_NOTE)


class BurstOut(BaseModel):
    scope: str = Field(description='"all" for the video over all platforms, else a platform.')
    start: datetime
    end: datetime
    growth: float = Field(description="Everything that grew during the burst.")
    excess: float = Field(description="Growth above the baseline median: the burst's size.")
    peak_per_hour: float


class ForecastOut(BaseModel):
    made_at: datetime = Field(description="Time of the latest reading the forecast starts from.")
    horizon_hours: float
    at: datetime
    expected: float = Field(description="Expected total at `at`.")
    low: float = Field(description="Lower edge of the band.")
    high: float = Field(description="Upper edge of the band.")
    coverage: float = Field(description="Nominal share of outcomes the band should hold.")
    outcome: float | None = Field(
        default=None, description="Past forecasts only: the total measured at `at`."
    )


def forecast_out(f: fc.Forecast, outcome: float | None = None) -> ForecastOut:
    return _model_of(ForecastOut, f, outcome=outcome)


class PickupOut(BaseModel):
    platform: str
    order: int = Field(description="1 for the platform where the footage appeared first.")
    first_at: datetime
    delay_hours: float = Field(description="Hours after the first platform's first post.")
    posts: int


class ShareOut(BaseModel):
    bucket_start: datetime
    platform: str
    share: float = Field(description="The platform's part of the bucket's growth (0 to 1).")
    total_per_hour: float | None = Field(
        description="Growth per hour of all platforms in the bucket."
    )
    bucket_hours: int = Field(description=BUCKET_HOURS_NOTE)


class VideoMeasuresOut(BaseModel):
    counter: str
    latest_at: datetime | None
    velocity_now: dict[str, float | None] = Field(
        description='Scope ("all" or a platform) -> ' + NOTES["velocity"]
    )
    velocity: list[VelocityOut]
    bursts: list[BurstOut] = Field(description=NOTES["bursts"])
    forecasts: list[ForecastOut] = Field(description=NOTES["forecast"])
    no_forecast: str | None = Field(description="Why there is no forecast, when there is none.")
    past_forecasts: list[ForecastOut] = Field(
        description="Forecasts made 24 h and 6 h before the latest reading, with the outcome."
    )
    pickups: list[PickupOut] = Field(description=NOTES["spread"])
    shares: list[ShareOut]
    notes: dict[str, str] = Field(description="How each number was computed.")


def video_measures_out(m: VideoMeasures) -> VideoMeasuresOut:
    forecasts = [] if isinstance(m.forecasts, fc.NoForecast) else m.forecasts
    return VideoMeasuresOut(
        counter=m.counter,
        latest_at=m.latest_at,
        velocity_now={k: finite(v) for k, v in m.velocity_now.items()},
        # Rows from the chart's own functions: the API, the CSV and the chart cannot disagree.
        velocity=[
            VelocityOut(**asdict(r)) for r in measure_charts.velocity_rows(m.rates, m.bucket_hours)
        ],
        bursts=[_model_of(BurstOut, b, scope=s) for s, b in m.bursts],
        forecasts=[forecast_out(f) for f in forecasts],
        no_forecast=m.forecasts.reason if isinstance(m.forecasts, fc.NoForecast) else None,
        past_forecasts=[forecast_out(p.forecast, p.actual) for p in m.past_forecasts],
        pickups=[PickupOut(**asdict(p)) for p in m.pickups],
        shares=[
            ShareOut(**asdict(r))
            for r in measure_charts.share_rows(m.shares, list(m.rates), m.bucket_hours)
        ],
        notes=m.notes,
    )


class PostMeasuresOut(BaseModel):
    counter: str | None = Field(description="The counter measured: views, else shares or likes.")
    velocity_per_hour: float | None = Field(description=NOTES["velocity"] + " Window: 1 h.")
    velocity_measured_hours: float
    acceleration: float | None = Field(description=NOTES["acceleration"])
    doubling_hours: float | None = Field(description=NOTES["doubling"])
    overperformance: OverperformanceOut | None
    notes: dict[str, str]


def post_measures_out(m: PostMeasures) -> PostMeasuresOut:
    return PostMeasuresOut(
        counter=m.counter,
        velocity_per_hour=finite(m.velocity),
        velocity_measured_hours=m.velocity_hours,
        acceleration=finite(m.acceleration),
        doubling_hours=finite(m.doubling.hours) if m.doubling else None,
        overperformance=overperformance_out(m.overperformance, m.baseline_note),
        notes=m.notes,
    )
