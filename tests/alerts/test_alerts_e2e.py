"""End to end: data written by the sink, rules evaluated, alerts sent through Apprise to a
loopback webhook receiver and stored with their delivery status (issue 12)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from alerts.service import build_alert_service
from collectors.base import Observation, PostRef
from storage import alert_store
from storage.db import make_engine
from storage.write import StorageSink, VideoInput
from tests.alerts.conftest import alerts_settings, rule
from tests.helpers import write_sim_config
from viralwatch import daemon
from viralwatch.catalog import load_settings


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


def test_failing_receiver_is_retried_then_marked_failed_while_collection_goes_on(
    db_url, engine, sink, clock, receiver, sim, tracked_sim_video, tmp_path
):
    receiver.status = 500
    settings = alerts_settings(receiver, rule("spread", "new_platform"), delivery_attempts=4)
    waits: list[float] = []
    retrying = threading.Event()
    release = threading.Event()

    def held_sleep(seconds: float) -> None:
        # The first backoff wait holds the alert thread until the test has collected.
        waits.append(seconds)
        retrying.set()
        release.wait(timeout=60)

    service = build_alert_service(engine, settings, clock, sleep=held_sleep)
    service.start()
    try:
        post(sink, "youtube", "v1", 10, slug=tracked_sim_video.slug)
        service.after_write()
        assert retrying.wait(timeout=60)
        config = write_sim_config(tmp_path / "c.toml", sim, db_url, ["hackernews"])
        reports = asyncio.run(
            daemon.collect_once(load_settings(config), sink, clock, ["hackernews"])
        )
        service.after_write()  # the daemon's hook returns at once while delivery retries
        assert {r.status for r in reports} == {"ok"}
        assert sum(r.observations_written for r in reports) > 0
        release.set()
        assert service.wait_idle(timeout=60)
    finally:
        release.set()
        service.stop()
    assert receiver.requests == 4
    assert waits == [5.0, 10.0, 20.0]
    (alert,) = alert_store.list_alerts(engine, alert_store.AlertFilter(rule="spread"))
    (delivery,) = alert.deliveries
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == ("failed", 4, None)
    assert delivery.error == "target refused or unreachable (try 4)"


def test_two_evaluators_on_one_database_fire_each_alert_once(db_url, sink, clock, receiver):
    track(sink)
    settings = alerts_settings(
        receiver,
        rule("million", "threshold", threshold=1_000_000),
        rule("spread", "new_platform", cooldown_minutes=0),
    )
    engines = [make_engine(db_url) for _ in range(2)]
    services = [build_alert_service(e, settings, clock, sleep=no_sleep) for e in engines]
    fired: list[int] = []
    try:
        for step, (platform, views) in enumerate(
            [("youtube", 5), ("reddit", 2_000_000), ("bluesky", 7), ("x", 9)]
        ):
            post(sink, platform, f"p{step}", views)
            clock.advance(minutes=1)
            start = threading.Barrier(2)
            threads = [
                threading.Thread(target=evaluate_together, args=(s, start, fired)) for s in services
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
    finally:
        for e in engines:
            e.dispose()
    stored = alert_store.list_alerts(engine_of(sink), alert_store.AlertFilter(), limit=50)
    assert sorted((a.rule, tuple(a.payload["subjects"])) for a in stored) == [
        ("million", ("all",)),
        ("spread", ("bluesky",)),
        ("spread", ("reddit",)),
        ("spread", ("x",)),
        ("spread", ("youtube",)),
    ]
    assert sum(fired) == 5 and len(receiver.bodies()) == 5


def test_the_fire_insert_lets_one_of_two_identical_alerts_through(db_url, engine):
    alert = alert_store.NewAlert(
        rule="r",
        kind="threshold",
        video="clip",
        dedupe_key="after:0",
        fired_at=datetime(2026, 3, 1, tzinfo=UTC),
        title="t",
        payload={},
        targets=[("hook", "h")],
    )
    other = make_engine(db_url)
    try:
        first = alert_store.fire_alert(engine, alert)
        second = alert_store.fire_alert(other, alert)
    finally:
        other.dispose()
    assert first is not None and second is None
    assert len(alert_store.alert_deliveries(engine, first)) == 1


def evaluate_together(service, start: threading.Barrier, fired: list[int]) -> None:
    start.wait()  # both evaluators read the same state, then race to insert
    fired.append(service.run_once())


def engine_of(sink: StorageSink):
    return sink.engine
