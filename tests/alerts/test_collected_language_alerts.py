"""The `new_language` and `new_account` rules fire on what real collectors store, read from the
simulator in each platform's API format (issue 12: no collector used to store a language or a
follower count, so these rules never fired outside hand-seeded tests)."""

from __future__ import annotations

from alerts.service import build_alert_service
from storage import alert_store
from tests.alerts.conftest import alerts_settings, rule
from tests.helpers import sim_collector


def no_sleep(seconds: float) -> None:
    pass


async def collect(name, sim, http_client, clock, sink, video) -> list:
    refs = await sim_collector(name, sim, http_client, clock).discover(video)
    sink.record_posts(video.slug, refs)
    return refs


async def test_new_language_fires_once_for_each_language_a_collector_reported(
    engine, sink, clock, receiver, sim, http_client, tracked_sim_video
):
    languages = rule("languages", "new_language", cooldown_minutes=0)
    service = build_alert_service(
        engine, alerts_settings(receiver, languages), clock, sleep=no_sleep
    )
    tweets = await collect("x", sim, http_client, clock, sink, tracked_sim_video)
    on_x = {r.extra["language"] for r in tweets if "language" in r.extra}
    assert on_x == {"en", "uk"}  # the simulated spread tags each post from its text
    assert service.run_once() == 1
    clock.advance(minutes=10)
    statuses = await collect("mastodon", sim, http_client, clock, sink, tracked_sim_video)
    on_mastodon = {r.extra["language"] for r in statuses if "language" in r.extra}
    assert on_mastodon == {"en", "ru", "uk"}
    assert service.run_once() == 1  # Russian is new; English and Ukrainian were reported
    clock.advance(minutes=10)
    await collect("x", sim, http_client, clock, sink, tracked_sim_video)
    assert service.run_once() == 0
    first, second = receiver.bodies()
    assert "carried by a post in a new language" in first
    assert "en: x post by " in first and "uk: x post by " in first and "ru:" not in first
    assert "ru: mastodon post by " in second and "en:" not in second and "uk:" not in second
    stored = alert_store.list_alerts(engine, alert_store.AlertFilter())
    assert [a.rule for a in stored] == ["languages", "languages"]


async def test_new_account_reports_the_big_accounts_a_collector_reported(
    engine, sink, clock, receiver, sim, http_client, tracked_sim_video
):
    big = rule("big", "new_account", min_followers=10_000, cooldown_minutes=0)
    service = build_alert_service(engine, alerts_settings(receiver, big), clock, sleep=no_sleep)
    tweets = await collect("x", sim, http_client, clock, sink, tracked_sim_video)
    followers = {r.author: r.extra["author_followers"] for r in tweets}
    large = {author for author, count in followers.items() if count >= 10_000}
    assert large and large != set(followers)  # a mix of small and big accounts
    assert service.run_once() == 1
    (body,) = receiver.bodies()
    listed = {line[2:].split(" — ")[0]: line for line in body.splitlines() if line[:2] == "- "}
    assert listed.keys() == large
    assert all(f"followers {followers[a]:,}" in line for a, line in listed.items())
