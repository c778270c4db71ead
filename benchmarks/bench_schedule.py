"""The daemon's refresh loop at 100,000 tracked posts: throughput and resident memory (issue 8).

One pass claims due posts from the stored schedule (most-moving first, under a lease), stores a
reading for each and sets its next time in the same transaction. The baseline, measured in the
same run on a copy of the same database, stores exactly the same readings in the same slices
without any schedule. Each side runs in its own process, so its peak resident memory is its own,
and is compared with a process that only opened the database.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collectors.base import Observation, PostRef
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput

POSTS = int(os.environ.get("VIRALWATCH_BENCH_SCHEDULE_POSTS", "100000"))
SLICE = 500  # the runner's refresh slice
PASS = 5_000  # schedule.max_posts_per_pass
START = datetime(2026, 3, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _populate(path: Path) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sink = StorageSink(engine, Clock())
    sink.add_video(VideoInput("bench", "bench"))
    for start in range(0, POSTS, 5_000):
        sink.record_posts(
            "bench", [PostRef("hackernews", str(i)) for i in range(start, start + 5_000)]
        )
    engine.dispose()


def _reading(post_id: str, at: datetime) -> Observation:
    return Observation("hackernews", post_id, at, views=int(post_id) + int(at.timestamp()) % 977)


def _scheduled(path: str) -> tuple[float, int, int]:
    """Every post claimed from the schedule and read once, pass after pass."""
    clock = Clock()
    sink = StorageSink(make_engine(f"sqlite:///{path}"), clock)
    began, read = time.perf_counter(), 0
    while posts := sink.claim_refresh("hackernews", PASS):
        for start in range(0, len(posts), SLICE):
            batch = posts[start : start + SLICE]
            sink.record_observations([_reading(p.platform_post_id, clock()) for p in batch])
        read += len(posts)
        clock.now += timedelta(seconds=1)
    return time.perf_counter() - began, read, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _unscheduled(path: str) -> tuple[float, int, int]:
    """The same readings in the same slices, with no schedule to read or keep."""
    clock = Clock()
    sink = StorageSink(make_engine(f"sqlite:///{path}"), clock)
    began = time.perf_counter()
    for first in range(0, POSTS, PASS):
        for start in range(first, min(first + PASS, POSTS), SLICE):
            ids = range(start, min(start + SLICE, POSTS))
            sink.record_observations([_reading(str(i), clock()) for i in ids])
        clock.now += timedelta(seconds=1)
    return time.perf_counter() - began, POSTS, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _idle(path: str) -> tuple[float, int, int]:
    StorageSink(make_engine(f"sqlite:///{path}"), Clock()).active_videos()
    return 0.0, 0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.db"
        _populate(base)
        copies = {}
        for name in ("scheduled", "unscheduled", "idle"):
            copies[name] = Path(tmp) / f"{name}.db"
            shutil.copy(base, copies[name])
        context = multiprocessing.get_context("spawn")
        with context.Pool(1, maxtasksperchild=1) as pool:
            ours = pool.apply(_scheduled, (str(copies["scheduled"]),))
        with context.Pool(1, maxtasksperchild=1) as pool:
            plain = pool.apply(_unscheduled, (str(copies["unscheduled"]),))
        with context.Pool(1, maxtasksperchild=1) as pool:
            idle = pool.apply(_idle, (str(copies["idle"]),))
    seconds, read, rss_kib = ours
    return {
        f"schedule.refresh loop at {POSTS:,} tracked posts": {
            "posts read": read,
            "scheduled posts/s (claim + store + reschedule)": read / seconds,
            "baseline posts/s (store the same readings, no schedule)": plain[1] / plain[0],
            "time ratio scheduled / baseline": seconds / plain[0],
            "peak resident MB (target < 200)": rss_kib / 1024,
            "baseline peak resident MB": plain[2] / 1024,
            "bytes per tracked post (peak resident / posts)": rss_kib * 1024 / POSTS,
            # A pass holds at most max_posts_per_pass posts: memory does not grow with the count.
            "MB over an idle process with the same imports": (rss_kib - idle[2]) / 1024,
        }
    }
