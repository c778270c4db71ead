"""Discovery that does not miss bursts (issue 8): each query pages back to its high-water mark,
through the simulator's burst switch and a real database."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from collectors.registry import collector_classes
from collectors.runner import CollectorRunner
from simulator.endpoints import collector_section
from storage import read
from storage.write import VideoInput

BURST = 2000
# Passes a burst of BURST posts may take at the collectors' page caps (each pass reads at
# most its cap per query, and the next continues where it stopped): YouTube's search bucket
# allows 2 pages of 50 a pass.
MAX_PASSES = 25


def build_runner(name: str, sim, client: httpx.AsyncClient, sink, clock) -> CollectorRunner:
    cls = collector_classes()[name]
    config = cls.spec.settings_model(**collector_section(name, sim.url))
    return CollectorRunner(cls(client=client, clock=clock, config=config), sink, clock, client)


def stored_ids(engine, platform: str) -> set[str]:
    """Stored post ids as the simulator names them (Mastodon keys posts by their global uri)."""
    ids = {p.platform_post_id for p in read.iter_posts(engine, read.PostFilter(platform=platform))}
    return {i.rsplit("/", 1)[-1] for i in ids} if platform == "mastodon" else ids


@pytest.mark.parametrize("platform", ["hackernews", "reddit", "mastodon", "bluesky", "youtube"])
async def test_a_burst_between_two_passes_is_all_discovered(
    platform, sim, http_client, sink, clock, engine, tracked_sim_video, db_url
):
    if db_url.startswith("postgresql") and platform != "hackernews":
        pytest.skip("the marks' storage path is one for every platform: PostgreSQL runs one")
    runner = build_runner(platform, sim, http_client, sink, clock)
    assert (await runner.discover([tracked_sim_video])).status == "ok"
    before = stored_ids(engine, platform)
    now = sim.world.now()
    burst = sim.world.model.add_burst(platform, BURST, now, now + timedelta(hours=1))
    sim.world.clock.advance(3600)
    passes = 0
    while not set(burst) <= stored_ids(engine, platform) and passes < MAX_PASSES:
        clock.advance(minutes=15)
        report = await runner.discover([tracked_sim_video])
        assert report.status == "ok", report.error_message
        passes += 1
    missed = set(burst) - stored_ids(engine, platform)
    assert not missed, f"{len(missed)} of {BURST} burst posts never discovered in {passes} passes"
    assert before <= stored_ids(engine, platform)


async def test_a_pass_after_the_mark_reads_only_the_newest_page(
    sim, http_client, sink, clock, tracked_sim_video
):
    # The mark saves requests too: a quiet query costs one page per pass, not the cap.
    runner = build_runner("hackernews", sim, http_client, sink, clock)
    start = sim.world.now()
    sim.world.model.add_burst("hackernews", 450, start, start + timedelta(hours=10))
    sim.world.clock.advance(10 * 3600)
    await runner.discover([tracked_sim_video])
    clock.advance(minutes=15)
    requests = len(sim.world.requests)
    await runner.discover([tracked_sim_video])
    queries = len(tracked_sim_video.urls) + len(tracked_sim_video.keywords)
    assert len(sim.world.requests) - requests == queries


async def test_editing_a_video_reads_back_to_its_start_again(
    sim, http_client, sink, clock, tracked_sim_video
):
    runner = build_runner("hackernews", sim, http_client, sink, clock)
    await runner.discover([tracked_sim_video])
    assert sink.discovery_marks(tracked_sim_video.slug, "hackernews")
    sink.add_video(VideoInput.of(tracked_sim_video, source="cli"), replace=True)
    assert sink.discovery_marks(tracked_sim_video.slug, "hackernews") == {}
