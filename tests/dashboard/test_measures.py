"""Measures on the dashboard (issue 11): growth never counts a first reading, sort=growth,
the leaderboard, the video and post measures, their JSON and CSV."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from collectors.base import Observation, PostRef
from storage.write import StorageSink, VideoInput

from .conftest import NOW, DashClock

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
