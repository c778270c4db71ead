"""Growth accounting: how one reading changes a post's latest counters, its history and the
rollups. Pure functions, shared by the writer (and by any migration that rebuilds rollups).

The invariant the writer keeps, whoever writes and in whatever order readings arrive:

    For every video and platform, and every counter, the sum of the rollup growth over all
    buckets equals the sum of the latest counters of the posts linked to it (post_videos: a
    post shared by two videos counts in both); a post's latest_observed_at is the
    newest observed_at of any reading stored for it; and every reading is kept exactly once,
    either as its own observation row or inside the confirmed span [observed_at,
    confirmed_until] of a row with the same counters.

It holds because (1) each post's read-modify-write is serialised (storage.db.write_transaction
and row locks), (2) only a reading newer than the post's latest adds growth, and it adds exactly
the difference to the latest counters it replaces (negative when a platform recounts down), so
the growth telescopes to the latest counters, and (3) an older reading arriving late is stored
in the history without adding growth. A post linked to one more video hands that video its
growth so far (storage/linking.py), under the same lock, its first readings as baselines.

Of each delta, the part that is a post's first reading of a counter (no earlier value to grow
from) is also summed into the rollups' `<counter>_baseline`: `delta - baseline` is the growth
actually measured between readings (issue 11), read from a bucket alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collectors.base import COUNTERS as COUNTERS

Counters = tuple[int | None, ...]


@dataclass(slots=True)
class PostState:
    """A post's latest reading as stored on `posts` (times in the backend's stored form)."""

    latest_at: Any
    latest: Counters
    latest_row_at: Any
    """The row an unchanged reading confirms: NULL when none can be (no row yet, or the
    latest row hides a counter the merged latest carries)."""


@dataclass(frozen=True, slots=True)
class Step:
    """What one reading does: `kind` is "new" (a new row and growth), "confirm" (unchanged:
    extend the latest row's confirmed_until), "late" (older than the latest: history only) or
    "repeat" (the latest time again: nothing)."""

    kind: str
    deltas: tuple[int, ...] = ()
    baselines: tuple[int, ...] = ()
    """The part of each delta that is the post's first reading of that counter: its baseline,
    counted in the rollups' `<counter>_baseline` so measured growth is `delta - baseline`."""


def merge(values: Counters, latest: Counters) -> Counters:
    """The latest counters after `values`: a hidden (NULL) counter keeps its last value."""
    return tuple(new if new is not None else old for new, old in zip(values, latest, strict=True))


def apply_reading(state: PostState, at: Any, values: Counters) -> Step:
    """Classify a reading taken at `at` against `state`, and advance `state` when it is newer."""
    if state.latest_at is not None and at < state.latest_at:
        return Step("late")
    if state.latest_at is not None and at == state.latest_at:
        return Step("repeat")
    if state.latest_row_at is not None and values == state.latest:
        state.latest_at = at
        return Step("confirm", (0,) * len(COUNTERS), (0,) * len(COUNTERS))
    pairs = list(zip(values, state.latest, strict=True))
    deltas = tuple(0 if new is None else new - (old or 0) for new, old in pairs)
    baselines = tuple(new if new is not None and old is None else 0 for new, old in pairs)
    state.latest_at = at
    state.latest = merge(values, state.latest)
    # A row that hides a counter the post showed before differs from the merged latest: the
    # next reading then adds a row rather than confirm one it does not equal.
    state.latest_row_at = at if state.latest == values else None
    return Step("new", deltas, baselines)


def is_covered(row: tuple[Any, ...] | None, at: Any, values: Counters) -> bool:
    """Whether a late reading is already in the history: `row` is the post's newest row at or
    before `at` as (observed_at, counters…, confirmed_until)."""
    if row is None:
        return False
    observed_at, *counters, confirmed_until = row
    if observed_at == at:
        return True
    return tuple(counters) == values and confirmed_until is not None and at <= confirmed_until


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def five_minute_start(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)
