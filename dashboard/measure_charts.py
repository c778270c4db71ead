"""Pure functions from measures (dashboard/measures.py) to plotly figures, and the rows each
figure draws: one `*_rows` function per chart, used by the figure and by its CSV, so the CSV
is what the chart draws (issue 11).

Traces carry `meta` (a platform, or a role such as "forecast") for tests and the page's script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import plotly.graph_objects as go

from analytics import forecast as fc
from analytics.bursts import Burst
from analytics.spread import HourShares
from analytics.velocity import Bucket
from dashboard.charts import _layout, count_axis, empty_figure, moment_strings, span_shape
from dashboard.measures import ALL, PastForecast, VideoMeasures
from dashboard.platforms import NO_PLATFORMS, Platforms

BURST_FILL = "rgba(255, 170, 0, 0.16)"
BAND_FILL = "rgba(120, 180, 255, 0.22)"


@dataclass(frozen=True, slots=True)
class VelocityRow:
    bucket_start: datetime
    platform: str
    per_hour: float | None
    measured_hours: float
    bucket_hours: int


def velocity_rows(rates: dict[str, list[Bucket]], bucket_hours: int = 1) -> list[VelocityRow]:
    """Per platform (chart order) and bucket: views per hour (None: nothing measured)."""
    return [
        VelocityRow(b.start, platform, b.per_hour, b.measured_hours, bucket_hours)
        for platform, buckets in rates.items()
        for b in buckets
    ]


def _per_bucket(bucket_hours: int) -> str:
    """How a chart title names its bucket: "per hour", "per 6 h bucket"."""
    return "per hour" if bucket_hours == 1 else f"per {bucket_hours} h bucket"


def burst_shapes(bursts: Sequence[tuple[str, Burst]]) -> list[dict[str, object]]:
    """Shaded spans for the bursts of all platforms together."""
    edge = {"color": "rgba(255,170,0,0.6)"}
    return [
        span_shape(burst.start, burst.end, BURST_FILL, edge, "burst", _burst_label(burst))
        for scope, burst in bursts
        if scope == ALL
    ]


def _burst_label(burst: Burst) -> dict[str, object]:
    font = {"size": 11, "color": "#fc6"}
    return {
        "text": f"burst +{burst.excess:,.0f}",
        "textposition": "top left",
        "yanchor": "top",
        "font": font,
    }


def _legend_below(layout: dict[str, object]) -> None:
    # These charts sit in half-width cards: a legend above the plot would wrap into the title.
    layout["legend"] = {"orientation": "h", "x": 0, "y": -0.3, "yanchor": "top"}
    layout["margin"] = {"l": 60, "r": 16, "t": 56, "b": 110}


def _fit_counts(layout: dict[str, object], values: Sequence[float | None]) -> None:
    # _layout's count axis spans 0-1 until it knows the data: fit it to the values drawn.
    axis = layout["yaxis"]
    assert isinstance(axis, dict)
    axis.update(count_axis(max((v for v in values if v is not None), default=0)))


def _platform_line(
    catalog: Platforms,
    platform: str,
    x: list[str],
    y: Sequence[float | None],
    line: dict[str, Any],
    **style: Any,
) -> go.Scatter:
    """A platform's stepped line in its colour, labelled for people, `meta` for code."""
    return go.Scatter(
        x=x,
        y=y,
        name=catalog.label(platform),
        meta=platform,
        mode="lines",
        # Hourly values hold for the whole hour: steps, not slopes between hour starts.
        line={"color": catalog.colour(platform), **line, "shape": "hv"},
        **style,
    )


def velocity_figure(
    measures: VideoMeasures, catalog: Platforms = NO_PLATFORMS, empty_note: str = ""
) -> go.Figure:
    """Views per hour by platform, one line each, with the video's bursts shaded."""
    title = f"Velocity, {measures.counter}/h"
    if measures.bucket_hours > 1:
        title += f" ({measures.bucket_hours} h buckets)"
    rates = [b.per_hour for buckets in measures.rates.values() for b in buckets]
    if not any(r is not None for r in rates):
        return empty_figure(title, empty_note or "velocity needs two readings of a post")
    layout = _layout(title, f"{measures.counter}/h")
    _fit_counts(layout, rates)
    _legend_below(layout)
    layout["shapes"] = burst_shapes(measures.bursts)
    figure = go.Figure(layout=layout)
    for platform, buckets in measures.rates.items():
        x = moment_strings([b.start for b in buckets])
        y = [b.per_hour for b in buckets]
        style = {"line": {"width": 2}, "connectgaps": False, "hovertemplate": "%{y:,.0f}/h"}
        figure.add_trace(_platform_line(catalog, platform, x, y, **style))
    return figure


@dataclass(frozen=True, slots=True)
class ForecastRow:
    kind: str
    """actual (the series), forecast (from the latest reading) or past_forecast."""
    made_at: datetime | None
    at: datetime
    value: float | None
    """The series' value (actual) or the expected total (forecasts)."""
    low: float | None
    high: float | None
    outcome: float | None
    """For a past forecast: what then happened (None while its time is not reached)."""


