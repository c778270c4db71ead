"""Gone only on evidence or after consecutive misses, and back when a post answers again
(issue 8), through the simulator's hide switch, the runner and a real database."""

from __future__ import annotations

import httpx
import pytest

from collectors.base import Gone, PostRef
from collectors.registry import collector_classes
from collectors.runner import CollectorRunner
from simulator.endpoints import collector_section
from simulator.world import Fault
from storage import read
from storage.post_events import events_of
from storage.schedule import SchedulePolicy, Scheduling

MISSES = 3  # StorageSink's default misses_before_gone


@pytest.fixture(autouse=True)
def every_post_every_ten_minutes(sink):
    # A flat schedule, so each refresh below asks for every post (the policy is tested in
    # tests/storage/test_schedule.py); failures back off no further than ten minutes either.
    sink.scheduling = Scheduling(default=SchedulePolicy(600, 600))


def build_runner(name: str, sim, client: httpx.AsyncClient, sink, clock) -> CollectorRunner:
    cls = collector_classes()[name]
    config = cls.spec.settings_model(**collector_section(name, sim.url))
    return CollectorRunner(cls(client=client, clock=clock, config=config), sink, clock, client)


def posts_of(engine, platform: str) -> dict[str, read.PostRow]:
    return {
        p.platform_post_id: p for p in read.iter_posts(engine, read.PostFilter(platform=platform))
    }


def a_refreshed_post(sim, engine, platform: str) -> read.PostRow:
    """A stored, live, refreshed post that is no reshare edge."""
    for post in sorted(posts_of(engine, platform).values(), key=lambda p: p.platform_post_id):
        model = sim.world.model.get(platform, post.platform_post_id)
        if model and not post.is_gone and post.relation != "reshare" and post.latest_observed_at:
            return post
    raise AssertionError(f"no refreshed {platform} post")


async def refresh(runner, clock, sim, minutes: int = 10):
    clock.advance(minutes=minutes)
    sim.world.clock.advance(minutes * 60)
    report = await runner.refresh()
    assert report.status == "ok", report.error_message
    return report


@pytest.mark.parametrize("platform", ["hackernews", "youtube", "reddit", "bluesky"])
async def test_missing_posts_go_after_consecutive_misses_and_come_back(
    platform, sim, http_client, sink, clock, engine, tracked_sim_video
):
    runner = build_runner(platform, sim, http_client, sink, clock)
    assert (await runner.discover([tracked_sim_video])).status == "ok"
    await refresh(runner, clock, sim)
    post = a_refreshed_post(sim, engine, platform)
    sim.world.hide(platform, post.platform_post_id)
    for miss in range(1, MISSES + 1):
        report = await refresh(runner, clock, sim)
        assert report.observations_written > 0  # the others are read as usual
        stored = posts_of(engine, platform)[post.platform_post_id]
        # Missing from one answer (or two) is no evidence: the post stays live.
        assert stored.is_gone is (miss == MISSES), f"after {miss} misses"
    gone_at = clock()
    assert [(e.kind, e.at) for e in events_of(engine, post.id)] == [("gone", gone_at)]
    assert "missing from 3 answers in a row" in events_of(engine, post.id)[0].reason
    # Gone after misses is asked for again a day later; answering brings it back.
    sim.world.hide(platform, post.platform_post_id, hidden=False)
    await refresh(runner, clock, sim, minutes=25 * 60)
    back = posts_of(engine, platform)[post.platform_post_id]
    assert not back.is_gone and back.latest_observed_at == clock()
    assert [e.kind for e in events_of(engine, post.id)] == ["gone", "returned"]
    await refresh(runner, clock, sim)
    assert posts_of(engine, platform)[post.platform_post_id].latest_observed_at == clock()


