"""Measures on the dashboard (issue 11): growth never counts a first reading, sort=growth,
the leaderboard, the video and post measures, their JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from collectors.base import Observation, PostRef
from storage.write import StorageSink, VideoInput

from .conftest import MAIN_SLUG, NOW, DashClock, Story

SLUG = "dam-burst"


def seed_old_post_found_late(sink: StorageSink, clock: DashClock) -> None:
    """One post read for hours, growing 100 views in the last hour; an old post with a
    million views first read ten minutes ago (its history is a baseline, not growth)."""
    clock.now = NOW - timedelta(hours=3)
    sink.add_video(VideoInput(slug=SLUG, title="Dam burst", keywords=("dam",)))
    refs = [
        PostRef(platform="youtube", platform_post_id=pid, published_at=NOW - timedelta(days=d))
        for pid, d in (("steady", 1), ("old", 30))
    ]
    sink.record_posts(SLUG, refs)
    readings = [
        Observation("youtube", "steady", NOW - timedelta(minutes=m), views=v)
        for m, v in ((150, 1000), (90, 1100), (65, 1200), (5, 1300))
    ]
    readings.append(Observation("youtube", "old", NOW - timedelta(minutes=10), views=1_000_000))
    sink.record_observations(readings)
    clock.now = NOW


def test_views_last_hour_leaves_out_a_first_reading(
    dash_client: TestClient, dash_sink: StorageSink, dash_clock: DashClock
) -> None:
    # Issue 11: "views last hour" counted an old post's first reading (all its history).
    seed_old_post_found_late(dash_sink, dash_clock)
    video = dash_client.get(f"/api/videos/{SLUG}").json()
    assert video["growth_views_1h"] == 100
    assert video["growth_views_24h"] == 300


def test_posts_table_sorts_by_growth_in_every_rendering(
    dash_client: TestClient, dash_sink: StorageSink, dash_clock: DashClock
) -> None:
    seed_old_post_found_late(dash_sink, dash_clock)
    api = dash_client.get(f"/api/videos/{SLUG}/posts?sort=growth&range=24h").json()
    # The old post's million views are its baseline: it grew 0, the steady one 300.
    assert [(p["platform_post_id"], p["growth_views"]) for p in api["posts"]] == [
        ("steady", 300),
        ("old", 0),
    ]
    ascending = dash_client.get(f"/api/videos/{SLUG}/posts?sort=growth&order=asc&range=24h")
    assert [p["platform_post_id"] for p in ascending.json()["posts"]] == ["old", "steady"]
    page = dash_client.get(f"/videos/{SLUG}?sort=growth&range=24h")
    assert page.status_code == 200
    assert page.text.index("/posts/") > 0
    table = dash_client.get(f"/export/videos/{SLUG}/posts.csv?sort=growth&range=24h").text
    assert [row["growth_views"] for row in csv.DictReader(io.StringIO(table))] == ["300", "0"]


def test_leaderboard_ranks_posts_by_views_per_hour(
    dash_client: TestClient, dash_story: Story
) -> None:
    board = dash_client.get("/api/growing").json()
    rates = [p["views_per_hour"] for p in board["posts"]]
    assert rates == sorted(rates, reverse=True) and rates[0] > 0
    assert "first reading" in board["method"]
    top = board["posts"][0]
    assert top["growth"] == pytest.approx(top["views_per_hour"] * _hours(top), rel=1e-6)
    ascending = dash_client.get("/api/growing?order=asc").json()["posts"]
    assert [p["post_id"] for p in ascending] == [p["post_id"] for p in board["posts"]][::-1]
    assert dash_client.get("/api/growing?sort=nonsense").status_code == 400
    rows = list(csv.DictReader(io.StringIO(dash_client.get("/export/growing.csv").text)))
    assert [int(r["post_id"]) for r in rows] == [p["post_id"] for p in board["posts"]]
    page = dash_client.get("/growing")
    assert page.status_code == 200 and "Growing now" in page.text


def _hours(row: dict[str, str]) -> float:
    latest = datetime.fromisoformat(row["latest_at"].replace("Z", "+00:00"))
    base = datetime.fromisoformat(row["baseline_at"].replace("Z", "+00:00"))
    return (latest - base).total_seconds() / 3600


def test_video_measures_json_matches_its_csvs(dash_client: TestClient, dash_story: Story) -> None:
    body = dash_client.get(f"/api/videos/{MAIN_SLUG}/measures").json()
    assert body["counter"] == "views" and body["velocity_now"]["all"] > 0
    velocity = list(
        csv.DictReader(
            io.StringIO(dash_client.get(f"/export/videos/{MAIN_SLUG}/velocity.csv").text)
        )
    )
    assert len(velocity) == len(body["velocity"])
    for row, point in zip(velocity, body["velocity"], strict=True):
        assert row["platform"] == point["platform"]
        expected = point["per_hour"]
        assert (row["views_per_hour"] == "") == (expected is None)
        if expected is not None:
            assert float(row["views_per_hour"]) == pytest.approx(expected)
    assert body["pickups"][0]["platform"] == "telegram" and body["pickups"][0]["order"] == 1
    youtube = next(p for p in body["pickups"] if p["platform"] == "youtube")
    assert youtube["delay_hours"] == pytest.approx(2.0)
    shares = [s for s in body["shares"] if s["total_per_hour"]]
    by_hour: dict[str, float] = {}
    for share in shares:
        by_hour[share["bucket_start"]] = by_hour.get(share["bucket_start"], 0) + share["share"]
    assert all(total == pytest.approx(1.0) for total in by_hour.values())
    assert body["forecasts"] or body["no_forecast"]
    for name in ("bursts", "forecast", "spread", "pickup"):
        response = dash_client.get(f"/export/videos/{MAIN_SLUG}/{name}.csv")
        assert response.status_code == 200 and response.text.count("\n") >= 1


def test_video_velocity_leaves_out_first_readings(
    dash_client: TestClient, dash_sink: StorageSink, dash_clock: DashClock
) -> None:
    seed_old_post_found_late(dash_sink, dash_clock)
    body = dash_client.get(f"/api/videos/{SLUG}/measures?range=24h").json()
    # 300 views over 2.4 h of readings; the old post's million never shows as growth.
    measured = [v for v in body["velocity"] if v["per_hour"] is not None]
    assert max(v["per_hour"] for v in measured) < 1000
    total = sum(v["per_hour"] * v["measured_hours"] for v in measured)
    assert total == pytest.approx(300)


def test_post_measures_show_velocity_and_baseline(
    dash_client: TestClient, dash_story: Story
) -> None:
    post_id = dash_story.posts["x-r11"]
    body = dash_client.get(f"/api/posts/{post_id}/measures").json()
    assert body["counter"] == "views" and body["velocity_per_hour"] > 0
    over = body["overperformance"]
    # The youngest X repost: 12 older X posts were read at its age.
    assert over["posts"] >= 5 and over["ratio"] == pytest.approx(over["value"] / over["baseline"])
    page = dash_client.get(f"/posts/{post_id}").text
    assert "Overperformance" in page and "median views of" in page
    lonely = dash_client.get(f"/api/posts/{dash_story.posts['tg-77']}/measures").json()
    assert lonely["overperformance"]["ratio"] is None
    assert "too few comparable posts" in lonely["overperformance"]["note"]


def test_openapi_documents_each_measure(dash_client: TestClient) -> None:
    schema = dash_client.get("/openapi.json").json()
    for path in ("/api/growing", "/api/videos/{slug}/measures", "/api/posts/{post_id}/measures"):
        assert path in schema["paths"]
    models = schema["components"]["schemas"]
    assert "first reading" in models["LeaderOut"]["properties"]["views_per_hour"]["description"]
    assert "Median" in models["OverperformanceOut"]["properties"]["baseline"]["description"]
    assert models["VideoMeasuresOut"]["properties"]["bursts"]["description"]


LONG_SLUG = "slow-burn"


def test_long_range_velocity_draws_wide_buckets_that_keep_every_view(
    dash_client: TestClient, dash_sink: StorageSink, dash_clock: DashClock
) -> None:
    # Issue 7: two months of hourly bars (1,481 a platform) cost seconds to build; the chart,
    # its JSON and its CSV draw 6-hour buckets, each saying how wide it is, and lose no growth.
    dash_clock.now = NOW - timedelta(days=62)
    dash_sink.add_video(VideoInput(slug=LONG_SLUG, title="Slow burn", keywords=("burn",)))
    dash_sink.record_posts(LONG_SLUG, [PostRef(platform="youtube", platform_post_id="long")])
    readings = [
        Observation("youtube", "long", NOW - timedelta(hours=h), views=100_000 - 60 * h)
        for h in range(62 * 24, 0, -2)
    ]
    dash_sink.record_observations(readings)
    dash_clock.now = NOW
    body = dash_client.get(f"/api/videos/{LONG_SLUG}/measures?range=all").json()
    measured = [v for v in body["velocity"] if v["per_hour"] is not None]
    assert {v["bucket_hours"] for v in body["velocity"]} == {6}
    assert 200 < len(body["velocity"]) <= 400
    first, last = readings[0].views or 0, readings[-1].views or 0
    total = sum(v["per_hour"] * v["measured_hours"] for v in measured)
    assert total == pytest.approx(last - first)
    # The first bucket starts at the first reading's clock hour, the last ends at the latest.
    assert all(v["per_hour"] == pytest.approx(60) for v in measured[1:-1])
    text = dash_client.get(f"/export/videos/{LONG_SLUG}/velocity.csv?range=all").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [float(r["views_per_hour"]) for r in rows if r["views_per_hour"]] == pytest.approx(
        [v["per_hour"] for v in measured]
    )
    assert {r["bucket_hours"] for r in rows} == {"6"}
    page = dash_client.get(f"/videos/{LONG_SLUG}?range=all").text
    assert "Velocity, views\\u002fh (6 h buckets)" in page  # JSON in a script escapes "/"
    assert "Share of views growth per 6 h bucket" in page
