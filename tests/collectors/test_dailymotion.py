"""Dailymotion: parsers on documented bodies, collector against the simulator.

No recorded Dailymotion fixture exists (see shared/fixtures/PLATFORMS.md): parser tests use small
bodies in the documented format and the simulator writes its own from the documentation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from collectors.base import (
    Gone,
    KnownPost,
    Observation,
    RateLimited,
    SourceUnavailable,
    TrackedVideo,
)
from collectors.dailymotion import DailymotionCollector, DailymotionSettings, dailymotion_error
from collectors.runner import CollectorRunner
from simulator.dailymotion import noise_posts
from simulator.world import Fault
from storage import read

NOW = datetime(2026, 3, 1, tzinfo=UTC)
VIDEO = {
    "id": "x8abc12",
    "title": "Captured Russian soldier calls his mother",
    "created_time": 1646215200,
    "views_total": 61234,
    "likes_total": 812,
    "url": "https://www.dailymotion.com/video/x8abc12",
    "owner.screenname": "World Desk",
}


def collector(client, base_url, clock):
    return DailymotionCollector(client, clock, DailymotionSettings(base_url=base_url))


def sim_collector(sim, client, clock):
    return collector(client, sim.base_url("dailymotion"), clock)


def footage(sim):
    return {
        p.id for p in sim.world.model.footage_posts(sim.world.now()) if p.platform == "dailymotion"
    }


def test_video_maps_views_and_likes_only():
    obs = DailymotionCollector.observation_from_payload(VIDEO, NOW)
    assert (obs.views, obs.likes) == (61234, 812)
    assert obs.shares is None and obs.comments is None and obs.quotes is None


def test_video_becomes_post_with_dotted_owner_field(sim_video):
    ref = DailymotionCollector.from_payload(VIDEO, sim_video)
    assert ref.platform_post_id == "x8abc12" and ref.author == "World Desk"
    assert ref.url == "https://www.dailymotion.com/video/x8abc12"
    assert ref.published_at == datetime(2022, 3, 2, 10, 0, tzinfo=UTC)
    assert ref.matched_by == "keyword:captured Russian soldier"
    assert DailymotionCollector.from_payload(VIDEO, TrackedVideo("v", "v", ("tram",))) is None


def test_error_envelope_reads_type_and_message():
    body = {
        "error": {
            "more_info": "https://developers.dailymotion.com/api/platform-api/errors/",
            "code": 404,
            "message": "Can't find object video for `id' parameter",
            "type": "not_found",
        }
    }
    assert dailymotion_error(body) == ("not_found", "Can't find object video for `id' parameter")
    assert dailymotion_error({"list": []}) == ("", "")


async def test_discover_finds_every_simulated_video_and_no_noise(
    sim, http_client, clock, sim_video
):
    found = await sim_collector(sim, http_client, clock).discover(sim_video)
    assert {r.platform_post_id for r in found} == footage(sim)
    assert not {p.id for p in noise_posts(sim.world)} & {r.platform_post_id for r in found}
    params = parse_qs(sim.world.requests_to("dailymotion", "/videos")[0].query)
    assert params["limit"] == ["100"] and params["sort"] == ["recent"]
    assert params["fields"] == [
        "id,title,created_time,views_total,likes_total,url,owner.screenname,language"
    ]
    assert params["family_filter"] == ["false"]


async def test_refresh_returns_simulator_counters_in_one_batch(sim, http_client, clock, sim_video):
    c = sim_collector(sim, http_client, clock)
    refs = await c.discover(sim_video)
    before = len(sim.world.requests)
    items = await c.refresh([KnownPost("dailymotion", r.platform_post_id) for r in refs])
    assert len(sim.world.requests) - before == 1
    for obs in items:
        assert isinstance(obs, Observation)
        counters = sim.world.model.get("dailymotion", obs.platform_post_id).counters(
            sim.world.now()
        )
        assert (obs.views, obs.likes) == (counters["views"], counters["likes"])


async def test_refresh_batches_100_ids(sim, http_client, clock):
    known = [KnownPost("dailymotion", f"x9none{n:03d}") for n in range(150)]
    items = await sim_collector(sim, http_client, clock).refresh(known)
    batches = [r for r in sim.world.requests_to("dailymotion", "/videos") if "ids=" in r.query]
    assert [len(parse_qs(b.query)["ids"][0].split(",")) for b in batches] == [100, 50]
    assert len([i for i in items if isinstance(i, Gone)]) == 150


async def test_deleted_or_private_video_becomes_gone(sim, http_client, clock):
    doomed = next(p for p in sim.world.model.posts["dailymotion"] if p.gone_at is not None)
    c = sim_collector(sim, http_client, clock)
    sim.world.clock.set(doomed.gone_at + timedelta(minutes=1))
    [item] = await c.refresh([KnownPost("dailymotion", doomed.id)])
    assert isinstance(item, Gone)
    assert item.reason.split(":")[0] in ("not_found", "access_forbidden")


async def test_rate_limit_carries_retry_after(sim, http_client, clock, sim_video):
    sim.world.set_fault("dailymotion", Fault("rate_limit", retry_after_seconds=42))
    with pytest.raises(RateLimited) as caught:
        await sim_collector(sim, http_client, clock).discover(sim_video)
    assert caught.value.retry_after_seconds == 42


async def test_refused_search_is_source_unavailable_with_the_reason(clock, sim_video):
    async def refused(request):
        body = {
            "error": {
                "code": 400,
                "message": "Unknown field `views'",
                "type": "invalid_parameter",
            }
        }
        return JSONResponse(body, status_code=400)

    app = Starlette(routes=[Route("/videos", refused)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        with pytest.raises(SourceUnavailable, match="invalid_parameter"):
            await collector(client, "http://api.test", clock).discover(sim_video)


async def test_runner_stores_videos_and_counters(
    sim, http_client, clock, sink, engine, tracked_sim_video
):
    runner = CollectorRunner(sim_collector(sim, http_client, clock), sink, clock, http_client)
    assert (await runner.discover([tracked_sim_video])).status == "ok"
    report = await runner.refresh()
    assert report.status == "ok"
    posts = list(read.iter_posts(engine, read.PostFilter(platform="dailymotion")))
    assert {p.platform_post_id for p in posts} == footage(sim)
    assert report.observations_written == len(posts)
    assert all(p.views is not None and p.shares is None for p in posts)