async def test_a_reading_between_misses_starts_the_count_again(
    sim, http_client, sink, clock, engine, tracked_sim_video
):
    runner = build_runner("hackernews", sim, http_client, sink, clock)
    await runner.discover([tracked_sim_video])
    await refresh(runner, clock, sim)
    post = a_refreshed_post(sim, engine, "hackernews")
    for _ in range(MISSES):
        sim.world.hide("hackernews", post.platform_post_id)
        await refresh(runner, clock, sim)
        await refresh(runner, clock, sim)
        sim.world.hide("hackernews", post.platform_post_id, hidden=False)
        await refresh(runner, clock, sim)
    assert not posts_of(engine, "hackernews")[post.platform_post_id].is_gone
    assert events_of(engine, post.id) == []


async def test_one_empty_answer_marks_nothing_gone_and_readings_go_on(
    sim, http_client, sink, clock, engine, tracked_sim_video
):
    # Issue 8: one `{"hits": []}` marked all 19 HN posts gone, with 0 readings after recovery.
    runner = build_runner("hackernews", sim, http_client, sink, clock)
    await runner.discover([tracked_sim_video])
    live = len(posts_of(engine, "hackernews"))
    for _ in range(MISSES):
        sim.world.set_fault("hackernews", Fault("body", body='{"hits": []}', count=1))
        clock.advance(minutes=10)
        assert (await runner.refresh()).status == "failed"
    assert not any(p.is_gone for p in posts_of(engine, "hackernews").values())
    recovered = await refresh(runner, clock, sim)
    assert recovered.observations_written == live


async def test_a_gone_post_found_again_by_discovery_comes_back(
    sim, http_client, sink, clock, engine, tracked_sim_video
):
    runner = build_runner("hackernews", sim, http_client, sink, clock)
    await runner.discover([tracked_sim_video])
    post = next(iter(posts_of(engine, "hackernews").values()))
    sink.mark_gone([Gone("hackernews", post.platform_post_id, clock())])
    sink.record_posts(tracked_sim_video.slug, [PostRef("hackernews", post.platform_post_id)])
    assert not posts_of(engine, "hackernews")[post.platform_post_id].is_gone
    assert [e.kind for e in events_of(engine, post.id)] == ["gone", "returned"]


ODD_PAGE = "<html><body><section class='tgme_channel_history'></section></body></html>"


async def test_one_odd_telegram_page_marks_no_pending_message_gone(
    sim, http_client, sink, clock, engine, tracked_sim_video
):
    # Issue 8: one odd page marked a whole channel's pending messages gone.
    runner = build_runner("telegram", sim, http_client, sink, clock)
    await runner.discover([tracked_sim_video])
    await refresh(runner, clock, sim)
    sim.world.set_fault("telegram", Fault("body", body=ODD_PAGE, content_type="text/html", count=1))
    await refresh(runner, clock, sim)
    posts = posts_of(engine, "telegram")
    assert not [key for key, p in posts.items() if p.is_gone]
    assert [p for p in posts.values() if p.last_error and "showed no messages" in p.last_error]
    await refresh(runner, clock, sim)
    read_now = [p for p in posts_of(engine, "telegram").values() if p.latest_observed_at == clock()]
    assert len(read_now) == len([p for p in posts.values() if p.relation != "reshare"])


async def test_reshare_edges_are_never_queued_for_refresh(sink, clock, tracked_sim_video):
    # Issue 8: boosts and reposts were queued like posts and skipped by special cases.
    slug = tracked_sim_video.slug
    sink.record_posts(slug, [PostRef("mastodon", "post"), PostRef("mastodon", "quote")])
    sink.record_posts(
        None,
        [
            PostRef(
                "mastodon",
                "boost",
                parent_platform="mastodon",
                parent_platform_post_id="post",
                relation="reshare",
            ),
            PostRef(
                "mastodon",
                "quoting",
                parent_platform="mastodon",
                parent_platform_post_id="post",
                relation="quote",
            ),
        ],
    )
    due = sink.claim_refresh("mastodon", 100)
    assert sorted(p.platform_post_id for p in due) == ["post", "quote", "quoting"]
