"""Charts that read well at every range (issue 10, Dashboard): one panel per post counter, count
axes with whole, non-negative ticks, empty states instead of plotly's default axes, bucket sizes
and axis ranges from the data's own extent, and gaps listed only where they are shaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from dashboard import charts
from dashboard.gaps import Gap
from dashboard.series import PostSeries, Series, repost_series
from dashboard.timegrid import Window
from storage.read import COUNTERS, AppearanceRow

DAY = datetime(2024, 5, 1, tzinfo=UTC)


def post_series(views: list[float], likes: list[float]) -> PostSeries:
    times = np.array(
        [
            np.datetime64("2024-05-01T00:00") + np.timedelta64(15 * i, "m")
            for i in range(len(views))
        ],
        dtype="datetime64[s]",
    )
    values = {m: np.full(len(views), np.nan) for m in COUNTERS}
    values["views"] = np.array(views)
    values["likes"] = np.array(likes)
    return PostSeries(1, times, values)


def test_post_figure_gives_each_counter_its_own_panel_with_count_ticks() -> None:
    # Views in millions, likes in tens: on one axis the likes would be a flat line at zero.
    figure = charts.post_figure(post_series([1e6, 2e6, 3e6], [3.0, 4.0, 5.0]))
    assert [t.meta for t in figure.data] == ["views", "likes"]
    axes = [t.yaxis for t in figure.data]
    assert len(set(axes)) == 2  # one y axis each: no trace hides behind another
    layout = figure.layout.to_plotly_json()
    domains = [layout[a.replace("y", "yaxis")]["domain"] for a in axes]
    assert domains[0][0] >= domains[1][1]  # stacked panels, views on top, not overlapping
    for axis in axes:
        spec = layout[axis.replace("y", "yaxis")]
        assert spec["range"][0] == 0  # never a negative tick
        assert spec["tickformat"] in (",d", "~s")
    likes_axis = layout[axes[1].replace("y", "yaxis")]
    assert likes_axis["tickformat"] == ",d" and likes_axis["dtick"] == 1  # 0 1 2 3 4 5, no 0.5
    assert [a["text"] for a in layout["annotations"]] == ["views", "likes"]  # panel labels


def test_count_axis_never_uses_si_fractions_for_small_counts() -> None:
    assert charts.count_axis(0.0) == {"range": [0, 1], "tickformat": ",d", "dtick": 1}
    assert charts.count_axis(40.0)["tickformat"] == ",d"
    assert charts.count_axis(40.0)["range"][0] == 0
    assert charts.count_axis(2_000_000.0)["tickformat"] == "~s"


def test_empty_chart_says_no_readings_yet_instead_of_default_axes() -> None:
    figure = charts.post_figure(post_series([], []), empty_note="Collectors: 2 ok")
    layout = figure.layout.to_plotly_json()
    assert figure.data == ()
    assert layout["xaxis"]["visible"] is False and layout["yaxis"]["visible"] is False
    text = layout["annotations"][0]["text"]
    assert "No readings yet" in text and "Collectors: 2 ok" in text
    starts = np.array([], dtype="datetime64[s]")
    empty = Series("v", "views", True, 60, starts, starts, {})
    assert "No readings yet" in charts.cumulative_figure(empty).layout.annotations[0].text


def test_cumulative_axis_starts_where_the_data_moves() -> None:
    # A week in hours with growth only in the last day: six empty days must not squash it.
    starts = np.datetime64("2024-05-01T00:00", "s") + np.arange(168) * np.timedelta64(1, "h")
    views = np.zeros(168, dtype=np.int64)
    views[150:] = np.arange(1, 19) * 100
    series = Series("v", "views", True, 60, starts, starts + np.timedelta64(1, "h"), {"x": views})
    x_range = charts.cumulative_figure(series).layout.xaxis.range
    assert x_range is not None
    assert np.datetime64(x_range[0].replace(" ", "T")) >= starts[140]


def test_repost_buckets_widen_so_a_day_of_bars_is_not_a_barcode() -> None:
    window = Window("24h", DAY, DAY + timedelta(hours=24))
    appearances = [
        AppearanceRow(i, "x", f"p{i}", None, None, DAY + timedelta(hours=2, minutes=7 * i))
        for i in range(60)
    ]
    series = repost_series(appearances, "v", window)
    assert 12 <= len(series.starts) <= 96
    assert sum(int(v.sum()) for v in series.values.values()) == 60
    # Asked for explicitly, the size is kept.
    assert repost_series(appearances, "v", window, 5).bucket_minutes == 5


def test_gaps_outside_the_drawn_axis_are_not_listed() -> None:
    starts = np.datetime64("2024-05-01T10:00", "s") + np.arange(4) * np.timedelta64(1, "h")
    gaps = [
        Gap("reddit", "failed", DAY, DAY + timedelta(hours=2), None),  # before the first data
        Gap("x", "failed", DAY + timedelta(hours=11), DAY + timedelta(hours=12), None),
    ]
    visible = charts.visible_gaps(gaps, starts[0], starts[-1] + np.timedelta64(1, "h"))
    assert [g.collector for g in visible] == ["x"]
    assert charts.visible_gaps(gaps, None, None) == []  # an empty chart shades nothing


def test_one_hour_range_buckets_follow_the_reading_cadence(dash_client, dash_sink) -> None:
    # Readings every 15 minutes: 5-minute buckets would draw a staircase, not growth.
    from collectors.base import Observation, PostRef
    from storage.write import VideoInput

    from .conftest import NOW

    dash_sink.add_video(VideoInput(slug="slow-reads", title="Slow", keywords=("k",)))
    dash_sink.record_posts("slow-reads", [PostRef(platform="reddit", platform_post_id="s1")])
    dash_sink.record_observations(
        [
            Observation("reddit", "s1", NOW - timedelta(minutes=15 * i), views=10_000 - 500 * i)
            for i in range(12)
        ]
    )
    body = dash_client.get("/api/videos/slow-reads/series?range=1h").json()
    assert body["bucket_minutes"] == 15
    assert len(body["times"]) == 4
    day = dash_client.get("/api/videos/slow-reads/series?range=24h").json()
    assert day["bucket_minutes"] == 5  # at a day's scale the steps do not show
