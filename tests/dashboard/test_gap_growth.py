"""Growth after a gap is labelled with the interval it covers, not shown as a bare spike (issue 13).

A Hacker News post read every 5 minutes gains 10 views each time; its collector fails from
10:02 to 11:02, so the reading at 11:02 carries the hour's 130 views in the 11:00 bucket. That
bucket says "growth over 10:02-11:05 UTC (gap)" in the chart's hover, the API and the CSV, and
the gap is shaded.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from collectors.base import Observation, PostRef, RunReport
from dashboard import charts
from dashboard.gap_growth import gap_growth
from dashboard.gaps import Gap, find_gaps
from dashboard.series import counter_series
from dashboard.timegrid import Window
from storage import read
from storage.write import VideoInput

pytestmark = pytest.mark.reliability("growth after a gap: labelled with the interval it covers")

SLUG = "gapped"
T0 = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
FAILED_AT = T0 + timedelta(minutes=62)  # 10:02
BACK_AT = T0 + timedelta(minutes=122)  # 11:02
LABEL = "growth over 10:02-11:05 UTC (gap)"


@pytest.fixture
def gapped(dash_sink, dash_clock):
    """Readings every 5 minutes from 09:00 to 10:00, a failing hour, then one at 11:02."""
    dash_sink.add_video(VideoInput(SLUG, "Gapped", ("gapped",), (), (), None))
    dash_sink.record_posts(SLUG, [PostRef("hackernews", "hn-gap", "https://news.example/1")])
    readings = [T0 + timedelta(minutes=5 * n) for n in range(13)] + [BACK_AT]
    for at in readings:
        views = int((at - T0).total_seconds() // 300) * 10
        dash_sink.record_observations([Observation("hackernews", "hn-gap", at, views=views)])
    for at, status in ((T0, "ok"), (FAILED_AT, "failed"), (BACK_AT, "ok")):
        dash_sink.record_run(RunReport("hackernews", "refresh", at, at, status=status))
    dash_clock.now = T0 + timedelta(hours=3)


def hn_values(series):
    return [int(v) for v in series.values["hackernews"]]


def test_the_bucket_after_a_gap_is_labelled_with_the_interval_it_covers(
    gapped, dash_engine, dash_clock
):
    window = Window("24h", dash_clock.now - timedelta(hours=24), dash_clock.now)
    series = counter_series(dash_engine, SLUG, "views", window, cumulative=False)
    runs = read.runs_between(dash_engine, window.since, window.until)
    gaps = find_gaps(runs, window)
    assert [(g.start, g.end) for g in gaps] == [(FAILED_AT, BACK_AT)]
    (growth,) = gap_growth(series, gaps)
    assert series.starts[growth.index] == datetime(2024, 5, 2, 11, 0)
    assert hn_values(series)[growth.index] == 240 - 120  # the whole hour's growth
    assert (growth.since, growth.until, growth.label) == (
        FAILED_AT,
        BACK_AT.replace(minute=5),
        LABEL,
    )
    figure = charts.cumulative_figure(counter_series(dash_engine, SLUG, "views", window), gaps)
    (trace,) = figure.data
    labelled = [i for i, note in enumerate(trace.customdata) if note]
    assert [trace.customdata[i] for i in labelled] == [f"<br>{LABEL}"]
    assert "%{customdata}" in trace.hovertemplate
    assert [s.name for s in figure.layout.shapes if s.type == "rect"] == ["gap: hackernews failed"]


def test_a_gap_inside_one_bucket_and_a_daemon_gap(gapped, dash_engine, dash_clock):
    window = Window("24h", dash_clock.now - timedelta(hours=24), dash_clock.now)
    series = counter_series(dash_engine, SLUG, "views", window, cumulative=False)
    inside = Gap("hackernews", "failed", BACK_AT - timedelta(minutes=1), BACK_AT, None)
    other = Gap("reddit", "failed", FAILED_AT, BACK_AT, None)
    assert gap_growth(series, [inside, other]) == []  # the bucket spans it; not this platform
    daemon = Gap("daemon", "not_running", FAILED_AT - timedelta(minutes=30), BACK_AT, None)
    (growth,) = gap_growth(series, [daemon])
    assert growth.label == "growth over 09:32-11:05 UTC (gap)"


def test_the_api_and_csv_carry_the_label(gapped, dash_client):
    query = "metric=views&range=24h&cumulative=false"
    api = dash_client.get(f"/api/videos/{SLUG}/series?{query}").json()
    assert api["gap_growth"] == [
        {
            "platform": "hackernews",
            "bucket_start": "2024-05-02T11:00:00Z",
            "since": "2024-05-02T10:02:00Z",
            "until": "2024-05-02T11:05:00Z",
            "label": LABEL,
        }
    ]
    body = dash_client.get(f"/export/videos/{SLUG}/series.csv?{query}").text
    rows = list(csv.DictReader(io.StringIO(body)))
    marked = [(r["bucket_start"], r["value"], r["growth_since"]) for r in rows if r["growth_since"]]
    assert marked == [("2024-05-02T11:00:00Z", "120", "2024-05-02T10:02:00Z")]
