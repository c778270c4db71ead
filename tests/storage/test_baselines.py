"""First readings in the rollups (migration 0060): a post's first reading of a counter is its
baseline, summed into `<counter>_baseline`, so `delta - baseline` is measured growth."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select

from collectors.base import Observation, PostRef
from storage.growth import PostState, apply_reading
from storage.models import TrackedVideo, Video5Min, VideoHourly
from storage.write import StorageSink, VideoInput
from tests.conftest import FakeClock


def test_a_first_reading_is_all_baseline_and_a_later_one_none() -> None:
    state = PostState(None, (None,) * 5, None)
    first = apply_reading(state, 1, (100, None, 5, None, None))
    assert first.deltas == (100, 0, 5, 0, 0) and first.baselines == (100, 0, 5, 0, 0)
    # Likes appear only now: that counter's first reading is a baseline, views grew by 20.
    later = apply_reading(state, 2, (120, 7, 5, None, None))
    assert later.deltas == (20, 7, 0, 0, 0) and later.baselines == (0, 7, 0, 0, 0)
    # A recount down is growth (negative), never a baseline; unchanged readings add nothing.
    down = apply_reading(state, 3, (90, 7, 5, None, None))
    assert down.deltas == (-30, 0, 0, 0, 0) and down.baselines == (0,) * 5
    assert apply_reading(state, 4, (90, 7, 5, None, None)).baselines == (0,) * 5


def test_rollup_growth_less_baselines_is_latest_less_first(
    engine: Engine, sink: StorageSink, clock: FakeClock
) -> None:
    sink.add_video(VideoInput("clip", "Clip"))
    sink.record_posts("clip", [PostRef("youtube", f"v{i}") for i in range(3)])
    start = clock()
    for step in range(6):
        at = start + timedelta(minutes=25 * step)
        # Post i is first read at step i with 1000 * (i + 1) views, then gains 10 a step.
        sink.record_observations(
            [
                Observation("youtube", f"v{i}", at, views=1000 * (i + 1) + 10 * (step - i))
                for i in range(3)
                if step >= i
            ]
        )
    for table in (VideoHourly, Video5Min):
        with engine.connect() as conn:
            delta, baseline = conn.execute(
                select(func.sum(table.views_delta), func.sum(table.views_baseline))
            ).one()
        assert baseline == 1000 + 2000 + 3000
        assert delta - baseline == 10 * (5 + 4 + 3)


def test_a_post_linked_to_a_second_video_brings_its_first_reading_as_baseline(
    engine: Engine, sink: StorageSink, clock: FakeClock
) -> None:
    sink.add_video(VideoInput("clip", "Clip"))
    sink.add_video(VideoInput("other", "Other"))
    sink.record_posts("clip", [PostRef("youtube", "v1", matched_by="keyword:clip")])
    start = clock()
    for step, views in enumerate((1000, 1040, 1100)):
        at = start + timedelta(minutes=25 * step)
        sink.record_observations([Observation("youtube", "v1", at, views=views, likes=3)])
    # Found again for the second video: its history is replayed into that video's rollups.
    sink.record_posts("other", [PostRef("youtube", "v1", matched_by="keyword:other")])
    for slug in ("clip", "other"):
        for table in (VideoHourly, Video5Min):
            query = select(
                func.sum(table.views_delta),
                func.sum(table.views_baseline),
                func.sum(table.likes_delta),
                func.sum(table.likes_baseline),
            ).where(table.video_id == _video_id(engine, slug))
            with engine.connect() as conn:
                views, views_baseline, likes, likes_baseline = conn.execute(query).one()
            # The first reading is a baseline in both videos, never growth: 100 views grew.
            assert (views, views_baseline) == (1100, 1000), (slug, table)
            assert (likes, likes_baseline) == (3, 3), (slug, table)


def _video_id(engine: Engine, slug: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(TrackedVideo.id).where(TrackedVideo.slug == slug)).scalar_one()
        )
