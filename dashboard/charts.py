"""Pure functions from series (numpy arrays) to plotly figures; no I/O, testable alone.

Times go out as naive UTC strings; the page's script shifts them to the viewer's time zone
(plotly.js has no time zones), with a UTC toggle.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dashboard.bidi import show_bidi_controls
from dashboard.gaps import Gap
from dashboard.platforms import NO_PLATFORMS, Platforms
from dashboard.series import PostSeries, Series
from storage.read import AppearanceRow

GAP_FILL = "rgba(220, 220, 220, 0.13)"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def time_strings(times: np.ndarray) -> list[str]:
    """Naive UTC "YYYY-MM-DD HH:MM:SS" strings, the date format plotly.js reads."""
    return [s.replace("T", " ") for s in np.datetime_as_string(times.astype("datetime64[s]"))]


def bucket_label(minutes: int) -> str:
    """A bucket size as chart titles say it: hour, 6 h, 5 min."""
    if minutes == 60:
        return "hour"
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def _rgba(hex_color: str, alpha: float) -> str:
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def _layout(title: str, y_title: str, *, height: int = 360) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0.01, "y": 0.98, "yanchor": "top", "font": {"size": 16}},
        "template": "plotly_dark",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT, "size": 13},
        "height": height,
        "margin": {"l": 60, "r": 16, "t": 78, "b": 40},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "xaxis": {
            "type": "date",
            "title": {"text": "time (UTC)"},
            "automargin": True,
            "tickangle": 0,
            "nticks": 8,
            # Short two-line labels on every tick: plotly's default puts a long date under the
            # first tick of each day, and two of those collide when days are close together.
            "tickformatstops": [
                {"dtickrange": [None, 86_400_000], "value": "%H:%M\n%b %-d"},
                {"dtickrange": [86_400_000, None], "value": "%b %-d\n%Y"},
            ],
        },
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "tickformat": "~s"},
        "meta": {"time_axis": True},
    }


def _gap_shapes(gaps: Sequence[Gap], axis_end: np.datetime64 | None = None) -> list[dict[str, Any]]:
    """Shaded spans for collector outages: the data there is missing, not flat.

    A gap reaching the end of the axis is labelled from its right edge, or the label would run
    off the chart."""
    shapes = []
    for gap in gaps:
        at_end = axis_end is not None and np.datetime64(
            gap.end.replace(tzinfo=None), "s"
        ) >= axis_end - np.timedelta64(1, "h")
        start, end = time_strings(
            np.array(
                [gap.start.replace(tzinfo=None), gap.end.replace(tzinfo=None)],
                dtype="datetime64[s]",
            )
        )
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": start,
                "x1": end,
                "y0": 0,
                "y1": 1,
                "fillcolor": GAP_FILL,
                "line": {"width": 1, "color": "rgba(220,220,220,0.35)", "dash": "dot"},
                "layer": "below",
                "name": f"gap: {gap.collector} {gap.status}",
                "label": {
                    "text": f"{gap.collector}: {gap.status.replace('_', '-')}",
                    "textposition": "top right" if at_end else "top left",
                    # Below the dotted top edge, not struck through by it.
                    "yanchor": "top",
                    "padding": 6,
                    "font": {"size": 11, "color": "#ddd"},
                },
            }
        )
    return shapes


def cumulative_figure(
    series: Series, gaps: Sequence[Gap] = (), catalog: Platforms = NO_PLATFORMS
) -> go.Figure:
    """Cumulative `series.metric` stacked by platform, with collector gaps shaded."""
    x = time_strings(series.times)
    figure = go.Figure(layout=_layout(f"Cumulative {series.metric} by platform", series.metric))
    for platform, values in series.values.items():
        if not np.any(np.nan_to_num(values)):
            # Nothing counted: the platform hides this counter (Reddit views) or nothing grew;
            # a flat zero band would read as "zero views", which empty is not.
            continue
        color = catalog.colour(platform)
        figure.add_trace(
            go.Scatter(
                x=x,
                y=values,
                **_legend(platform, catalog),
                mode="lines",
                stackgroup="one",
                line={"color": color, "width": 1.5},
                fillcolor=_rgba(color, 0.55),
                hovertemplate=f"%{{y:,d}} {series.metric}<extra>%{{fullData.name}}</extra>",
            )
        )
    figure.update_layout(shapes=_gap_shapes(gaps, _axis_end(series)))
    return figure


def _legend(platform: str, catalog: Platforms) -> dict[str, Any]:
    # `meta` keeps the platform's spelling on the trace, where `name` holds its display label.
    return {"name": catalog.label(platform), "legendgroup": platform, "meta": platform}


def _axis_end(series: Series) -> np.datetime64 | None:
    return series.ends[-1] if len(series.ends) else None


def reposts_figure(
    series: Series, gaps: Sequence[Gap] = (), catalog: Platforms = NO_PLATFORMS
) -> go.Figure:
    """New reposts per bucket, stacked bars by platform."""
    figure = go.Figure(
        layout=_layout(f"New reposts per {bucket_label(series.bucket_minutes)}", "posts")
    )
    x = time_strings(series.starts)
    for platform, values in series.values.items():
        figure.add_trace(
            go.Bar(
                x=x,
                y=values,
                **_legend(platform, catalog),
                marker={"color": catalog.colour(platform)},
                hovertemplate="%{y:,d} new<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(barmode="stack", bargap=0.05, shapes=_gap_shapes(gaps, _axis_end(series)))
    # Whole posts only: left alone, plotly puts ticks at 0.5 steps that ",d" prints as 0 0 1 1 2.
    tallest = int(np.sum(list(series.values.values()), axis=0).max()) if series.values else 0
    figure.update_yaxes(tickformat=",d")
    if tallest <= 6:
        figure.update_yaxes(dtick=1)
    return figure


def chart_text(text: str) -> str:
    """Untrusted text for plotly labels: plotly reads <b>, <a href> … in them, so escape, and
    show bidi controls rather than obey them."""
    return html.escape(show_bidi_controls(text), quote=False)


def timeline_figure(first: Sequence[AppearanceRow], catalog: Platforms = NO_PLATFORMS) -> go.Figure:
    """When the footage first reached each platform, and which author carried it there."""
    layout = _layout("Spread timeline: first post per platform", "")
    layout["hovermode"] = "closest"
    layout["showlegend"] = False
    layout["margin"] = {**layout["margin"], "t": 44}
    layout["yaxis"] = {"type": "category", "autorange": "reversed", "title": {"text": ""}}
    layout["height"] = max(220, 60 + 34 * len(first))
    figure = go.Figure(layout=layout)
    x = time_strings(
        np.array([a.appeared_at.replace(tzinfo=None) for a in first], dtype="datetime64[s]")
    )
    labels = [catalog.label(a.platform) for a in first]
    figure.add_trace(
        go.Scatter(
            x=x,
            y=labels,
            mode="lines+markers",
            name="first post",
            line={"color": "rgba(200,200,200,0.35)", "width": 1, "shape": "hv"},
            marker={
                "size": 14,
                "color": [catalog.colour(a.platform) for a in first],
                "line": {"width": 1, "color": "#111"},
            },
            customdata=[
                [chart_text(a.author or "unknown author"), chart_text(a.platform_post_id)]
                for a in first
            ],
            hovertemplate="<b>%{y}</b><br>%{x}<br>by %{customdata[0]}<extra></extra>",
        )
    )
    return figure


def post_figure(series: PostSeries, gaps: Sequence[Gap] = ()) -> go.Figure:
    """One post's counters over time: views on the left axis, the others on the right.

    Readings further apart than three times the usual interval are not joined by a line.
    """
    layout = _layout("Counters over time", "views")
    layout["yaxis2"] = {
        "title": {"text": "likes, shares, comments, quotes"},
        "overlaying": "y",
        "side": "right",
        "rangemode": "tozero",
        "showgrid": False,
        "tickformat": "~s",
    }
    layout["margin"]["r"] = 60
    figure = go.Figure(layout=layout)
    times, values = _break_gaps(series.times, series.values)
    x = time_strings(times)
    styles = {
        "views": ("#56B4E9", "y"),
        "likes": ("#E69F00", "y2"),
        "shares": ("#009E73", "y2"),
        "comments": ("#CC79A7", "y2"),
        "quotes": ("#F0E442", "y2"),
    }
    for metric, (color, axis) in styles.items():
        y = values[metric]
        if not np.any(~np.isnan(y)):
            continue  # the platform does not expose this counter
        figure.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=metric,
                meta=metric,
                yaxis=axis,
                mode="lines+markers" if len(x) < 60 else "lines",
                line={"color": color, "width": 2},
                connectgaps=False,
                hovertemplate=f"%{{y:,.0f}} {metric}<extra></extra>",
            )
        )
    figure.update_layout(shapes=_gap_shapes(gaps, series.times[-1] if len(series.times) else None))
    return figure


def _break_gaps(
    times: np.ndarray, values: dict[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if len(times) < 3:
        return times, values
    steps = np.diff(times).astype("timedelta64[s]").astype(np.int64)
    usual = max(int(np.median(steps)), 1)
    breaks = np.nonzero(steps > 3 * usual)[0]
    if len(breaks) == 0:
        return times, values
    # One NaN point in the middle of each long silence stops plotly drawing a line across it.
    middles = times[breaks] + (times[breaks + 1] - times[breaks]) // 2
    new_times = np.insert(times, breaks + 1, middles)
    new_values = {m: np.insert(v, breaks + 1, np.nan) for m, v in values.items()}
    return new_times, new_values


def sparkline_points(values: np.ndarray, width: int = 120, height: int = 32) -> str:
    """An SVG polyline `points` attribute (numbers only) for a small trend line."""
    if len(values) < 2:
        return f"0,{height - 1} {width},{height - 1}"
    low, high = float(values.min()), float(values.max())
    spread = (high - low) or 1.0
    xs = np.linspace(0, width, len(values))
    ys = (height - 2) - (values - low) / spread * (height - 4)
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
