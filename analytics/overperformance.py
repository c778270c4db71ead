"""Overperformance: a post's counter against the median of comparable posts at the same age.

Method (CrowdTangle's published one): comparable posts are those on the same platform, read at
the same age since publication. For each, its counter at the post's age is taken from its own
readings: interpolated between two readings that bracket that age (not across a gap), otherwise
its reading closest to that age within the same age bucket (`AGE_BUCKETS_HOURS`), otherwise it is
not comparable. The ratio is the post's counter over the median of those values; it comes with the
median and the number of posts behind it. With fewer than `minimum_posts` comparable posts, or a
median of zero, the answer is `InsufficientBaseline`, never a number.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from analytics.series import DEFAULT_MAX_GAP_HOURS, PostHistory, hours_between, points

AGE_BUCKETS_HOURS = (0, 1, 2, 3, 4, 6, 8, 12, 18, 24, 36, 48, 72, 96, 120, 168, 336, 720)
"""Lower edges of the age buckets: narrow while counters move fast, wide once they settle."""

DEFAULT_MINIMUM_POSTS = 5


@dataclass(frozen=True, slots=True)
class Overperformance:
    ratio: float
    """Post's counter / baseline: 1.0 is typical, 3.0 is three times the usual."""
    value: float
    baseline: float
    """Median counter of comparable posts at the same age."""
    posts: int
    age_hours: float
    age_bucket: tuple[float, float | None]


@dataclass(frozen=True, slots=True)
class InsufficientBaseline:
    """Too few comparable posts (or a zero median) to say whether this post overperforms."""

    posts: int
    minimum_posts: int
    age_hours: float
    age_bucket: tuple[float, float | None]
    reason: str


def age_bucket(age_hours: float) -> tuple[float, float | None]:
    """(lower, upper) edges of the bucket holding `age_hours`; upper None for the last one."""
    index = max(0, bisect.bisect_right(AGE_BUCKETS_HOURS, age_hours) - 1)
    upper = AGE_BUCKETS_HOURS[index + 1] if index + 1 < len(AGE_BUCKETS_HOURS) else None
    return float(AGE_BUCKETS_HOURS[index]), upper


def value_at_age(
    post: PostHistory, age_hours: float, max_gap_hours: float = DEFAULT_MAX_GAP_HOURS
) -> float | None:
    """The post's counter when it was `age_hours` old, or None if its readings cannot say."""
    aged = [(hours_between(post.published_at, t), v) for t, v in points(post.readings)]
    # Interpolate between two readings around that age unless they straddle a gap, where the
    # counter could have moved in any way.
    for (age0, value0), (age1, value1) in pairwise(aged):
        if age0 <= age_hours <= age1 and age1 - age0 <= max_gap_hours:
            share = 0.0 if age1 == age0 else (age_hours - age0) / (age1 - age0)
            return value0 + share * (value1 - value0)
    bucket = age_bucket(age_hours)
    # Else the reading closest in age within the same bucket: peers read hourly rarely hit
    # the exact age, and a reading a bucket away compares a different stage of a spread.
    same_bucket = [(abs(age - age_hours), v) for age, v in aged if age_bucket(age) == bucket]
    return min(same_bucket)[1] if same_bucket else None


def overperformance(
    post: PostHistory,
    peers: Iterable[PostHistory],
    at: datetime | None = None,
    minimum_posts: int = DEFAULT_MINIMUM_POSTS,
    max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
) -> Overperformance | InsufficientBaseline:
    """`post` at its latest reading (or its last reading at or before `at`) against `peers`.

    `peers` should not include `post`; posts on other platforms are ignored."""
    own = [(t, v) for t, v in points(post.readings) if at is None or t <= at]
    if not own:
        raise ValueError("the post has no reading to compare: wait for its first observation")
    observed_at, value = own[-1]
    age = hours_between(post.published_at, observed_at)
    bucket = age_bucket(age)
    values = [
        found
        for peer in peers
        if peer.platform == post.platform
        and (found := value_at_age(peer, age, max_gap_hours)) is not None
    ]
    if len(values) < minimum_posts:
        reason = f"{len(values)} comparable posts, {minimum_posts} needed"
        return InsufficientBaseline(len(values), minimum_posts, age, bucket, reason)
    baseline = statistics.median(values)
    # A zero median makes any ratio infinite: say so instead of a number.
    if baseline <= 0:
        reason = "comparable posts have a median of zero at this age"
        return InsufficientBaseline(len(values), minimum_posts, age, bucket, reason)
    return Overperformance(value / baseline, value, baseline, len(values), age, bucket)
