"""Burst detection and overperformance for the `burst` and `overperform` rules: the analytics
package's methods on the rows the dashboard reads (`storage.measures_read`), with the dashboard's
parameters, so an alert and the page it links to tell the same story.

- Bursts: the hourly rates of the video (or of each platform, or one) over the last
  `BURST_LOOKBACK_HOURS`, through `analytics.bursts.find_bursts`. A burst is reported while it is
  going on (its last hour is the latest measured one), identified by its start, so a burst
  lasting several hours is one alert.
- Overperformance: the video's posts that grew most in the rule's window and were not reported
  yet, each against the median of comparable posts on its platform at the same age
  (`analytics.overperformance`), as the growing-now leaderboard computes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from alerts.budgets import BudgetWatch
from alerts.finding import Item, Scope, post_item
from analytics.bursts import Burst, find_bursts
from analytics.overperformance import Overperformance, overperformance
from analytics.series import PostHistory, platform_series
from analytics.spread import combine_rates
from analytics.velocity import Bucket, hourly_rates
from config.settings import AlertRuleSettings
from storage import alert_store, measures_read, read

BURST_LOOKBACK_HOURS = 24
"""Hours of rates read: the detector's 12 baseline hours and room for a burst of several."""
OVERPERFORM_CANDIDATES = 2
"""Posts checked per post listed (`rule.top`): each costs one peer query (benchmarks/
bench_alerts.py)."""
PEERS_LIMIT = 50
"""Comparable posts read per check, as on the growing-now leaderboard, which also ranks posts
by recent growth."""

Measure = Callable[[Scope, AlertRuleSettings], list[Item]]


def _ongoing(buckets: list[Bucket]) -> Burst | None:
    """The burst whose last hour is the latest measured hour, if any."""
    # Hours without readings (a gap) have no rate; "latest" means the latest measured hour.
    measured = [b for b in buckets if b.per_hour is not None]
    if not measured:
        return None
    found = find_bursts(buckets)
    latest_end = measured[-1].start + timedelta(hours=1)
    return found[-1] if found and found[-1].end == latest_end else None


def bursts(scope: Scope, rule: AlertRuleSettings) -> list[Item]:
    """The bursts going on now: overall, per platform (`each`) or on one platform."""
    one = [rule.platform] if rule.platform not in ("", "each") else []
    hours = measures_read.platform_hourly_growth(
        scope.engine,
        scope.video,
        rule.counter,
        platforms=one,
        since=scope.now - timedelta(hours=BURST_LOOKBACK_HOURS),
        until=scope.now,
    )
    series = platform_series(hours, scope.now)
    if not series:
        return []
    # One time grid for every platform, so their rates can be added hour by hour.
    start = min(s[0][0] for s in series.values())
    rates = {name: hourly_rates(s, start, scope.now) for name, s in series.items()}
    scopes = rates if rule.platform == "each" else {rule.platform: combine_rates(rates.values())}
    items = []
    for name, buckets in sorted(scopes.items()):
        burst = _ongoing(buckets)
        if burst is None or burst.growth < rule.threshold:
            continue
        numbers: dict[str, float] = {
            "growth": round(burst.growth),
            "above usual": round(burst.excess),
            "peak per hour": round(burst.peak_per_hour),
        }
        label = f"{name or 'all platforms'}: since {burst.start:%Y-%m-%d %H:%M} UTC"
        items.append(Item(f"burst:{name or 'all'}:{burst.start.isoformat()}", label, numbers))
    return items


def _post_overperformance(
    scope: Scope, growth: measures_read.PostGrowth, post: read.PostRow, counter: str
) -> Overperformance | None:
    if post.published_at is None:
        return None  # age unknown: nothing to compare with
    # Age from publication, not from when we found it: peers are compared at the same age.
    age_hours = (growth.latest_at - post.published_at).total_seconds() / 3600
    peers = measures_read.peer_readings_at_age(
        scope.engine,
        post.platform,
        age_hours,
        counter,
        exclude_post_id=post.id,
        before=scope.now,
        limit=PEERS_LIMIT,
    )
    own = PostHistory(post.platform, post.published_at, [(growth.latest_at, float(growth.latest))])
    found = overperformance(
        own, [PostHistory(p.platform, p.published_at, p.readings) for p in peers]
    )
    return found if isinstance(found, Overperformance) else None


def overperformers(scope: Scope, rule: AlertRuleSettings) -> list[Item]:
    """Posts of the video that grew most in the last `window_minutes` and whose counter is at
    least `factor` times the median of comparable posts at the same age."""
    since = scope.now - timedelta(minutes=rule.window_minutes)
    grown = measures_read.growth_since(scope.engine, since, rule.counter, video=scope.video)
    # Posts already reported would be dropped anyway: do not spend peer queries on them.
    reported = alert_store.alerted_subjects(scope.engine, rule.name, scope.video)
    candidates = sorted(
        (g for g in grown.values() if f"post:{g.post_id}" not in reported),
        key=lambda g: (-g.growth, g.post_id),
    )
    items = []
    for growth in candidates[: rule.top * OVERPERFORM_CANDIDATES]:
        post = read.get_post(scope.engine, growth.post_id)
        found = _post_overperformance(scope, growth, post, rule.counter) if post else None
        if post is None or found is None or found.ratio < rule.factor:
            continue
        numbers = {
            rule.counter: found.value,
            "median of comparable": round(found.baseline, 1),
            "comparable posts": found.posts,
            "factor": round(found.ratio, 2),
        }
        items.append(post_item(post, numbers))
    return items[: rule.top]


@dataclass(frozen=True, slots=True)
class Measures:
    """The measures the rules use; tests and benchmarks may pass their own."""

    overperform: Measure = overperformers
    burst: Measure = bursts
    budgets: BudgetWatch = field(default_factory=BudgetWatch)
    """The `budget` rule's statuses and spend samples (no budgets until a source is given)."""
