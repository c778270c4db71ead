"""Pure functions from series (numpy arrays) to plotly figures; no I/O, testable alone.

Times go out as naive UTC strings; the page's script shifts them to the viewer's time zone
(plotly.js has no time zones), with a UTC toggle.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from dashboard.bidi import show_bidi_controls
from dashboard.gap_growth import gap_growth, hover_notes
from dashboard.gaps import Gap
from dashboard.platforms import NO_PLATFORMS, Platforms
from dashboard.series import PostSeries, Series
from dashboard.timegrid import to_datetime
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


@cache
def _dark_template() -> dict[str, Any]:
    return dict(pio.templates["plotly_dark"].to_plotly_json())


def figure_json(figure: go.Figure) -> dict[str, Any]:
    """The figure as plotly.js draws it: its JSON with the dashboard's dark template."""
    found = figure.to_plotly_json()
    found["layout"]["template"] = _dark_template()
    return found


def _layout(title: str, y_title: str, *, height: int = 360) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0.01, "y": 0.98, "yanchor": "top", "font": {"size": 16}},
        # Validating plotly_dark costs ~25 ms per figure: figures carry the empty template and
        # `figure_json` sends the dark one, which plotly.js applies (the same JSON either way).
        "template": "none",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT, "size": 13},
        "height": height,
        "margin": {"l": 60, "r": 16, "t": 78, "b": 40},
        "hovermode": "x unified",
        # A chart with one platform keeps its legend: plotly hides a legend of one by default.
        "showlegend": True,
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
        "yaxis": {"title": {"text": y_title}, **count_axis(0)},
        "meta": {"time_axis": True},
    }


# Counts up to this are printed in full (",d"); above, in SI units (1.5M), which for whole
# numbers this large never reach the fractional prefixes (m, µ, p).
SI_FROM = 10_000


def count_axis(top: float) -> dict[str, Any]:
    """A y axis for counts up to `top`: from 0, whole-number ticks, never negative or SI-pico."""
    top = float(top) if np.isfinite(top) and top > 0 else 0.0
    return {
        "range": [0, top * 1.08 if top else 1],
        "tickformat": "~s" if top >= SI_FROM else ",d",
        # Left alone, plotly ticks small ranges at 0.5 steps, which ",d" prints as 0 0 1 1 2.
        "dtick": 1 if top <= 6 else None,
    }


def empty_figure(title: str, note: str = "") -> go.Figure:
    """A chart with nothing to draw: says so, with what the collectors are doing, instead of
    plotly's default axes (Jan 1 2000 … and 0-4)."""
    layout = _layout(title, "", height=220)
    layout["meta"] = {}
    layout["showlegend"] = False
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    text = "<b>No readings yet</b>" + (f"<br>{note}" if note else "")
    layout["annotations"] = [
        {
            "text": text,
            "xref": "paper",
            "yref": "paper",
            "x": 0.5,
            "y": 0.45,
            "showarrow": False,
            "font": {"size": 14, "color": "#bbb"},
        }
    ]
    return go.Figure(layout=layout)