def forecast_rows(measures: VideoMeasures) -> list[ForecastRow]:
    rows = [
        ForecastRow("actual", None, at, value, None, None, None)
        for at, value in measures.series.get(ALL, [])
    ]
    if not isinstance(measures.forecasts, fc.NoForecast) and measures.forecasts:
        first = measures.forecasts[0]
        # The band starts at the latest reading, where the forecast is certain.
        rows.append(
            ForecastRow(
                "forecast",
                first.made_at,
                first.made_at,
                first.latest,
                first.latest,
                first.latest,
                None,
            )
        )
        rows.extend(
            ForecastRow("forecast", f.made_at, f.at, f.expected, f.low, f.high, None)
            for f in measures.forecasts
        )
    rows.extend(_past_row(p) for p in measures.past_forecasts)
    return rows


def _past_row(past: PastForecast) -> ForecastRow:
    f = past.forecast
    return ForecastRow("past_forecast", f.made_at, f.at, f.expected, f.low, f.high, past.actual)


def forecast_figure(measures: VideoMeasures, empty_note: str = "") -> go.Figure:
    """The video's total with the forecast band ahead, and earlier forecasts beside what then
    happened."""
    rows = forecast_rows(measures)
    title = f"Forecast: total {measures.counter}"
    actual = [r for r in rows if r.kind == "actual"]
    if not actual:
        return empty_figure(title, empty_note)
    layout = _layout(title, measures.counter)
    _fit_counts(layout, [v for r in rows for v in (r.value, r.high)])
    _legend_below(layout)
    figure = go.Figure(layout=layout)
    figure.add_trace(
        go.Scatter(
            x=moment_strings([r.at for r in actual]),
            y=[r.value for r in actual],
            name="measured",
            meta="actual",
            mode="lines",
            line={"color": "#ddd", "width": 2},
        )
    )
    ahead = [r for r in rows if r.kind == "forecast"]
    if ahead:
        x = moment_strings([r.at for r in ahead])
        for meta, name, y, style in _band_traces(ahead):
            figure.add_trace(go.Scatter(x=x, y=y, meta=meta, name=name, **style))
    past = [r for r in rows if r.kind == "past_forecast"]
    if past:
        figure.add_trace(
            go.Scatter(
                x=moment_strings([r.at for r in past]),
                y=[r.value for r in past],
                meta="past_forecast",
                name="earlier forecasts",
                mode="markers",
                marker={"color": "#fc6", "symbol": "diamond", "size": 9},
                # Plotly's error bars are distances from the point, not the band's edges.
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [(r.high or 0) - (r.value or 0) for r in past],
                    "arrayminus": [(r.value or 0) - (r.low or 0) for r in past],
                    "color": "#fc6",
                },
                customdata=[moment_strings([r.made_at])[0] if r.made_at else "" for r in past],
                hovertemplate="made %{customdata}: %{y:,.0f}",
            )
        )
    return figure


def _band_traces(
    ahead: Sequence[ForecastRow],
) -> list[tuple[str, str, list[float | None], dict[str, Any]]]:
    """(meta, name, y, style) of the band's lower edge, its upper edge filled down to the lower
    one ("tonexty" fills to the trace before, so the order matters) and the expected line."""
    edge = {"mode": "lines", "line": {"width": 0}}
    return [
        ("band_low", "band low", [r.low for r in ahead], {**edge, "showlegend": False}),
        (
            "band_high",
            "80% band",
            [r.high for r in ahead],
            {**edge, "fill": "tonexty", "fillcolor": BAND_FILL},
        ),
        (
            "forecast",
            "forecast",
            [r.value for r in ahead],
            {"mode": "lines+markers", "line": {"color": "#7bf", "dash": "dash"}},
        ),
    ]


@dataclass(frozen=True, slots=True)
class ShareRow:
    bucket_start: datetime
    platform: str
    share: float
    total_per_hour: float | None
    bucket_hours: int


def share_rows(
    shares: Sequence[HourShares], platforms: Sequence[str], bucket_hours: int = 1
) -> list[ShareRow]:
    """Per platform (chart order) and bucket: its share of the bucket's growth (0 if none)."""
    return [
        ShareRow(
            hour.start, platform, hour.shares.get(platform, 0.0), hour.total_per_hour, bucket_hours
        )
        for platform in platforms
        for hour in shares
    ]


def spread_figure(
    measures: VideoMeasures, catalog: Platforms = NO_PLATFORMS, empty_note: str = ""
) -> go.Figure:
    """Each platform's share of the growth per hour, stacked to 100%."""
    title = f"Share of {measures.counter} growth {_per_bucket(measures.bucket_hours)}"
    if not measures.shares:
        return empty_figure(title, empty_note or "no growth measured yet")
    layout = _layout(title, "share")
    _legend_below(layout)
    # Shares are fixed at 0-1: a fitted axis would make a 40% hour look like a full one.
    layout["yaxis"] = {"title": {"text": "share"}, "range": [0, 1], "tickformat": ".0%"}
    figure = go.Figure(layout=layout)
    rows = share_rows(measures.shares, list(measures.rates), measures.bucket_hours)
    for platform in measures.rates:
        mine = [r for r in rows if r.platform == platform]
        x = moment_strings([r.bucket_start for r in mine])
        y = [r.share for r in mine]
        style = {"line": {"width": 0.5}, "stackgroup": "share", "hovertemplate": "%{y:.0%}"}
        figure.add_trace(_platform_line(catalog, platform, x, y, **style))
    return figure
