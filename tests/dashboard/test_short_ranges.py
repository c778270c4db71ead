"""Short ranges (up to 24 h) in 5-minute buckets from the 5-minute rollup, checked against the
raw readings written, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from collectors.base import Observation, PostRef
from storage.write import StorageSink, VideoInput
from tests.dashboard.conftest import NOW, DashClock

SLUG = "live-clip"
# Not on a 5-minute boundary, as a real clock rarely is.
LIVE_NOW = NOW + timedelta(minutes=2, seconds=10)


def _readings() -> list[Observation]:
    """A reading every 3 minutes for 90 minutes: YouTube views grow, Reddit hides views."""
    first = LIVE_NOW - timedelta(minutes=90, seconds=43)
    readings = []
    for k in range(30):
        at = first + timedelta(minutes=3 * k)
        readings.append(Observation("youtube", "y1", at, views=1000 + 37 * k * k, likes=k))
        readings.append(Observation("reddit", "r1", at, likes=11 * k, comments=k // 2))
    return readings


@pytest.fixture
def live_clip(dash_sink: StorageSink, dash_clock: DashClock) -> list[Observation]:
    dash_clock.now = LIVE_NOW - timedelta(hours=2)
    dash_sink.add_video(VideoInput(slug=SLUG, title="Live clip", keywords=("live",)))
    dash_sink.record_posts(SLUG, [PostRef("youtube", "y1"), PostRef("reddit", "r1")])
    readings = _readings()
    for i in range(0, len(readings), 2):  # one batch per collector round, as collectors write
        dash_sink.record_observations(readings[i : i + 2])
    dash_clock.now = LIVE_NOW
    return readings


def _total_before(readings: list[Observation], platform: str, metric: str, end: datetime) -> int:
    """The platform's latest reading of `metric` before `end`, from the raw readings."""
    values = [
        getattr(o, metric)
        for o in readings
        if o.platform == platform and o.observed_at < end and getattr(o, metric) is not None
    ]
    return values[-1] if values else 0


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("metric", ["views", "likes"])
def test_one_hour_range_gives_five_minute_points_matching_the_readings(
    dash_client: TestClient, live_clip: list[Observation], metric: str
) -> None:
    body = dash_client.get(f"/api/videos/{SLUG}/series?range=1h&metric={metric}").json()
    assert (body["bucket_minutes"], body["bucket_hours"]) == (5, 5 / 60)
    # 12:32:10 minus an hour, up to the next boundary: 11:35 ... 12:30, the last one filling.
    assert body["bucket_starts"][0] == "2024-05-02T11:35:00Z"
    assert len(body["times"]) == 12 and body["times"][-1] == "2024-05-02T12:32:10Z"
    for platform, values in body["platforms"].items():
        expected = [_total_before(live_clip, platform, metric, _time(t)) for t in body["times"]]
        assert values == expected
    assert body["platforms"]["youtube"][-1] > body["platforms"]["youtube"][0] > 0


def test_growth_last_hour_is_exactly_the_last_sixty_minutes(
    dash_client: TestClient, live_clip: list[Observation]
) -> None:
    body = dash_client.get(f"/api/videos/{SLUG}").json()
    hour_ago = datetime.fromisoformat("2024-05-02T11:35:00+00:00")
    day_ago = LIVE_NOW - timedelta(hours=24)
    views_now = _total_before(live_clip, "youtube", "views", LIVE_NOW)
    assert body["growth_views_1h"] == views_now - _total_before(
        live_clip, "youtube", "views", hour_ago
    )
    # The first reading (a day ago there was none) is a baseline, not growth (issue 11).
    assert _total_before(live_clip, "youtube", "views", day_ago) == 0
    first_views = next(o.views for o in live_clip if o.platform == "youtube" and o.views)
    assert body["growth_views_24h"] == views_now - first_views


def test_day_range_has_288_points_and_longer_ranges_stay_hourly(
    dash_client: TestClient, live_clip: list[Observation]
) -> None:
    day = dash_client.get(f"/api/videos/{SLUG}/series?range=24h").json()
    assert (day["bucket_minutes"], len(day["times"])) == (5, 288)
    assert day["platforms"]["youtube"][-1] == _total_before(live_clip, "youtube", "views", LIVE_NOW)
    week = dash_client.get(f"/api/videos/{SLUG}/series?range=7d").json()
    assert (week["bucket_minutes"], week["bucket_hours"], len(week["times"])) == (60, 1, 168)
    assert week["platforms"]["youtube"][-1] == day["platforms"]["youtube"][-1]


def test_series_bucket_accepts_minutes_and_refuses_too_many_points(
    dash_client: TestClient, live_clip: list[Observation]
) -> None:
    quarter = dash_client.get(f"/api/videos/{SLUG}/series?range=1h&bucket=15m").json()
    assert (quarter["bucket_minutes"], len(quarter["times"])) == (15, 4)
    assert quarter["platforms"]["youtube"][-1] == _total_before(
        live_clip, "youtube", "views", LIVE_NOW
    )
    everything = dash_client.get(f"/api/videos/{SLUG}/series?bucket=5m").json()
    assert everything["bucket_minutes"] == 5
    assert everything["platforms"]["youtube"][-1] == quarter["platforms"]["youtube"][-1]
    refused = dash_client.get(f"/api/videos/{SLUG}/series?range=7d&bucket=5m")
    assert refused.status_code == 400 and "bucket" in refused.json()["detail"]
    unknown = dash_client.get(f"/api/videos/{SLUG}/series?bucket=7m")
    assert unknown.status_code == 400 and "5m" in unknown.json()["detail"]
    described = dash_client.get("/openapi.json").json()
    parameters = described["paths"]["/api/videos/{slug}/series"]["get"]["parameters"]
    bucket = next(p for p in parameters if p["name"] == "bucket")
    assert "5m" in bucket["description"] and "5 minutes" in bucket["description"]
