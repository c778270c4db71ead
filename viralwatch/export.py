"""`viralwatch export`: the CSV of posts or observations, after checking what was asked for.

A filter that names no known video or platform is an error, not an empty file (issue 10).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from sqlalchemy import Engine

from collectors.registry import collector_classes, stored_platform
from dashboard.export import OBSERVATION_COLUMNS, POST_COLUMNS, write_csv
from storage import read

Filter = read.PostFilter


class UnknownFilter(ValueError):
    """An option names a video or platform that does not exist; `option` says which."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


def known_platforms() -> list[str]:
    """Every platform a registered collector stores posts under."""
    return sorted({stored_platform(cls) for cls in collector_classes().values()})


def check_filter(engine: Engine, flt: Filter) -> None:
    """Raise UnknownFilter when `flt` names a video that is not tracked or an unknown platform."""
    if flt.platform is not None and flt.platform not in (platforms := known_platforms()):
        raise UnknownFilter(
            "--platform", f"unknown platform {flt.platform!r}; known: {', '.join(platforms)}"
        )
    if flt.video is not None:
        slugs = [video.slug for video in read.list_videos(engine)]
        if flt.video not in slugs:
            known = ", ".join(slugs) if slugs else "none yet"
            raise UnknownFilter("--video", f"no tracked video {flt.video!r}; tracked: {known}")


def count(engine: Engine, what: str, flt: Filter) -> int:
    return read.count_rows(engine, what, flt)


def export_csv(
    engine: Engine,
    what: str,
    flt: Filter,
    out: TextIO,
    on_row: Callable[[], None] | None = None,
) -> int:
    """Write `what` ("posts" or "observations") matching `flt` to `out`; returns the row count."""
    if what == "posts":
        return write_csv(read.iter_posts(engine, flt), POST_COLUMNS, out, on_row)
    return write_csv(read.iter_observations(engine, flt), OBSERVATION_COLUMNS, out, on_row)
