"""Posts shared by several tracked videos (issue 9): each video counts them, on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from collectors.base import Observation, PostRef
from storage import read
from storage.models import Observation as ObservationRow
from storage.models import Post, PostVideo
from storage.write import StorageSink, VideoInput
from tests.storage.growth_check import violations


@pytest.fixture
def two_videos(sink: StorageSink) -> tuple[str, str]:
    sink.add_video(VideoInput("bridge", "Bridge collapse", ("bridge collapse",)))
    sink.add_video(VideoInput("river", "River rescue", ("river rescue",)))
    return "bridge", "river"


def _views(sink: StorageSink, video: str) -> int:
    return sum(r.views for r in read.rollup_deltas(sink.engine, video))


def test_a_post_found_for_a_second_video_is_linked_and_counted_by_both(sink, two_videos, clock):
    bridge, river = two_videos
    start = clock()
    shared = PostRef("mastodon", "1", matched_by="keyword:bridge collapse")
    assert sink.record_posts(bridge, [shared, PostRef("mastodon", "2")]) == 2
    sink.record_observations(
        [
            Observation("mastodon", "1", clock(), views=100),
            Observation("mastodon", "2", clock(), views=7),
        ]
    )
    later = clock.advance(minutes=21)
    sink.record_observations([Observation("mastodon", "1", later, views=150)])
    # The other video's discovery finds the same post: a link, not nothing (and not a copy).
    found = PostRef("mastodon", "1", matched_by="url:https://example.org/river")
    assert sink.record_posts(river, [found]) == 1
    assert sink.record_posts(river, [found]) == 0
    with sink.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Post)).scalar() == 2
    assert (_views(sink, bridge), _views(sink, river)) == (157, 150)
    # The growth it brings lands where it happened, not all at the moment it was linked.
    river_buckets = {
        r.bucket_start: r.views for r in read.rollup_deltas(sink.engine, river, bucket_minutes=5)
    }
    assert river_buckets == {start: 100, later.replace(minute=20): 50}
    # Readings from now on grow both.
    sink.record_observations([Observation("mastodon", "1", clock.advance(hours=1), views=200)])
    assert (_views(sink, bridge), _views(sink, river)) == (207, 200)
    assert violations(sink.engine, bridge) == [] and violations(sink.engine, river) == []
    totals = {(t.video, t.platform): (t.posts, t.views) for t in read.platform_totals(sink.engine)}
    assert totals == {("bridge", "mastodon"): (2, 207), ("river", "mastodon"): (1, 200)}
    rows, count = read.list_posts(sink.engine, river)
    assert count == 1 and (rows[0].video, rows[0].matched_by, rows[0].matched_term) == (
        "river",
        "url",
        "https://example.org/river",
    )
    exported = {
        (p.video, p.matched_by, p.matched_term)
        for p in read.iter_posts(sink.engine, read.PostFilter())
        if p.platform_post_id == "1"
    }
    assert exported == {
        ("bridge", "keyword", "bridge collapse"),
        ("river", "url", "https://example.org/river"),
    }


def test_cascade_children_join_every_video_of_their_parent(sink, two_videos):
    bridge, river = two_videos
    sink.record_posts(bridge, [PostRef("bluesky", "parent")])
    sink.record_posts(river, [PostRef("bluesky", "parent")])
    child = PostRef(
        "bluesky",
        "child",
        matched_by="cascade",
        parent_platform="bluesky",
        parent_platform_post_id="parent",
        relation="quote",
    )
    assert sink.record_posts(None, [child]) == 2
    for video in two_videos:
        rows, _ = read.list_posts(sink.engine, video)
        assert {r.platform_post_id for r in rows} == {"parent", "child"}


def test_removing_a_video_keeps_the_posts_another_video_shares(sink, two_videos, clock):
    bridge, river = two_videos
    sink.record_posts(bridge, [PostRef("reddit", "shared"), PostRef("reddit", "own")])
    sink.record_posts(river, [PostRef("reddit", "shared")])
    sink.record_observations(
        [
            Observation("reddit", "shared", clock(), likes=5),
            Observation("reddit", "own", clock(), likes=3),
        ]
    )
    sink.remove_video(bridge)
    with sink.engine.connect() as conn:
        posts = set(conn.execute(select(Post.platform_post_id)).scalars())
        links = conn.execute(select(func.count()).select_from(PostVideo)).scalar()
        readings = conn.execute(select(func.count()).select_from(ObservationRow)).scalar()
    assert (posts, links, readings) == ({"shared"}, 1, 1)
    assert sum(r.likes for r in read.rollup_deltas(sink.engine, river)) == 5
    assert violations(sink.engine, river) == []


def test_a_post_is_refreshed_once_while_any_of_its_videos_is_collected(sink, two_videos, clock):
    bridge, river = two_videos
    sink.record_posts(bridge, [PostRef("reddit", "shared")])
    sink.record_posts(river, [PostRef("reddit", "shared")])
    sink.set_video_paused(bridge, True)
    due = sink.claim_refresh("reddit", 10)
    assert [p.platform_post_id for p in due] == ["shared"]
    sink.release_refresh(due)
    sink.set_video_paused(river, True)
    assert sink.claim_refresh("reddit", 10) == []
