"""What each rule kind finds in the stored data right now (pure reads, no side effects).

Rules are evaluated against state, not events: a threshold is "at or above now", a platform is
new while no earlier alert named it. So nothing is lost while a cooldown or quiet hours hold an
alert back; it goes out, batched, at the next evaluation that may fire.

`overperform` and `burst` take their items from the measures in `alerts.measures` (the analytics
package's methods, as the dashboard shows them), passed in as `Measures`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.finding import Finding, Item, Scope, post_item
from alerts.measures import Measures
from config.settings import AlertRuleSettings
from storage import alert_store, read

# Candidates (largest latest counter first) the digest checks for growth in its period.
DIGEST_CANDIDATES = 200

__all__ = ["Finding", "Item", "Measures", "Scope", "evaluate", "period_bounds"]


def evaluate(scope: Scope, rule: AlertRuleSettings, measures: Measures) -> Finding | None:
    """What `rule` finds for `scope.video` now, or None."""
    if rule.kind == "threshold":
        return _threshold(scope, rule)
    if rule.kind == "new_platform":
        return _new_platform(scope)
    if rule.kind == "new_account":
        return _new_account(scope, rule)
    if rule.kind == "new_language":
        return _new_language(scope, rule)
    if rule.kind == "overperform":
        return _overperform(scope, measures.overperform(scope, rule), rule)
    if rule.kind == "burst":
        return _burst(scope, measures.burst(scope, rule), rule)
    if rule.kind == "health":
        return _health(scope, rule)
    if rule.kind == "budget":
        return _budget(scope, rule, measures)
    return _digest(scope, rule)


def _threshold(scope: Scope, rule: AlertRuleSettings) -> Finding | None:
    values = _measured(scope, rule)
    crossed = {platform: v for platform, v in values.items() if v >= rule.threshold}
    if not crossed:
        return None
    what = rule.counter if rule.measure == "total" else f"{rule.counter} per hour"
    items = tuple(
        Item(f"{platform or 'all'}", platform or "all platforms", {what: round(v, 1)})
        for platform, v in sorted(crossed.items())
    )
    where = ", ".join(i.label for i in items)
    return Finding(
        headline=f"{what} at or above {_number(rule.threshold)} on {where}",
        numbers={"threshold": rule.threshold},
        items=items,
        # Totals only grow: one alert per crossing. Velocity may fire again after the cooldown.
        once_per_subject=rule.measure == "total",
        path=f"/videos/{scope.video}",
    )


def _measured(scope: Scope, rule: AlertRuleSettings) -> dict[str, float]:
    """Per platform ("each"), for one platform, or overall (key "")."""
    platforms = [rule.platform] if rule.platform not in ("", "each") else []
    if rule.measure == "total":
        rows = read.platform_totals(scope.engine, video=scope.video, platforms=platforms)
        pairs = [(r.platform, float(getattr(r, rule.counter))) for r in rows]
    else:
        since = _five_minute_floor(scope.now - timedelta(minutes=rule.window_minutes))
        deltas = read.rollup_deltas(
            scope.engine, scope.video, bucket_minutes=5, platforms=platforms, since=since
        )
        per_hour = 60 / rule.window_minutes
        pairs = [(r.platform, getattr(r, rule.counter) * per_hour) for r in deltas]
    values: dict[str, float] = {}
    for platform, value in pairs:
        # "each" keeps platforms apart; otherwise every row adds into the one key the rule names.
        key = platform if rule.platform == "each" else rule.platform
        values[key] = values.get(key, 0.0) + value
    return values


def _new_platform(scope: Scope) -> Finding | None:
    rows = [r for r in read.platform_totals(scope.engine, video=scope.video) if r.posts]
    if not rows:
        return None
    # Every platform with posts is listed; once_per_subject drops those an earlier alert named,
    # so what is left is the new one (state, not events: a missed evaluation loses nothing).
    items = tuple(Item(r.platform, r.platform, {"posts": r.posts, "views": r.views}) for r in rows)
    return Finding(
        headline="the footage reached a new platform",
        items=items,
        once_per_subject=True,
        path=f"/videos/{scope.video}",
    )


def _new_account(scope: Scope, rule: AlertRuleSettings) -> Finding | None:
    since = scope.now - timedelta(minutes=rule.window_minutes)
    posts = alert_store.posts_first_seen_since(scope.engine, scope.video, since)
    items = tuple(
        Item(
            f"{p.platform}:{p.author}",
            p.author or "(unknown account)",
            {"followers": p.followers},
            detail=p.text,
            url=p.url,
            path=f"/posts/{p.id}",
        )
        # Unknown followers (Bluesky, YouTube, Dailymotion give none without a request per
        # author) never fire: a rule about big accounts should not guess.
        for p in posts
        if p.followers is not None and p.followers >= rule.min_followers
    )
    if not items:
        return None
    return Finding(
        headline=f"carried by an account with at least {_number(rule.min_followers)} followers",
        items=items,
        once_per_subject=True,
        path=f"/videos/{scope.video}",
    )


def _new_language(scope: Scope, rule: AlertRuleSettings) -> Finding | None:
    since = scope.now - timedelta(minutes=rule.window_minutes)
    first_in: dict[str, alert_store.RecentPost] = {}
    for p in alert_store.posts_first_seen_since(scope.engine, scope.video, since):
        if p.language is not None:
            # Oldest first: the post that brought the language names it.
            first_in.setdefault(p.language, p)
    items = tuple(
        Item(
            f"language:{language}",
            f"{language}: {p.platform} post by {p.author or 'unknown'}",
            detail=p.text,
            url=p.url,
            path=f"/posts/{p.id}",
        )
        for language, p in sorted(first_in.items())
    )
    if not items:
        return None
    return Finding(
        headline="carried by a post in a new language",
        items=items,
        once_per_subject=True,
        path=f"/videos/{scope.video}",
    )


def _overperform(scope: Scope, items: list[Item], rule: AlertRuleSettings) -> Finding | None:
    if not items:
        return None
    return Finding(
        headline=f"{len(items)} post(s) at {_number(rule.factor)}x or more the median "
        f"{rule.counter} of comparable posts at the same age",
        items=tuple(items),
        once_per_subject=True,
        path=f"/videos/{scope.video}",
    )


def _burst(scope: Scope, items: list[Item], rule: AlertRuleSettings) -> Finding | None:
    if not items:
        return None
    return Finding(
        headline=f"a burst of {rule.counter}: hourly growth far above the hours before",
        items=tuple(items),
        # One alert per burst, however many hours it lasts (its start is in the subject).
        once_per_subject=True,
        path=f"/videos/{scope.video}",
    )


def _health(scope: Scope, rule: AlertRuleSettings) -> Finding | None:
    late = scope.now - timedelta(minutes=rule.minutes)
    # The subject carries when the trouble began: one alert per outage, a new one if it recurs.
    items = tuple(
        Item(
            f"{c.collector}@{c.since.isoformat()}",
            c.collector,
            {"minutes": int((scope.now - c.since).total_seconds() // 60)},
            detail=f"{_STATE_WORDS.get(c.status, c.status)}: {c.message or 'no message'}",
        )
        for c in alert_store.unhealthy_collectors(scope.engine)
        if c.since <= late
    )
    if not items:
        return None
    return Finding(
        headline=f"collection unhealthy for more than {rule.minutes} minutes",
        items=items,
        once_per_subject=True,
    )


def _budget(scope: Scope, rule: AlertRuleSettings, measures: Measures) -> Finding | None:
    window = timedelta(minutes=rule.window_minutes)
    items = tuple(
        Item(
            f"budget:{s.collector}:{s.budget}:{s.resets_at.isoformat()}",
            f"{s.collector} {s.budget}",
            {"spent": s.spent, "limit": s.limit}
            | ({"per hour": round(s.per_hour, 1)} if s.per_hour is not None else {}),
            detail=f"runs out about {s.runs_out_at:%Y-%m-%d %H:%M} UTC, "
            f"resets {s.resets_at:%Y-%m-%d %H:%M} UTC",
        )
        for s in measures.budgets.shortfalls(scope.engine, scope.now, window)
    )
    if not items:
        return None
    return Finding(
        headline="a request budget will run out before it resets",
        items=items,
        # One alert per budget window: the subject carries its reset time.
        once_per_subject=True,
    )


_STATE_WORDS = {"failed": "failing", "rate_limited": "rate-limited", "auth_failed": "paused"}


def period_bounds(now: datetime, period: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The last complete hour or day (in `zone`) before `now`, in UTC (a day is 23 or 25 hours
    long when the clocks change)."""
    local = now.astimezone(zone)
    if period == "hourly":
        end = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        return end - timedelta(hours=1), end
    end = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Wall-clock arithmetic within one zone: the day before's midnight, whatever its length.
    start = end - timedelta(days=1)
    return start.astimezone(UTC), end.astimezone(UTC)


