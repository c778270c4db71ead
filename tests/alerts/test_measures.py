"""The burst and overperform rules use the analytics package's measures on stored readings, as
the dashboard does (issue 12, wired to issue 11's measures)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.finding import Item
from alerts.measures import Measures
from alerts.service import build_alert_service
from collectors.base import Observation, PostRef
from storage.write import VideoInput
from tests.alerts.conftest import alerts_settings, rule

START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def no_sleep(seconds: float) -> None:
    pass


def read_views(sink, platform: str, post_id: str, views: int, published_at=None) -> None:
    if not sink.active_videos():
        sink.add_video(VideoInput("clip", "The clip"))
    ref = PostRef(platform, post_id, author=f"@{post_id}", published_at=published_at)
    sink.record_posts("clip", [ref])
    sink.record_observations([Observation(platform, post_id, sink.clock(), views=views)])


def test_a_step_in_growth_is_one_burst_alert_however_long_it_lasts(engine, sink, clock, receiver):
    clock.now = START
    burst = rule("burst", "burst", cooldown_minutes=0, threshold=1000)
    service = build_alert_service(engine, alerts_settings(receiver, burst), clock, sleep=no_sleep)
    views = 1000
    fired = []

    def quarter_hours(count: int, step: int = 0, evaluate: bool = False) -> None:
        nonlocal views
        for n in range(count):
            clock.advance(minutes=15)
            views += 150 + (step if n == 0 else 0)  # 600 an hour, plus the step once
            read_views(sink, "youtube", "a", views)
            if evaluate:
                fired.append(service.run_once())

    read_views(sink, "youtube", "a", views)
    quarter_hours(8 * 4)  # eight steady hours: the baseline
    assert service.run_once() == 0
    quarter_hours(4, step=20_000, evaluate=True)  # 08:00-09:00 jumps
    quarter_hours(4, step=15_000, evaluate=True)  # and 09:00-10:00 too: the same burst
    quarter_hours(4 * 4, evaluate=True)  # four steady hours: the burst is over
    quarter_hours(4, step=30_000, evaluate=True)  # 14:00: a new burst
    assert fired[:4] == [1, 0, 0, 0] and sum(fired[4:-4]) == 0 and fired[-4:] == [1, 0, 0, 0]
    first, second = receiver.bodies()
    assert "a burst of views" in first and "all platforms: since 2026-03-01 08:00 UTC" in first
    assert "since 2026-03-01 14:00 UTC" in second


def test_steady_growth_never_bursts(engine, sink, clock, receiver):
    clock.now = START
    views = 0
    for hour in range(12):
        for _ in range(4):
            clock.advance(minutes=15)
            views += 100 * (hour + 1)  # growing steadily, faster each hour by a bit
            read_views(sink, "reddit", "r", views)
    each = rule("burst", "burst", platform="each")
    service = build_alert_service(engine, alerts_settings(receiver, each), clock, sleep=no_sleep)
    assert service.run_once() == 0


def test_an_overperforming_post_alerts_once(engine, sink, clock, receiver):
    published = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    clock.now = published + timedelta(minutes=5)
    peers = {f"p{i}": 900 + 50 * i for i in range(6)}  # with "fine": median 1,050 at 2 h
    posts = {**peers, "big": 10_250, "fine": 1500}
    for post_id in posts:
        read_views(sink, "youtube", post_id, 10, published_at=published)
    clock.now = published + timedelta(hours=2)
    for post_id, views in posts.items():
        read_views(sink, "youtube", post_id, views, published_at=published)
    outlier = rule("outlier", "overperform", factor=5, cooldown_minutes=0)
    service = build_alert_service(engine, alerts_settings(receiver, outlier), clock, sleep=no_sleep)
    assert service.run_once() == 1
    clock.advance(minutes=10)
    read_views(sink, "youtube", "big", 11_000, published_at=published)
    assert service.run_once() == 0  # still far above, already reported
    clock.advance(minutes=1)
    read_views(sink, "youtube", "fine", 9_000, published_at=published)
    assert service.run_once() == 0  # checked a minute ago: the next check is due in 5
    clock.advance(minutes=4)
    assert service.run_once() == 1  # "fine" overperforms now: a second post, a new alert
    body, second = receiver.bodies()
    assert "@fine" in second and "@big" not in second
    assert "1 post(s) at 5x or more the median views of comparable posts" in body
    assert "youtube post by @big" in body and "@fine" not in body
    assert "median of comparable 1,050" in body and "comparable posts 7" in body
    assert "factor 9.76" in body


def test_measures_are_pluggable(engine, sink, clock, receiver):
    read_views(sink, "youtube", "a", 1)

    def analytics_says_p3(scope, rule_settings):
        return [Item("post:p3", "p3 from elsewhere", {"factor": 9.5})]

    other = rule("outlier", "overperform")
    service = build_alert_service(
        engine,
        alerts_settings(receiver, other),
        clock,
        measures=Measures(overperform=analytics_says_p3),
        sleep=no_sleep,
    )
    assert service.run_once() == 1
    assert "p3 from elsewhere — factor 9.50" in receiver.bodies()[0]
