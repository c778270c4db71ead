"""The gone/miss lifecycle in storage (issue 8): a property over any order of misses, readings
and rediscoveries, on a real database."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.base import Observation, PostError, PostRef
from storage import read
from storage.post_events import events_of
from storage.write import StorageSink

STEPS = st.lists(st.sampled_from(["miss", "read", "found"]), max_size=12)
_posts = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS, limit=st.integers(1, 4))
def test_gone_exactly_after_limit_misses_in_a_row_and_back_when_it_answers(
    engine, clock, tracked_sim_video, steps, limit
):
    sink = StorageSink(engine, clock, misses_before_gone=limit)
    key = f"p{next(_posts)}"
    sink.record_posts(tracked_sim_video.slug, [PostRef("hackernews", key)])
    in_a_row, gone, expected_events = 0, False, []
    for step in steps:
        now = clock.advance(minutes=10)
        if step == "miss":
            sink.record_errors([PostError("hackernews", key, now, "not in the answer", True)])
            in_a_row = 0 if gone else in_a_row + 1
            if not gone and in_a_row >= limit:
                gone, in_a_row = True, 0
                expected_events.append("gone")
        else:
            if step == "read":
                sink.record_observations([Observation("hackernews", key, now, likes=1)])
            else:
                sink.record_posts(tracked_sim_video.slug, [PostRef("hackernews", key)])
            if gone:
                expected_events.append("returned")
            # A reading breaks a run of misses; finding the post again says nothing of it.
            in_a_row = 0 if step == "read" or gone else in_a_row
            gone = False
        assert stored(engine, key).is_gone is gone, (steps, limit)
    assert [e.kind for e in events_of(engine, stored(engine, key).id)] == expected_events


def stored(engine, key: str) -> read.PostRow:
    (post,) = [
        p
        for p in read.iter_posts(engine, read.PostFilter(platform="hackernews"))
        if p.platform_post_id == key
    ]
    return post
