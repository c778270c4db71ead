"""Property: whatever the interleaving of writers (threads, separate processes), and however
readings arrive (out of order, repeated, unchanged, counters going down), the invariant of
storage/growth.py holds after every batch and no reading is lost or duplicated (issue 7)."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collectors.base import PostRef
from storage.write import StorageSink, VideoInput
from tests.helpers import sized
from tests.storage.growth_check import Reading, lost_or_duplicated, violations, write_batches

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POSTS = (("youtube", "a"), ("youtube", "b"), ("reddit", "c"))
# A few counter states, so readings repeat, stay unchanged, go down, hide a counter.
STATES = ((10, 1), (10, 1), (12, None), (8, 1), (None, None), (15, 2), (15, 3))
WRITERS = 3


@st.composite
def workloads(draw: Any) -> list[list[list[tuple[int, int, int]]]]:
    """Per writer, batches of (post index, minute, state index); one state per (post, minute),
    so a repeated reading is a retry of the same reading."""
    moments = draw(
        st.dictionaries(
            st.tuples(st.integers(0, len(POSTS) - 1), st.integers(0, 30)),
            st.integers(0, len(STATES) - 1),
            min_size=1,
            max_size=25,
        )
    )
    keys = sorted(moments)
    picks = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=40))
    per_writer: list[list[tuple[int, int, int]]] = [[] for _ in range(WRITERS)]
    for pick in picks:
        per_writer[draw(st.integers(0, WRITERS - 1))].append((*pick, moments[pick]))
    workload = []
    for readings in per_writer:
        batches, rest = [], list(readings)
        while rest:
            size = draw(st.integers(1, 4))
            batches.append(rest[:size])
            rest = rest[size:]
        workload.append(batches)
    return workload


def _prepare(sink: StorageSink) -> tuple[str, dict[int, tuple[str, str]]]:
    video = f"v{uuid.uuid4().hex[:8]}"
    sink.add_video(VideoInput(video, "The clip"))
    keys = {i: (platform, f"{video}-{key}") for i, (platform, key) in enumerate(POSTS)}
    sink.record_posts(video, [PostRef(*key) for key in keys.values()])
    return video, keys


def _readings(
    workload: list[list[list[tuple[int, int, int]]]], keys: dict[int, tuple[str, str]]
) -> list[list[list[Reading]]]:
    def reading(post: int, minute: int, state: int) -> Reading:
        views, likes = STATES[state]
        return (*keys[post], T0 + timedelta(minutes=minute), (views, likes, None, None, None))

    return [[[reading(*r) for r in batch] for batch in batches] for batches in workload]


def _check_final(sink: StorageSink, video: str, writers: list[list[list[Reading]]]) -> None:
    assert violations(sink.engine, video) == []
    fed = [r for batches in writers for batch in batches for r in batch]
    assert lost_or_duplicated(sink.engine, video, fed) == []


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(workload=workloads())
@example(workload=[[[(2, 0, 0), (2, 1, 1), (2, 2, 2)]], [], []])  # see the processes' test
def test_growth_invariant_holds_for_writer_threads(
    db_url: str, sink: StorageSink, workload: list[Any]
) -> None:
    video, keys = _prepare(sink)
    writers = _readings(workload, keys)
    problems: list[str] = []
    start = threading.Barrier(WRITERS)

    def run(batches: list[list[Reading]]) -> None:
        start.wait()
        try:
            problems.extend(write_batches(db_url, video, batches))
        except Exception as err:  # a writer failing is a violation too
            problems.append(repr(err))

    threads = [threading.Thread(target=run, args=(b,)) for b in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert problems == []
    _check_final(sink, video, writers)


@pytest.fixture(scope="module")
def processes() -> Iterator[Any]:
    with multiprocessing.get_context("spawn").Pool(WRITERS) as pool:
        yield pool


@pytest.mark.slow
@settings(
    max_examples=sized(2, 5),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(workload=workloads())
# Found on SQLite: one batch read reddit's post at 12:00, unchanged at 12:01 (a confirmation of
# the 12:00 row) and changed at 12:02; the new row dropped the batch's pending confirmation, so
# the 12:01 reading was lost.
@example(workload=[[[(2, 0, 0), (2, 1, 1), (2, 2, 2)]], [], []])
def test_growth_invariant_holds_for_writer_processes(
    db_url: str, sink: StorageSink, processes: Any, workload: list[Any]
) -> None:
    video, keys = _prepare(sink)
    writers = _readings(workload, keys)
    results = processes.starmap(write_batches, [(db_url, video, b) for b in writers])
    assert [p for problems in results for p in problems] == []
    _check_final(sink, video, writers)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    workload=workloads(),
    shared=st.lists(st.lists(st.integers(0, len(POSTS) - 1), min_size=1, max_size=3), max_size=4),
)
def test_growth_invariant_holds_per_video_for_posts_shared_by_two_videos(
    db_url: str, sink: StorageSink, workload: list[Any], shared: list[list[int]]
) -> None:
    # Issue 9: a second video finds some posts (again and again, from two discoveries at once)
    # while writers store readings; each video's rollups must still sum to its linked posts'
    # latest counters (a post linked twice at once must not bring its growth twice).
    video, keys = _prepare(sink)
    other = f"{video}-other"
    sink.add_video(VideoInput(other, "The same clip, reuploaded"))
    writers = _readings(workload, keys)
    problems: list[str] = []
    start = threading.Barrier(WRITERS + 2)

    def run(batches: list[list[Reading]]) -> None:
        start.wait()
        try:
            problems.extend(write_batches(db_url, video, batches))
        except Exception as err:  # a writer failing is a violation too
            problems.append(repr(err))

    def link(groups: list[list[int]]) -> None:
        start.wait()
        try:
            for group in groups:  # several posts per call, in any order (lock ordering)
                refs = [PostRef(*keys[post], matched_by="keyword:clip") for post in group]
                sink.record_posts(other, refs)
                problems.extend(violations(sink.engine, other))
        except Exception as err:  # a deadlock or any failure is a violation too
            problems.append(repr(err))

    threads = [threading.Thread(target=run, args=(b,)) for b in writers]
    threads += [threading.Thread(target=link, args=(g,)) for g in (shared, shared[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert problems == []
    _check_final(sink, video, writers)
    assert violations(sink.engine, other) == []
