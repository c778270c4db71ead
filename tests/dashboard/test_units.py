"""Pure pieces of the dashboard: CSV cells, aggregation limits, gaps, colours, figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from collectors.base import Observation, PostRef
from dashboard import charts, export
from dashboard.errors import BadParameter
from dashboard.gaps import Gap, find_gaps
from dashboard.params import parse_platforms, parse_window
from dashboard.series import PostSeries, post_series
from dashboard.timegrid import AUTO_POINTS, MAX_POINTS, Window, auto_bucket_hours
from storage import read
from storage.read import RunRow
from viralwatch.catalog import dashboard_platforms

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
    # A week stays hourly; two months (the benchmark's "all") draw 6-hour buckets, a year days
    # (issue 7: 1,481 hourly points per trace cost seconds to build and send).
    assert auto_bucket_hours(168) == 1
    assert auto_bucket_hours(720) == 2
    assert auto_bucket_hours(1481) == 6
    assert auto_bucket_hours(24 * 365) == 24
    for span in (1, 401, 2001, 10_000, 100_000, 1_000_000):
        assert span / auto_bucket_hours(span) <= AUTO_POINTS <= MAX_POINTS


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


def test_thousands_of_short_gaps_shade_as_a_bounded_number_of_bands() -> None:
    """A year of flaky runs is thousands of 4-minute outages: one chart shades at most
    MAX_SHADED_GAPS + 1 bands, and every outage lies inside one of them."""
    start = NOW - timedelta(days=60)
    gaps = [
        Gap("reddit" if n % 2 else "x", "failed", at, at + timedelta(minutes=4), None)
        for n in range(1400)
        for at in [start + timedelta(hours=n)]
    ]
    gaps.append(Gap("x", "failed", NOW - timedelta(days=30), NOW - timedelta(days=30), None))
    low, high = np.datetime64(start.replace(tzinfo=None)), np.datetime64(NOW.replace(tzinfo=None))
    bands = charts.visible_gaps(gaps, low, high)
    assert len(bands) <= charts.MAX_SHADED_GAPS + 1
    assert all(any(b.start <= g.start and g.end <= b.end for b in bands) for g in gaps)
    assert bands[0].status.endswith("outages") and bands[0].collector == "2 collectors"
    # A few gaps are each shaded on their own, as before.
    assert charts.visible_gaps(gaps[:3], low, high) == gaps[:3]


def test_platform_colours_are_distinct_and_stable() -> None:
    platforms = dashboard_platforms()
    colours = [platforms.colour(p) for p in platforms.names]
    assert len(set(colours)) == len(colours)
    assert platforms.colour("newplatform") == platforms.colour("newplatform")


def test_post_figure_breaks_lines_across_long_silences() -> None:
    times = np.array(
        ["2024-05-01T00:00", "2024-05-01T01:00", "2024-05-01T02:00", "2024-05-01T12:00"],
        dtype="datetime64[s]",
    )
    values = {m: np.array([1.0, 2.0, 3.0, 4.0]) for m in export.METRICS}
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


def post(key: str, parent: str | None = None, relation: str | None = None, views=None):
    return read.PostRow(
        id=abs(hash(key)) % 10**6, video="v", platform="bluesky", platform_post_id=key,
        url=None, author=key, text=None, published_at=None, first_seen_at=NOW,
        matched_by="", matched_term="", parent_platform="bluesky" if parent else None,
        parent_platform_post_id=parent, relation=relation, is_gone=False, gone_at=None,
        last_error=None, latest_observed_at=None, views=views, likes=None, shares=None,
        comments=None, quotes=None,
    )  # fmt: skip


def test_cascade_ranks_trees_by_posts_and_reshares_together() -> None:
    from dashboard.pages import cascade_tree

    posts = [
        post("quoted", views=900),
        post("q1", "quoted", "quote", 50),
        post("q2", "quoted", "quote", 40),
        post("viral", views=10),
        post("q3", "q1", "quote", 5),
    ]
    edges = [read.ReshareRow(i, "bluesky", f"r{i}", None, NOW) for i in range(3)]
    groups = [
        read.ReshareGroup("bluesky", "viral", 700, edges),
        read.ReshareGroup("bluesky", "q1", 2, edges[:2]),
    ]
    cascade = cascade_tree(posts, groups)
    assert [t.post.platform_post_id for t in cascade.trees] == ["viral", "quoted"]
    viral, quoted = cascade.trees
    assert viral.reshares is groups[0] and viral.children == [] and viral.size == 1
    assert quoted.size == 4  # itself and three quotes; reshares are not posts
    assert [c.post.platform_post_id for c in quoted.children] == ["q1", "q2"]
    assert quoted.children[0].reshares is groups[1]
    assert cascade.relations == {"reshare": 702, "quote": 3}
    assert cascade.edges == 705 and cascade.tree_count == 2


def test_reposts_chart_ticks_whole_posts_only() -> None:
    from dashboard.series import Series

    starts = np.array(["2024-05-01T00:00", "2024-05-01T01:00"], dtype="datetime64[s]")
    ends = starts + np.timedelta64(1, "h")
    few = Series("v", "reposts", False, 1, starts, ends, {"x": np.array([1, 2])})
    assert charts.reposts_figure(few).layout.yaxis.dtick == 1
    many = Series("v", "reposts", False, 1, starts, ends, {"x": np.array([10, 200])})
    assert charts.reposts_figure(many).layout.yaxis.dtick is None


def test_gap_at_the_end_of_the_chart_is_labelled_from_its_right_edge() -> None:
    from dashboard.gaps import Gap
    from dashboard.series import Series

    starts = np.array([f"2024-05-01T{h:02d}:00" for h in range(10)], dtype="datetime64[s]")
    series = Series(
        "v", "views", True, 1, starts, starts + np.timedelta64(1, "h"), {"x": np.arange(10)}
    )
    day = datetime(2024, 5, 1, tzinfo=UTC)
    gaps = [
        Gap("reddit", "rate_limited", day + timedelta(hours=1), day + timedelta(hours=2), None),
        Gap("youtube", "failed", day + timedelta(hours=9), day + timedelta(hours=10), None),
    ]
    shapes = charts.cumulative_figure(series, gaps).layout.shapes
    assert [s.label.textposition for s in shapes] == ["top left", "top right"]


def test_time_axis_labels_are_short_on_every_tick() -> None:
    starts = np.array(["2024-05-01T00:00"], dtype="datetime64[s]")
    from dashboard.series import Series

    series = Series("v", "views", True, 60, starts, starts, {"x": np.array([1])})
    stops = charts.cumulative_figure(series).layout.xaxis.tickformatstops
    assert [s.value for s in stops] == ["%H:%M\n%b %-d", "%b %-d\n%Y"]


def test_sparkline_with_one_hour_shows_a_dot_not_a_flat_line(dash_client, dash_sink) -> None:
    from storage.write import VideoInput

    dash_sink.add_video(VideoInput(slug="new-footage", title="New footage", keywords=("k",)))
    dash_sink.record_posts("new-footage", [PostRef(platform="reddit", platform_post_id="n1")])
    dash_sink.record_observations([Observation("reddit", "n1", NOW, views=10)])
    page = dash_client.get("/").text
    card = page[page.index('id="video-new-footage"') :]
    card = card[: card.index("</article>")]
    assert "<polyline" not in card and 'class="spark-dot"' in card
    assert "collecting… only one hour of data in this range" in card
    dash_sink.add_video(VideoInput(slug="quiet-footage", title="Quiet", keywords=("q",)))
    assert "collecting… no readings in this range yet" in dash_client.get("/").text
