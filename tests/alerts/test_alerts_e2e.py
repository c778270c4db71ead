"""End to end: data written by the sink, rules evaluated, alerts sent through Apprise to a
loopback webhook receiver and stored with their delivery status (issue 12)."""

from __future__ import annotations

from alerts.service import build_alert_service
from collectors.base import Observation, PostRef
from storage import alert_store
from storage.write import StorageSink, VideoInput
from tests.alerts.conftest import alerts_settings, rule


def no_sleep(seconds: float) -> None:
    pass


def track(sink: StorageSink, slug: str = "clip") -> None:
    sink.add_video(VideoInput(slug, "The clip"))


def post(sink: StorageSink, platform: str, post_id: str, views: int, slug: str = "clip") -> None:
    sink.record_posts(
        slug, [PostRef(platform, post_id, url=f"https://{platform}.example/{post_id}", author="a")]
    )
    sink.record_observations([Observation(platform, post_id, sink.clock(), views=views)])


def test_threshold_crossing_sends_exactly_one_alert(engine, sink, clock, receiver):
    track(sink)
    settings = alerts_settings(receiver, rule("million", "threshold", threshold=1_000_000))
    service = build_alert_service(engine, settings, clock, sleep=no_sleep)
    post(sink, "youtube", "v1", 900_000)
    assert service.run_once() == 0
    clock.advance(minutes=10)
    post(sink, "youtube", "v1", 1_200_000)
    assert service.run_once() == 1
    for _ in range(3):  # still above, later writes, past the cooldown: a total crosses once
        clock.advance(minutes=90)
        post(sink, "youtube", "v1", 1_500_000)
        assert service.run_once() == 0
    (body,) = receiver.bodies()
    assert "views at or above 1,000,000 on all platforms" in body
    assert "1,200,000" in body and "https://desk.example.org/videos/clip" in body
    (stored,) = alert_store.list_alerts(engine, alert_store.AlertFilter())
    assert stored.rule == "million" and stored.video == "clip"
    assert [(d.status, d.attempts) for d in stored.deliveries] == [("sent", 1)]


def test_flickering_velocity_inside_the_cooldown_sends_one(engine, sink, clock, receiver):
    track(sink)
    fast = rule(
        "fast",
        "threshold",
        measure="velocity",
        threshold=6000,
        window_minutes=10,
        cooldown_minutes=60,
    )
    service = build_alert_service(engine, alerts_settings(receiver, fast), clock, sleep=no_sleep)
    views = 0
    fired = []
    # Growth per 10 minutes alternates above (1,500 = 9,000/h) and below (300 = 1,800/h).
    for step in range(6):  # 50 minutes: steps 0, 2 and 4 are above
        views += 1500 if step % 2 == 0 else 300
        post(sink, "reddit", "r1", views)
        fired.append(service.run_once())
        clock.advance(minutes=10)
    assert sum(fired) == 1 and fired[0] == 1
    clock.advance(minutes=10)
    views += 3000
    post(sink, "reddit", "r1", views)
    assert service.run_once() == 1  # above again after the cooldown: a new alert
    assert len(receiver.bodies()) == 2


def test_new_platform_sends_one_alert_per_platform_reached(engine, sink, clock, receiver):
    track(sink)
    settings = alerts_settings(receiver, rule("spread", "new_platform", cooldown_minutes=0))
    service = build_alert_service(engine, settings, clock, sleep=no_sleep)
    post(sink, "youtube", "v1", 10)
    assert service.run_once() == 1
    post(sink, "youtube", "v2", 20)
    clock.advance(minutes=5)
    assert service.run_once() == 0  # a second post on a known platform
    post(sink, "bluesky", "b1", 0)
    assert service.run_once() == 1
    assert service.run_once() == 0
    first, second = receiver.bodies()
    assert "youtube" in first and "bluesky" not in first
    assert "bluesky" in second and "youtube" not in second
