"""Video measures kept for a minute while no new data arrives (issue 7).

A video page, its live refresh, its JSON and its five CSVs each ask for the same measures, and
so does every open browser: computing them reads the hourly rollup and runs the analytics over
every hour of the range. A result is reused only for the same video, range, platforms and
counter, within the same minute of the clock, and while `storage.measures_read.data_version`
is unchanged: any stored reading or new post makes the next request compute again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from dashboard.measures import VideoMeasures, video_measures
from dashboard.platforms import NO_PLATFORMS, Platforms
from dashboard.timegrid import Window
from storage import measures_read

MAX_ENTRIES = 64
"""Results kept at most (the oldest goes first): a few videos, ranges and filters at once."""


class MeasuresCache:
    """`dashboard.measures.video_measures`, reused as the module docstring says; thread-safe
    (route handlers run in a thread pool)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[tuple[Any, ...], tuple[tuple[int, ...], VideoMeasures]] = {}

    def clear(self) -> None:
        """Forget every result (the benchmark's first request after new data)."""
        with self._lock:
            self._found.clear()

    def video_measures(
        self,
        engine: Engine,
        video: str,
        window: Window,
        platforms: Sequence[str],
        now: datetime,
        catalog: Platforms = NO_PLATFORMS,
        counter: str = "views",
    ) -> VideoMeasures:
        # A range like "24h" moves with the clock: within one minute it is the same range.
        minute = now.replace(second=0, microsecond=0)
        custom = (window.since, window.until) if window.range == "custom" else ()
        key = (video, window.range, *custom, tuple(platforms), counter, minute)
        version = measures_read.data_version(engine, video)
        with self._lock:
            kept = self._found.get(key)
        if kept is not None and kept[0] == version:
            return kept[1]
        found = video_measures(engine, video, window, platforms, now, catalog, counter)
        with self._lock:
            self._found.pop(key, None)
            while len(self._found) >= MAX_ENTRIES:
                del self._found[next(iter(self._found))]
            self._found[key] = (version, found)
        return found
