"""Pure pieces of the dashboard: CSV cells, aggregation limits, gaps, colours, figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from collectors.base import Observation, PostRef
from dashboard import charts, export
from dashboard.series import (
    MAX_POINTS,
    BadParameter,
    PostSeries,
    Window,
    auto_bucket_hours,
    find_gaps,
    parse_platforms,
    parse_window,
    post_series,
)
from storage import read
from storage.read import RunRow

from .conftest import MAIN_SLUG, NOW


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@x", "'@x"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("plain", "plain"),
        (-5, "-5"),
        (None, ""),
        (True, "true"),
        (float("nan"), ""),
        (datetime(2024, 5, 1, 10, 0, tzinfo=UTC), "2024-05-01T10:00:00Z"),
    ],
)
def test_csv_cells_are_spreadsheet_safe(value, expected) -> None:
    assert export.cell(value) == expected


def test_csv_streams_in_chunks_with_a_header() -> None:
    chunks = list(export.stream_csv(("a", "b"), ((i, "=x") for i in range(2500))))
    assert len(chunks) == 3
    text = "".join(chunks)
    assert text.startswith("a,b\r\n0,'=x\r\n")
    assert text.count("\r\n") == 2501


def test_auto_bucket_keeps_traces_under_the_point_limit() -> None:
    assert auto_bucket_hours(720) == 1
    assert auto_bucket_hours(24 * 365) == 6
    for span in (1, 2001, 10_000, 100_000, 1_000_000):
        assert span / auto_bucket_hours(span) <= MAX_POINTS


def test_parse_window_and_platforms() -> None:
    window = parse_window("custom", "2024-05-01T10:00", "2024-05-01T12:00Z", NOW)
    assert window.since == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_window("24h", None, None, NOW).since == NOW - timedelta(hours=24)
    with pytest.raises(BadParameter, match="start must be before end"):
        parse_window("custom", "2024-05-02T00:00", "2024-05-01T00:00", NOW)
    assert parse_platforms(["reddit,x", "reddit"]) == ("reddit", "x")
    with pytest.raises(BadParameter):
        parse_platforms(["<script>"])


def run(collector: str, hours_ago: float, status: str) -> RunRow:
    return RunRow(
        collector, "refresh", NOW - timedelta(hours=hours_ago), None, status, 0, 0, 0, None, None
    )


def test_gaps_run_from_first_failure_to_next_success() -> None:
    runs = [
        run("reddit", 10, "ok"),
        run("reddit", 8, "failed"),
        run("reddit", 7, "rate_limited"),
        run("reddit", 5, "ok"),
        run("x", 2, "auth_failed"),
        run("mastodon", 1, "disabled"),
    ]
    gaps = find_gaps(runs, Window("all", None, NOW))
    assert [(g.collector, g.status, g.start, g.end) for g in gaps] == [
        ("reddit", "failed", NOW - timedelta(hours=8), NOW - timedelta(hours=5)),
        ("x", "auth_failed", NOW - timedelta(hours=2), NOW),
    ]
    clipped = find_gaps(runs, Window("1h", NOW - timedelta(hours=1), NOW), ["x"])
    assert [(g.start, g.end) for g in clipped] == [(NOW - timedelta(hours=1), NOW)]


def test_platform_colours_are_distinct_and_stable() -> None:
    colours = [charts.platform_color(p) for p in charts.PLATFORM_COLORS]
    assert len(set(colours)) == len(colours)
    assert charts.platform_color("newplatform") == charts.platform_color("newplatform")


def test_post_figure_breaks_lines_across_long_silences() -> None:
    times = np.array(
        ["2024-05-01T00:00", "2024-05-01T01:00", "2024-05-01T02:00", "2024-05-01T12:00"],
        dtype="datetime64[s]",
    )
    values = {m: np.array([1.0, 2.0, 3.0, 4.0]) for m in export.METRICS_ORDER}
    values["quotes"] = np.full(4, np.nan)
    figure = charts.post_figure(PostSeries(1, times, values))
    assert [t.meta for t in figure.data] == ["views", "likes", "shares", "comments"]
    assert np.isnan(figure.data[0].y[3])  # the inserted break
    assert len(figure.data[0].x) == 5


def test_long_post_history_is_thinned_to_the_point_limit(dash_sink, dash_engine) -> None:
    from storage.write import VideoInput

    dash_sink.add_video(VideoInput(slug=MAIN_SLUG, title="t", keywords=("k",)))
    dash_sink.record_posts(MAIN_SLUG, [PostRef(platform="reddit", platform_post_id="p")])
    start = NOW - timedelta(days=30)
    dash_sink.record_observations(
        [
            Observation("reddit", "p", start + timedelta(minutes=10 * i), views=i)
            for i in range(4300)
        ]
    )
    post = read.find_post(dash_engine, "reddit", "p")
    assert post is not None
    series = post_series(dash_engine, post.id, Window("all", None, NOW))
    assert len(series.times) <= MAX_POINTS
    assert series.values["views"][0] == 0 and series.values["views"][-1] == 4299