def data_extent(series: Series) -> tuple[np.datetime64 | None, np.datetime64 | None]:
    """Where a chart's x axis starts by default and where it ends: from a little before the
    first bucket where anything moves (so six quiet days do not squash the action to the right
    edge), to the axis end. (None, None) when nothing moves."""
    if not series.values or not len(series.times):
        return None, None
    stacked = np.sum([np.nan_to_num(v) for v in series.values.values()], axis=0)
    moving = np.nonzero(np.diff(stacked, prepend=0 if not series.cumulative else stacked[0]))[0]
    if series.cumulative and stacked[0] > 0:
        moving = np.insert(moving, 0, 0)
    if len(moving) == 0:
        return None, None
    times = series.times
    # Padded by a twentieth of the moving span, at least one bucket.
    span = times[-1] - times[moving[0]]
    pad = max(span // 20, np.timedelta64(series.bucket_minutes, "m"))
    start = max(times[0] - np.timedelta64(series.bucket_minutes, "m"), times[moving[0]] - pad)
    return start, times[-1]


def visible_gaps(
    gaps: Sequence[Gap], start: np.datetime64 | None, end: np.datetime64 | None
) -> list[Gap]:
    """The gaps a chart drawn from `start` to `end` shades, clipped to it; none on an empty
    chart. The page lists only these, so "shaded on the charts" is true."""
    if start is None or end is None:
        return []
    low, high = to_datetime(start), to_datetime(end)
    clipped = [
        Gap(g.collector, g.status, max(g.start, low), min(g.end, high), g.message)
        for g in gaps
        if g.end > low and g.start < high
    ]
    return clipped if len(clipped) <= MAX_SHADED_GAPS else merge_gaps(clipped, high - low)


MAX_SHADED_GAPS = 60
"""Above this many gaps on one chart, nearby ones are shaded as one band (see merge_gaps)."""


def merge_gaps(gaps: Sequence[Gap], span: timedelta) -> list[Gap]:
    """Gaps closer together than 1/MAX_SHADED_GAPS of the axis merged into one band naming how
    many outages it holds: at that zoom they are a pixel or two apart, and a plotly shape per
    outage (thousands over months of flaky runs) costs seconds. At most MAX_SHADED_GAPS + 1
    bands; each gap lies inside one of them."""
    slack = span / MAX_SHADED_GAPS
    bands: list[list[Gap]] = []
    band_end = None
    for gap in sorted(gaps, key=lambda g: g.start):
        if band_end is not None and gap.start - band_end <= slack:
            bands[-1].append(gap)
            band_end = max(band_end, gap.end)
        else:
            bands.append([gap])
            band_end = gap.end
    merged = []
    for band in bands:
        if len(band) == 1:
            merged.append(band[0])
            continue
        collectors = sorted({g.collector for g in band})
        who = collectors[0] if len(collectors) == 1 else f"{len(collectors)} collectors"
        end = max(g.end for g in band)
        merged.append(Gap(who, f"{len(band)} outages", band[0].start, end, ", ".join(collectors)))
    return merged


def _x_range(start: np.datetime64 | None, end: np.datetime64 | None) -> list[str] | None:
    if start is None or end is None:
        return None
    return time_strings(np.array([start, end], dtype="datetime64[s]"))


def moment_strings(moments: Sequence[datetime]) -> list[str]:
    """`time_strings` of aware datetimes (UTC)."""
    return time_strings(np.array([m.replace(tzinfo=None) for m in moments], dtype="datetime64[s]"))


def span_shape(
    start: datetime,
    end: datetime,
    fill: str,
    edge: dict[str, Any],
    name: str,
    label: dict[str, Any],
) -> dict[str, Any]:
    """A shaded span over the plot's full height, beneath the traces (gaps, bursts)."""
    x0, x1 = moment_strings([start, end])
    return {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": x0,
        "x1": x1,
        "y0": 0,
        "y1": 1,
        "fillcolor": fill,
        "line": {"width": 1, **edge},
        "layer": "below",
        "name": name,
        "label": label,
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
        label = {
            "text": f"{gap.collector}: {gap.status.replace('_', '-')}",
            "textposition": "top right" if at_end else "top left",
            # Below the dotted top edge, not struck through by it.
            "yanchor": "top",
            "padding": 6,
            "font": {"size": 11, "color": "#ddd"},
        }
        edge = {"color": "rgba(220,220,220,0.35)", "dash": "dot"}
        name = f"gap: {gap.collector} {gap.status}"
        shapes.append(span_shape(gap.start, gap.end, GAP_FILL, edge, name, label))
    return shapes


def _by_platform(
    series: Series,
    title: str,
    y_title: str,
    gaps: Sequence[Gap],
    empty_note: str,
    trace: Callable[[str, list[str], np.ndarray], Any],
    lead: np.timedelta64,
) -> go.Figure:
    """One trace per platform from `trace(platform, x, values)` (None skips it), collector gaps
    shaded, the count axis fitted to the stacked top, the x axis reaching `lead` before the
    data."""
    start, end = data_extent(series)
    if start is None or end is None:
        return empty_figure(title, empty_note)
    figure = go.Figure(layout=_layout(title, y_title))
    x = time_strings(series.times)
    for platform, values in series.values.items():
        made = trace(platform, x, values)
        if made is not None:
            figure.add_trace(made)
    top = np.sum([np.nan_to_num(v) for v in series.values.values()], axis=0).max()
    figure.update_yaxes(**count_axis(top))
    figure.update_xaxes(range=_x_range(start - lead, end))
    figure.update_layout(shapes=_gap_shapes(visible_gaps(gaps, start, end), end))
    return figure


def cumulative_figure(
    series: Series,
    gaps: Sequence[Gap] = (),
    catalog: Platforms = NO_PLATFORMS,
    empty_note: str = "",
) -> go.Figure:
    """Cumulative `series.metric` stacked by platform, with collector gaps shaded."""
    # The point after a gap holds the growth of the whole gap: its hover says over when.
    notes = hover_notes(series, gap_growth(series, gaps))

    def band(platform: str, x: list[str], values: np.ndarray) -> go.Scatter | None:
        if not np.any(np.nan_to_num(values)):
            # Nothing counted: the platform hides this counter (Reddit views) or nothing grew;
            # a flat zero band would read as "zero views", which empty is not.
            return None
        color = catalog.colour(platform)
        return go.Scatter(
            x=x,
            y=values,
            **_legend(platform, catalog),
            mode="lines",
            stackgroup="one",
            line={"color": color, "width": 1.5},
            fillcolor=_rgba(color, 0.55),
            customdata=notes[platform],
            hovertemplate=f"%{{y:,d}} {series.metric}%{{customdata}}"
            "<extra>%{fullData.name}</extra>",
        )

    title = f"Cumulative {series.metric} by platform"
    no_lead = np.timedelta64(0, "m")
    return _by_platform(series, title, series.metric, gaps, empty_note, band, no_lead)


def _legend(platform: str, catalog: Platforms) -> dict[str, Any]:
    # `meta` keeps the platform's spelling on the trace, where `name` holds its display label.
    return {"name": catalog.label(platform), "legendgroup": platform, "meta": platform}


def reposts_figure(
    series: Series,
    gaps: Sequence[Gap] = (),
    catalog: Platforms = NO_PLATFORMS,
    empty_note: str = "",
) -> go.Figure:
    """New reposts per bucket, stacked bars by platform."""

    def bars(platform: str, x: list[str], values: np.ndarray) -> go.Bar:
        return go.Bar(
            x=x,
            y=values,
            **_legend(platform, catalog),
            marker={"color": catalog.colour(platform)},
            hovertemplate="%{y:,d} new<extra>%{fullData.name}</extra>",
        )

    title = f"New reposts per {bucket_label(series.bucket_minutes)}"
    # Bars are drawn at their start: the axis reaches back a bucket so the first is whole.
    lead = np.timedelta64(series.bucket_minutes, "m")
    figure = _by_platform(series, title, "posts", gaps, empty_note, bars, lead)
    if figure.data:
        figure.update_layout(barmode="stack", bargap=0.05)
    return figure


def chart_text(text: str) -> str:
    """Untrusted text for plotly labels: plotly reads <b>, <a href> … in them, so escape, and
    show bidi controls rather than obey them."""
    return html.escape(show_bidi_controls(text), quote=False)


def timeline_figure(
    first: Sequence[AppearanceRow], catalog: Platforms = NO_PLATFORMS, empty_note: str = ""
) -> go.Figure:
    """When the footage first reached each platform, and which author carried it there."""
    if not first:
        return empty_figure("Spread timeline: first post per platform", empty_note)
    layout = _layout("Spread timeline: first post per platform", "")
    layout["hovermode"] = "closest"
    layout["showlegend"] = False
    layout["margin"] = {**layout["margin"], "t": 44}
    layout["yaxis"] = {"type": "category", "autorange": "reversed", "title": {"text": ""}}
    layout["height"] = max(220, 60 + 34 * len(first))
    figure = go.Figure(layout=layout)
    x = moment_strings([a.appeared_at for a in first])
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


# Okabe & Ito (2008), "Color Universal Design": readable apart with any colour vision.
COUNTER_COLOURS = {
    "views": "#56B4E9",
    "likes": "#E69F00",
    "shares": "#009E73",
    "comments": "#CC79A7",
    "quotes": "#F0E442",
}
PANEL_HEIGHT = 150
PANEL_GAP = 0.07


def post_figure(series: PostSeries, gaps: Sequence[Gap] = (), empty_note: str = "") -> go.Figure:
    """One post's counters over time, one panel each on a shared time axis: views in millions
    and likes in tens stay readable, and no line hides behind another.

    Readings further apart than three times the usual interval are not joined by a line.
    """
    title = "Counters over time"
    shown = [m for m in COUNTER_COLOURS if np.any(~np.isnan(series.values[m]))]
    if not shown:  # no readings, or the platform exposes no counter
        return empty_figure(title, empty_note)
    layout = _layout(title, "", height=70 + PANEL_HEIGHT * len(shown))
    layout["showlegend"] = False  # each panel is labelled instead
    layout["margin"] = {**layout["margin"], "t": 56}
    del layout["yaxis"]
    height = (1 - PANEL_GAP * (len(shown) - 1)) / len(shown)
    times, values = _break_gaps(series.times, series.values)
    x = time_strings(times)
    figure = go.Figure(layout=layout)
    annotations = []
    for i, metric in enumerate(shown):
        axis = "y" if i == 0 else f"y{i + 1}"
        top = 1 - i * (height + PANEL_GAP)
        y = values[metric]
        figure.update_layout(
            {
                axis.replace("y", "yaxis"): {
                    "domain": [max(top - height, 0), top],
                    "automargin": True,
                    **count_axis(np.nanmax(y)),
                }
            }
        )
        annotations.append(
            {
                "text": metric,
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": top,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 13, "color": COUNTER_COLOURS[metric]},
            }
        )
        figure.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=metric,
                meta=metric,
                yaxis=axis,
                mode="lines+markers" if len(x) < 60 else "lines",
                line={"color": COUNTER_COLOURS[metric], "width": 2},
                connectgaps=False,
                hovertemplate=f"%{{y:,.0f}} {metric}<extra></extra>",
            )
        )
    # The one time axis sits under the bottom panel.
    figure.update_layout(
        annotations=annotations, xaxis={"anchor": "y" if len(shown) == 1 else f"y{len(shown)}"}
    )
    start, end = (series.times[0], series.times[-1])
    figure.update_layout(shapes=_gap_shapes(visible_gaps(gaps, start, end), end))
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
