"""The high-water-mark rule of discovery (collectors/sweep.py), as a property over any bursts,
page sizes and page caps, with an in-memory source whose pages shift as posts arrive."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.base import QueryMark, TrackedVideo
from collectors.sweep import OVERLAP, Page, sweep

START = datetime(2026, 1, 1, tzinfo=UTC)


class Source:
    """Posts newest first, paged by offset: a post arriving pushes every older one down."""

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self.times: list[datetime] = []  # oldest first
        self.requests = 0

    def add(self, count: int, gap: timedelta) -> None:
        last = self.times[-1] if self.times else START
        self.times += [last + gap * (i + 1) for i in range(count)]

    async def read(self, cursor: str | None) -> Page[int]:
        self.requests += 1
        newest_first = list(range(len(self.times)))[::-1]
        offset = int(cursor or 0)
        ids = newest_first[offset : offset + self.page_size]
        following = offset + len(ids)
        more = str(following) if following < len(newest_first) else None
        return Page(ids, [self.times[i] for i in ids], more)


@settings(max_examples=60, deadline=None)
@given(
    bursts=st.lists(st.integers(0, 120), min_size=1, max_size=6),
    page_size=st.integers(1, 20),
    cap=st.integers(1, 5),
    gap_minutes=st.sampled_from([0.5, 5, 60]),
)
def test_every_post_is_found_once_the_passes_catch_up(bursts, page_size, cap, gap_minutes):
    source = Source(page_size)
    video = TrackedVideo("v", "v", started_at=START, marks={})
    found: set[int] = set()

    def run_pass() -> None:
        found.update(asyncio.run(sweep(video, "q", source.read, cap)))

    for burst in bursts:
        source.add(burst, timedelta(minutes=gap_minutes))
        run_pass()
        mark = video.marks["q"]
        if mark.resume is None and mark.floor is not None:
            # A closed gap: everything up to the floor has been read.
            assert {i for i, t in enumerate(source.times) if t <= mark.floor} <= found
    for _ in range(len(source.times) // (page_size * cap) + 2):
        run_pass()
    assert found == set(range(len(source.times)))
    # Caught up, a pass reads no further back than its overlap below the mark.
    before = source.requests
    run_pass()
    overlap = sum(1 for t in source.times if t >= video.marks["q"].floor - OVERLAP)
    assert source.requests - before <= overlap // page_size + 1


def test_without_marks_each_pass_reads_back_to_the_start_within_its_cap():
    source = Source(10)
    source.add(100, timedelta(minutes=1))
    video = TrackedVideo("v", "v", started_at=START)
    assert len(asyncio.run(sweep(video, "q", source.read, 3))) == 30
    assert len(asyncio.run(sweep(video, "q", source.read, 3))) == 30  # no memory: same pages


def test_a_spent_budget_keeps_the_pass_open():
    source = Source(10)
    source.add(50, timedelta(minutes=1))
    video = TrackedVideo("v", "v", started_at=START, marks={})
    calls = 0

    async def twice(cursor: str | None) -> Page[int] | None:
        nonlocal calls
        calls += 1
        return await source.read(cursor) if calls <= 2 else None

    assert len(asyncio.run(sweep(video, "q", twice, 5))) == 20
    assert video.marks["q"] == QueryMark(None, source.times[-1], "20")