def _digest(scope: Scope, rule: AlertRuleSettings) -> Finding | None:
    start, end = period_bounds(scope.now, rule.period, scope.zone)
    posts, _ = read.list_posts(
        scope.engine, scope.video, sort=rule.counter, limit=DIGEST_CANDIDATES
    )
    before = read.counters_at(scope.engine, [p.id for p in posts], start)
    growth = []
    for post in posts:
        value = getattr(post, rule.counter) or 0
        # A post first read inside the period has no earlier reading: all of it is growth.
        earlier = getattr(before[post.id], rule.counter) if post.id in before else None
        if value - (earlier or 0) > 0:
            growth.append((value - (earlier or 0), post))
    growth.sort(key=lambda pair: (-pair[0], pair[1].id))
    items = [post_item(p, {f"{rule.counter} growth": g}) for g, p in growth[: rule.top]]
    totals = read.platform_totals(scope.engine, video=scope.video)
    for row in totals:
        appeared = row.first_appeared_at
        if appeared is not None and start <= appeared < end:
            items.append(Item(f"platform:{row.platform}", f"new platform: {row.platform}"))
    numbers: dict[str, float] = {
        "posts": sum(r.posts for r in totals),
        **{c: sum(getattr(r, c) for r in totals) for c in ("views", "likes", "shares")},
    }
    local = start.astimezone(scope.zone)
    label = f"{local:%Y-%m-%d %H:%M}" if rule.period == "hourly" else f"{local:%Y-%m-%d}"
    return Finding(
        headline=f"{rule.period} digest for {label} ({scope.zone.key})",
        numbers=numbers,
        items=tuple(items),
        period_key=start.isoformat(),
        path=f"/videos/{scope.video}",
    )


def _five_minute_floor(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
