"""Each rule kind against real stored data, delivered to the loopback receiver (issue 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.evaluate import in_quiet_hours
from alerts.rules import period_bounds
from alerts.service import build_alert_service
from collectors.base import Observation, PostRef, RunReport
from storage import alert_store
from storage.write import VideoInput
from tests.alerts.conftest import alerts_settings, rule


def no_sleep(seconds: float) -> None:
    pass


def seed(sink, posts: dict[tuple[str, str], int], extra: dict | None = None) -> None:
    if not sink.active_videos():
        sink.add_video(VideoInput("clip", "The clip"))
    refs = [
        PostRef(platform, pid, author=f"@{pid}", text=f"post {pid}", extra=dict(extra or {}))
        for platform, pid in posts
    ]
    sink.record_posts("clip", refs)
    sink.record_observations(
        [Observation(p, pid, sink.clock(), views=views) for (p, pid), views in posts.items()]
    )


def bodies_after(engine, clock, receiver, *rules, measures=None, **options):
    service = build_alert_service(
        engine,
        alerts_settings(receiver, *rules, **options),
        clock,
        measures=measures,
        sleep=no_sleep,
    )
    fired = service.run_once()
    return fired, receiver.bodies()


def test_many_platforms_crossing_at_once_make_one_message(engine, sink, clock, receiver):
    seed(sink, {("youtube", "a"): 5000, ("reddit", "b"): 7000, ("x", "c"): 10})
    each = rule("per-platform", "threshold", platform="each", threshold=1000)
    fired, (body,) = bodies_after(engine, clock, receiver, each)
    assert fired == 1
    assert "on reddit, youtube" in body and "x —" not in body


def test_health_fires_once_per_failure_streak_longer_than_n_minutes(engine, sink, clock, receiver):
    def run(status, message=None):
        sink.record_run(
            RunReport("reddit", "refresh", clock(), clock(), status=status, error_message=message)
        )

    run("ok")
    clock.advance(minutes=5)
    run("rate_limited", "HTTP 429 <retry later>")
    health = rule("collection", "health", minutes=30, cooldown_minutes=0)
    service = build_alert_service(engine, alerts_settings(receiver, health), clock, sleep=no_sleep)
    clock.advance(minutes=20)
    run("rate_limited")
    assert service.run_once() == 0  # 20 minutes: not yet
    clock.advance(minutes=15)
    run("auth_failed", "credentials rejected")
    assert service.run_once() == 1
    assert service.run_once() == 0  # same streak
    run("ok")
    clock.advance(minutes=1)
    run("failed", "HTTP 500")
    clock.advance(minutes=31)
    assert service.run_once() == 1  # a new streak
    first, second = receiver.bodies()
    assert "reddit" in first and "paused: credentials rejected" in first and "minutes 35" in first
    assert "failing: HTTP 500" in second


def test_daily_digest_lists_top_growing_posts_new_platforms_and_totals_once(
    engine, sink, clock, receiver
):
    clock.now = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # 2026-03-02 00:00 in Kyiv
    seed(sink, {("youtube", "a"): 100, ("reddit", "b"): 100})
    clock.advance(hours=12)  # 10:00 Kyiv, 2 March
    seed(sink, {("youtube", "a"): 5100, ("reddit", "b"): 300, ("bluesky", "c"): 50})
    clock.advance(days=1)  # 3 March: the digest covers 2 March
    digest = rule("daily", "digest", period="daily", top=2)
    service = build_alert_service(
        engine, alerts_settings(receiver, digest, timezone="Europe/Kyiv"), clock, sleep=no_sleep
    )
    assert service.run_once() == 1
    clock.advance(hours=1)
    assert service.run_once() == 0  # one digest per period
    (body,) = receiver.bodies()
    assert "daily digest for 2026-03-02 (Europe/Kyiv)" in body
    lines = body.splitlines()
    top = [line for line in lines if "views growth" in line]
    assert "youtube post by @a" in top[0] and "views growth 5,000" in top[0]
    assert "reddit post by @b" in top[1] and len(top) == 2
    assert "new platform: bluesky" in body and "new platform: youtube" in body
    assert "views 5,450" in body


def test_new_account_needs_stored_follower_counts(engine, sink, clock, receiver):
    seed(sink, {("mastodon", "small"): 1}, extra={"author_followers": 50})
    seed(sink, {("mastodon", "big"): 1}, extra={"author_followers": 250_000})
    seed(sink, {("reddit", "unknown"): 1})  # no follower count stored: never reported
    accounts = rule("big-accounts", "new_account", min_followers=10_000)
    fired, (body,) = bodies_after(engine, clock, receiver, accounts)
    assert fired == 1 and "@big" in body and "followers 250,000" in body
    assert "@small" not in body and "@unknown" not in body


def test_quiet_hours_hold_alerts_until_they_end(engine, sink, clock, receiver):
    clock.now = datetime(2026, 3, 1, 21, 30, tzinfo=UTC)  # 23:30 in Kyiv
    seed(sink, {("youtube", "a"): 1})
    settings = alerts_settings(
        receiver,
        rule("spread", "new_platform"),
        rule("collection", "health", during_quiet_hours=True),
        timezone="Europe/Kyiv",
        quiet_hours="22:00-07:00",
    )
    service = build_alert_service(engine, settings, clock, sleep=no_sleep)
    assert service.run_once() == 0
    clock.now = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # 07:00 in Kyiv
    assert service.run_once() == 1
    (alert,) = alert_store.list_alerts(engine, alert_store.AlertFilter())
    assert alert.fired_at == clock.now


def test_quiet_hours_and_periods_follow_the_time_zone():
    kyiv = ZoneInfo("Europe/Kyiv")
    assert in_quiet_hours(datetime(2026, 3, 1, 21, 0, tzinfo=UTC), "22:00-07:00", kyiv)
    assert not in_quiet_hours(datetime(2026, 3, 1, 5, 0, tzinfo=UTC), "22:00-07:00", kyiv)
    assert in_quiet_hours(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), "13:00-15:00", kyiv)
    assert not in_quiet_hours(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), "", kyiv)
    # The day DST starts in Kyiv (29 March 2026) has 23 hours.
    start, end = period_bounds(datetime(2026, 3, 30, 9, 0, tzinfo=UTC), "daily", kyiv)
    assert end - start == timedelta(hours=23)
    assert start.astimezone(kyiv).hour == 0 and end.astimezone(kyiv).hour == 0


def test_new_language_fires_once_per_language_with_its_first_post(engine, sink, clock, receiver):
    seed(sink, {("bluesky", "en1"): 1}, extra={"language": "en"})
    seed(sink, {("mastodon", "uk1"): 1}, extra={"language": "UK"})
    seed(sink, {("reddit", "none"): 1})  # no language stored: never reported
    languages = rule("languages", "new_language", cooldown_minutes=0)
    service = build_alert_service(
        engine, alerts_settings(receiver, languages), clock, sleep=no_sleep
    )
    assert service.run_once() == 1
    clock.advance(minutes=5)
    seed(sink, {("x", "uk2"): 1}, extra={"language": "uk"})  # a known language: nothing
    assert service.run_once() == 0
    seed(sink, {("x", "ru1"): 1}, extra={"language": "<b>ru</b>\nFAKE"})
    assert service.run_once() == 1
    first, second = receiver.bodies()
    assert "carried by a post in a new language" in first
    assert "en: bluesky post by @en1" in first and "uk: mastodon post by @uk1" in first
    assert "@none" not in first and "https://desk.example.org/videos/clip" in first
    assert "<b>ru</b> fake: x post by @ru1" in second.lower() and "@uk2" not in second
    assert not any(line.startswith("FAKE") for line in second.splitlines())


def test_hourly_digest_covers_the_last_complete_hour_once(engine, sink, clock, receiver):
    clock.now = datetime(2026, 3, 1, 9, 50, tzinfo=UTC)
    seed(sink, {("youtube", "a"): 100})
    clock.advance(minutes=20)  # 10:10: growth inside the 10:00-11:00 hour
    seed(sink, {("youtube", "a"): 400})
    clock.advance(minutes=55)  # 11:05
    hourly = rule("hourly", "digest", period="hourly", top=3)
    service = build_alert_service(engine, alerts_settings(receiver, hourly), clock, sleep=no_sleep)
    assert service.run_once() == 1
    clock.advance(minutes=30)
    assert service.run_once() == 0  # still the same hour's digest
    clock.advance(minutes=30)  # 12:05: the 11:00 hour has ended
    assert service.run_once() == 1
    first, second = receiver.bodies()
    assert "hourly digest for 2026-03-01 10:00 (UTC)" in first and "views growth 300" in first
    assert "hourly digest for 2026-03-01 11:00 (UTC)" in second
