"""Video measures are reused within a minute only while no new data arrived (issue 7)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from collectors.base import Observation, PostRef
from dashboard.measures_cache import MeasuresCache
from dashboard.params import View, parse_window
from storage.write import StorageSink, VideoInput

from .conftest import NOW, DashClock

SLUG = "cached"


def _seed(sink: StorageSink, clock: DashClock) -> None:
    clock.now = NOW - timedelta(hours=3)
    sink.add_video(VideoInput(slug=SLUG, title="Cached", keywords=("cached",)))
    sink.record_posts(SLUG, [PostRef(platform="youtube", platform_post_id="a")])
    sink.record_observations(
        [
            Observation("youtube", "a", NOW - timedelta(minutes=m), views=1000 - 5 * m)
            for m in range(180, 0, -10)
        ]
    )
    clock.now = NOW


def _measures(cache: MeasuresCache, engine: Engine, clock: DashClock, platforms=()):  # type: ignore[no-untyped-def]
    view = View(parse_window("all", None, None, clock()), tuple(platforms))
    return cache.video_measures(engine, SLUG, view.window, view.platforms, clock())


def test_a_repeated_request_reuses_measures_until_a_reading_arrives(
    dash_engine: Engine, dash_sink: StorageSink, dash_clock: DashClock
) -> None:
    _seed(dash_sink, dash_clock)
    cache = MeasuresCache()
    first = _measures(cache, dash_engine, dash_clock)
    dash_clock.now = NOW + timedelta(seconds=20)
    assert _measures(cache, dash_engine, dash_clock) is first  # same minute, nothing new
    # A new reading (growth), then an unchanged one (a confirmation), each invalidate it.
    dash_sink.record_observations([Observation("youtube", "a", dash_clock.now, views=2000)])
    second = _measures(cache, dash_engine, dash_clock)
    assert second is not first and second.velocity_now["all"] != first.velocity_now["all"]
    dash_clock.now = NOW + timedelta(seconds=30)
    dash_sink.record_observations([Observation("youtube", "a", dash_clock.now, views=2000)])
    assert _measures(cache, dash_engine, dash_clock) is not second


def test_a_new_post_or_another_minute_or_filter_computes_again(
    dash_engine: Engine, dash_sink: StorageSink, dash_clock: DashClock
) -> None:
    _seed(dash_sink, dash_clock)
    cache = MeasuresCache()
    first = _measures(cache, dash_engine, dash_clock)
    # A post linked without readings yet changes the pickups, not the rollups.
    dash_sink.record_posts(SLUG, [PostRef(platform="bluesky", platform_post_id="b")])
    linked = _measures(cache, dash_engine, dash_clock)
    assert linked is not first and {p.platform for p in linked.pickups} == {"youtube", "bluesky"}
    assert _measures(cache, dash_engine, dash_clock, ["youtube"]) is not linked
    dash_clock.now = NOW + timedelta(minutes=1)
    assert _measures(cache, dash_engine, dash_clock) is not linked
