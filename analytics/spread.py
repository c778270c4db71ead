"""Cross-platform spread: which platforms picked the footage up, in what order, and where the
growth is now.

Method:
- **Pickup order**: each platform's first post of the footage by publication time; its delay is
  the hours after the first platform's first post.
- **Share of growth**: each post's hourly rates (`velocity.hourly_rates`, so a first reading is a
  baseline and gaps are gaps) are summed per platform; each hour, a platform's share is its growth
  over the growth of all platforms that hour. A post not measured in an hour adds nothing to it;
  an hour no post measured has no shares (total None). Falling counters count as no growth, so
  shares stay between 0 and 1. Use one counter for all platforms (views, say): a platform that
  hides it has no readings and no share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from analytics.series import DEFAULT_MAX_GAP_HOURS, PostHistory, hours_between
from analytics.velocity import Bucket, bucket_starts, hourly_rates


@dataclass(frozen=True, slots=True)
class Pickup:
    platform: str
    order: int
    """1 for the platform where the footage appeared first."""
    first_at: datetime
    delay_hours: float
    posts: int


@dataclass(frozen=True, slots=True)
class HourShares:
    start: datetime
    total_per_hour: float | None
    """Growth of all platforms that hour; None when no post was measured."""
    shares: dict[str, float]
    """Platform -> its share of that hour's growth; empty when nothing grew."""


def pickup_order(posts: Iterable[PostHistory]) -> list[Pickup]:
    """Platforms in the order they picked up the footage (ties by name)."""
    first: dict[str, datetime] = {}
    counts: dict[str, int] = defaultdict(int)
    for post in posts:
        counts[post.platform] += 1
        # Publication time, not when we first saw it: a collector switched on late must not
        # reorder who picked the footage up first.
        if post.platform not in first or post.published_at < first[post.platform]:
            first[post.platform] = post.published_at
    ranked = sorted(first.items(), key=lambda item: (item[1], item[0]))
    if not ranked:
        return []
    origin = ranked[0][1]
    return [
        Pickup(platform, n, at, hours_between(origin, at), counts[platform])
        for n, (platform, at) in enumerate(ranked, start=1)
    ]


def combine_rates(series: Iterable[Sequence[Bucket]]) -> list[Bucket]:
    """Sum of rate series over the same buckets: None only where none of them was measured."""
    totals: dict[datetime, float | None] = {}
    measured: dict[datetime, float] = defaultdict(float)
    for buckets in series:
        for bucket in buckets:
            current = totals.get(bucket.start)
            if bucket.per_hour is not None:
                totals[bucket.start] = (current or 0.0) + bucket.per_hour
                # Posts are read at different moments: a bucket is as measured as its
                # best-read post.
                measured[bucket.start] = max(measured[bucket.start], bucket.measured_hours)
            else:
                totals.setdefault(bucket.start, None)
    return [Bucket(start, totals[start], measured[start]) for start in sorted(totals)]


def growth_shares(
    posts: Iterable[PostHistory],
    start: datetime,
    end: datetime,
    bucket_hours: float = 1.0,
    max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
) -> list[HourShares]:
    """Each platform's share of the growth in each bucket between `start` and `end`."""
    by_platform: dict[str, list[list[Bucket]]] = defaultdict(list)
    for post in posts:
        by_platform[post.platform].append(
            hourly_rates(post.readings, start, end, bucket_hours, max_gap_hours)
        )
    platforms = {name: combine_rates(series) for name, series in by_platform.items()}
    found = []
    # Every platform's buckets come from bucket_starts with these arguments, so index n is
    # the same clock hour in each.
    for n, bucket_start in enumerate(bucket_starts(start, end, bucket_hours)):
        rates = {
            # A counter that fell (deletions, a platform recounting) is no growth, so
            # shares stay between 0 and 1.
            name: max(0.0, rate)
            for name, buckets in platforms.items()
            if (rate := buckets[n].per_hour) is not None
        }
        total = sum(rates.values()) if rates else None
        shares = {name: rate / total for name, rate in rates.items()} if total else {}
        found.append(HourShares(bucket_start, total, shares))
    return found
