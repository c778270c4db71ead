"""Failures contained (issue 8) and hostile numbers (issue 13), through the runner, the
simulator's fault switches and a real database."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from collectors.base import AuthFailed, KnownPost, PostRef, TrackedVideo
from collectors.hackernews import HackerNewsCollector, HackerNewsSettings
from collectors.lemmy import LemmyCollector, LemmySettings
from collectors.runner import CollectorRunner
from simulator.model import SpreadModel
from simulator.server import SimulatorServer
from simulator.world import Fault, World
from storage import read
from tests.collectors.declared import Declared


def hn_runner(sim, http_client, sink, clock):
    collector = HackerNewsCollector(
        http_client, clock, HackerNewsSettings(base_url=sim.base_url("hackernews"))
    )
    return CollectorRunner(collector, sink, clock, http_client)


def posts_of(engine, platform):
    return {
        p.platform_post_id: p for p in read.iter_posts(engine, read.PostFilter(platform=platform))
    }


async def test_keyless_403_is_unavailable_and_retried_next_run(
    sim, http_client, sink, clock, tracked_sim_video
):
    # Issue 8: a bot wall's 403 paused Hacker News until the process restarted.
    runner = hn_runner(sim, http_client, sink, clock)
    sim.world.set_fault("hackernews", Fault("error", status=403, count=1))
    blocked = await runner.discover([tracked_sim_video])
    assert blocked.status == "failed" and "anonymous request" in blocked.error_message
    assert (await runner.discover([tracked_sim_video])).status == "ok"


async def test_page_that_spends_the_window_is_stored_and_defers_the_next_run(
    sim, http_client, sink, clock, engine, tracked_sim_video
):
    # Issue 8: a 200 with the window's last request raised RateLimited and lost its posts.
    runner = hn_runner(sim, http_client, sink, clock)
    sim.world.set_fault("hackernews", Fault("exhausted", retry_after_seconds=300))
    report = await runner.discover([tracked_sim_video])
    assert (report.status, report.posts_found) == ("ok", 2)
    assert report.retry_at == clock() + timedelta(seconds=300)
    assert len(posts_of(engine, "hackernews")) == 2
    sim.world.set_fault("hackernews", None)
    before = len(sim.world.requests)
    skipped = await runner.discover([tracked_sim_video])
    assert skipped.status == "rate_limited" and len(sim.world.requests) == before
    clock.advance(seconds=301)
    assert (await runner.discover([tracked_sim_video])).status == "ok"


async def test_failing_discovery_next_to_working_refresh_logs_once(
    sim, http_client, sink, clock, tracked_sim_video, caplog
):
    # Issue 8: one shared state logged "failing" and "recovered" on every pass.
    runner = hn_runner(sim, http_client, sink, clock)
    assert (await runner.discover([tracked_sim_video])).status == "ok"
    sim.world.set_fault("hackernews", Fault("error", status=503, match="search_by_date"))
    caplog.set_level(logging.INFO, logger="viralwatch.runner")
    statuses = []
    for _ in range(3):
        clock.advance(minutes=10)
        statuses.append((await runner.discover([tracked_sim_video])).status)
        statuses.append((await runner.refresh()).status)
    assert statuses == ["failed", "ok"] * 3
    messages = [r.getMessage() for r in caplog.records]
    assert sum("HTTP 503" in m for m in messages) == 1
    assert not [m for m in messages if "recovered" in m]


async def test_one_empty_answer_marks_nothing_gone_and_fails_visibly(
    sim, http_client, sink, clock, engine, tracked_sim_video
):
    # Issue 8: one `{"hits": []}` marked all Hacker News posts gone, and the run showed "ok".
    runner = hn_runner(sim, http_client, sink, clock)
    await runner.discover([tracked_sim_video])
    sim.world.set_fault("hackernews", Fault("body", body='{"hits": []}', count=1))
    clock.advance(minutes=10)
    report = await runner.refresh()
    assert report.status == "failed" and "none of 2 posts" in report.error_message
    assert not any(p.is_gone for p in posts_of(engine, "hackernews").values())
    clock.advance(minutes=10)
    recovered = await runner.refresh()
    assert (recovered.status, recovered.observations_written) == ("ok", 2)


async def test_a_story_missing_from_one_answer_is_kept_with_its_reason(
    sim, http_client, sink, clock, engine, tracked_sim_video
):
    runner = hn_runner(sim, http_client, sink, clock)
    await runner.discover([tracked_sim_video])
    sink.record_posts(tracked_sim_video.slug, [PostRef("hackernews", "1")])
    clock.advance(minutes=10)
    report = await runner.refresh()
    assert (report.status, report.observations_written) == ("ok", 2)
    missing = posts_of(engine, "hackernews")["1"]
    assert not missing.is_gone and "not in the HN search answer" in missing.last_error


@pytest.mark.parametrize("mutation", ["huge_numbers", "inf"])
async def test_absurd_counter_is_that_posts_error_not_the_platforms(
    sim, http_client, sink, clock, engine, tracked_sim_video, mutation
):
    # Issue 13: a counter >= 2^63 or 1e400 raised OverflowError at insert on every run.
    runner = hn_runner(sim, http_client, sink, clock)
    await runner.discover([tracked_sim_video])
    sim.world.set_fault("hackernews", Fault("drift", mutation=mutation, count=1))
    clock.advance(minutes=10)
    report = await runner.refresh()
    assert (report.status, report.observations_written) == ("ok", 0)
    posts = posts_of(engine, "hackernews").values()
    assert all("beyond the storable range" in (p.last_error or "") for p in posts)
    assert all(p.latest_observed_at is None for p in posts)  # nothing invented


@pytest.mark.parametrize("mutation", ["numbers_as_strings", "nulls", "renamed_keys"])
async def test_schema_drift_never_invents_a_reading(
    sim, http_client, sink, clock, engine, tracked_sim_video, mutation
):
    runner = hn_runner(sim, http_client, sink, clock)
    await runner.discover([tracked_sim_video])
    expected = {p.id: p.counters(sim.world.now()) for p in sim.world.model.posts["hackernews"]}
    sim.world.set_fault("hackernews", Fault("drift", mutation=mutation, count=1))
    clock.advance(minutes=10)
    report = await runner.refresh()
    assert report.status in ("ok", "failed")
    for post_id, post in posts_of(engine, "hackernews").items():
        if mutation == "numbers_as_strings":
            assert post.likes == expected[post_id]["likes"]
        else:
            assert post.likes is None and post.comments is None


class RejectedCollector(Declared):
    """A collector whose credentials the platform rejects until `accepts` is set."""

    name = "rejected"

    def __init__(self) -> None:
        self.calls = 0
        self.accepts = False

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        self.calls += 1
        if not self.accepts:
            raise AuthFailed("rejected: access denied (HTTP 401); check its credentials")
        return []

    async def refresh(self, posts):
        return []


async def test_rejected_credentials_pause_with_growing_backoff_never_forever(
    sink, clock, tracked_sim_video
):
    collector = RejectedCollector()
    runner = CollectorRunner(collector, sink, clock)
    first = await runner.discover([tracked_sim_video])
    assert first.status == "auth_failed" and first.retry_at == clock() + timedelta(minutes=5)
    paused = await runner.discover([tracked_sim_video])
    assert paused.status == "auth_failed" and "paused" in paused.error_message
    assert collector.calls == 1
    clock.advance(minutes=5)
    second = await runner.discover([tracked_sim_video])
    assert collector.calls == 2 and second.retry_at == clock() + timedelta(minutes=10)
    clock.advance(minutes=10)
    collector.accepts = True
    assert (await runner.discover([tracked_sim_video])).status == "ok"


async def test_changed_credentials_are_tried_at_once(sink, clock, tracked_sim_video):
    collector = RejectedCollector()
    runner = CollectorRunner(collector, sink, clock)
    await runner.discover([tracked_sim_video])
    collector.accepts = True
    runner.credentials_changed()
    assert (await runner.discover([tracked_sim_video])).status == "ok"


async def test_absurd_retry_after_from_a_collector_is_capped(sink, clock, tracked_sim_video):
    from collectors.base import RateLimited

    class Parked(RejectedCollector):
        async def discover(self, video):
            raise RateLimited("parked: quota", 10**12)

    runner = CollectorRunner(Parked(), sink, clock)
    report = await runner.discover([tracked_sim_video])
    assert report.retry_at == clock() + timedelta(hours=25)


@pytest.fixture
def big_lemmy():
    """The simulated internet with 500 more Lemmy posts (copies with numeric ids 50000+)."""
    world = World(model=SpreadModel(extra_reposts=500))
    world.clock.advance(30 * 3600)
    with SimulatorServer(world) as server:
        yield server


async def test_one_bad_post_among_500_fails_only_itself(
    big_lemmy, http_client, sink, clock, engine, tracked_sim_video
):
    # Issue 8: one Lemmy 400 failed its whole 500-post slice on every pass (0 of 40 observed).
    sim = big_lemmy
    copies = [p for p in sim.world.model.posts["lemmy"] if int(p.id) >= 50_000]
    refs = [
        PostRef(
            "lemmy",
            f"https://{p.instance}.example/post/{p.id}",
            extra={"instance": sim.base_url("lemmy", p.instance), "id": p.id},
        )
        for p in copies
    ]
    sink.record_posts(tracked_sim_video.slug, refs)
    bad = copies[17]
    sim.world.set_fault(
        "lemmy",
        Fault("error", status=400, body='{"error": "unknown"}', match=rf"[?&]id={bad.id}(&|$)"),
    )
    instances = sorted({sim.base_url("lemmy", p.instance) for p in copies})
    collector = LemmyCollector(http_client, clock, LemmySettings(instances=instances))
    report = await CollectorRunner(collector, sink, clock, http_client).refresh()
    assert (report.status, report.observations_written) == ("ok", 499)
    stored = posts_of(engine, "lemmy")
    bad_post = stored[f"https://{bad.instance}.example/post/{bad.id}"]
    assert "HTTP 400" in bad_post.last_error and not bad_post.is_gone
    assert sum(p.latest_observed_at is not None for p in stored.values()) == 499


async def test_a_refused_post_is_that_posts_error(big_lemmy, http_client, clock):
    sim = big_lemmy
    post = next(p for p in sim.world.model.posts["lemmy"] if int(p.id) >= 50_000)
    sim.world.set_fault("lemmy", Fault("error", status=400, body='{"error": "x"}'))
    base = sim.base_url("lemmy", post.instance)
    collector = LemmyCollector(http_client, clock, LemmySettings(instances=[base]))
    known = [KnownPost("lemmy", "a", extra={"instance": base, "id": post.id})]
    with pytest.raises(Exception, match="HTTP 400"):
        # Every post refused: the source, not the posts (nothing was read at all).
        await collector.refresh(known)


class OneMalformedItem(Declared):
    """A collector whose platform answers one post's item in a shape the parser rejects."""

    name = "drifting"

    def __init__(self, bad: set[str]) -> None:
        self.bad = bad
        self.calls = 0

    async def discover(self, video):
        return []

    async def refresh(self, posts):
        from collectors.base import MalformedPayload, Observation

        self.calls += 1
        if any(p.platform_post_id in self.bad for p in posts):
            raise MalformedPayload("drifting: malformed item in the answer (KeyError: 'score')")
        return [Observation(p.platform, p.platform_post_id, NOW_OF_TEST, likes=1) for p in posts]


NOW_OF_TEST = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_one_malformed_item_is_narrowed_down_to_its_post(
    sink, clock, engine, tracked_sim_video
):
    refs = [PostRef("drifting", f"p{n:03d}") for n in range(500)]
    sink.record_posts(tracked_sim_video.slug, refs)
    collector = OneMalformedItem({"p321"})
    report = await CollectorRunner(collector, sink, clock).refresh()
    assert (report.status, report.observations_written) == ("ok", 499)
    assert collector.calls <= 2 * 9 + 1  # two refreshes per halving of 500
    assert "KeyError" in posts_of(engine, "drifting")["p321"].last_error


async def test_malformed_items_all_over_the_answer_fail_the_slice(
    sink, clock, engine, tracked_sim_video
):
    sink.record_posts(tracked_sim_video.slug, [PostRef("drifting", f"p{n}") for n in range(8)])
    collector = OneMalformedItem({"p0", "p7"})
    report = await CollectorRunner(collector, sink, clock).refresh()
    assert report.status == "failed" and "malformed item" in report.error_message
    assert collector.calls == 3
