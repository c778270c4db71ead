"""TikTok Research API: parsers on documented bodies, collector against the simulator.

No recorded Research API fixture exists (see shared/fixtures/PLATFORMS.md): parser tests use
small bodies in the documented format and the simulator writes its own from the documentation.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from collectors.base import (
    AuthFailed,
    KnownPost,
    Observation,
    PostError,
    RateLimited,
    SourceUnavailable,
    TrackedVideo,
)
from collectors.runner import CollectorRunner
from collectors.tiktok import TikTokCollector, TikTokSettings, date_windows, tiktok_error
from simulator.tiktok import SIM_CLIENT_KEY, SIM_CLIENT_SECRET, noise_posts
from simulator.world import Fault
from storage import read

NOW = datetime(2026, 3, 1, tzinfo=UTC)
VIDEO = {
    "id": 7071234567890123456,
    "video_description": "Captured Russian soldier calls his mom #standwithukraine",
    "create_time": 1646215200,
    "username": "olena_k12",
    "view_count": 120000,
    "like_count": 8000,
    "share_count": 900,
    "comment_count": 310,
    "hashtag_names": ["standwithukraine"],
}


def collector(client, base_url, clock, secret=SIM_CLIENT_SECRET):
    config = TikTokSettings(base_url=base_url, client_key=SIM_CLIENT_KEY, client_secret=secret)
    return TikTokCollector(client, clock, config)


def sim_collector(sim, client, **kwargs):
    return collector(client, sim.base_url("tiktok"), sim.world.now, **kwargs)


def footage(sim):
    return {p.id for p in sim.world.model.footage_posts(sim.world.now()) if p.platform == "tiktok"}


def test_video_maps_counters_and_leaves_quotes_null():
    obs = TikTokCollector.observation_from_payload(VIDEO, NOW)
    assert (obs.views, obs.likes, obs.shares, obs.comments) == (120000, 8000, 900, 310)
    assert obs.quotes is None


def test_video_becomes_post_with_create_date_for_refresh(sim_video):
    ref = TikTokCollector.from_payload(VIDEO, sim_video)
    assert ref.platform_post_id == "7071234567890123456"
    assert ref.url == "https://www.tiktok.com/@olena_k12/video/7071234567890123456"
    assert ref.published_at == datetime(2022, 3, 2, 10, 0, tzinfo=UTC)
    assert ref.extra == {"create_date": "20220302"}
    assert ref.matched_by == "hashtag:StandWithUkraine"  # hashtags rank above phrases


def test_hashtag_only_video_matches_by_hashtag():
    video = TrackedVideo(slug="v", title="v", hashtags=("StandWithUkraine",))
    tagged = {**VIDEO, "video_description": "so sad"}
    assert TikTokCollector.from_payload(tagged, video).matched_by == "hashtag:StandWithUkraine"


def test_error_struct_reads_code_message_and_log_id():
    body = {"error": {"code": "invalid_params", "message": "bad date", "log_id": "2022A"}}
    assert tiktok_error(body) == ("invalid_params", "bad date", "2022A")
    assert tiktok_error({"data": {}}) == ("ok", "", "")


def test_date_windows_cover_spread_and_latest_month_within_30_days():
    windows = date_windows(date(2022, 3, 2), date(2026, 3, 1))
    assert all((end - start).days < 30 for start, end in windows)
    assert windows[0][1] == date(2026, 3, 1)
    assert windows[-1][0] == date(2022, 3, 2)
    assert len(windows) == 4
    assert date_windows(date(2026, 2, 27), date(2026, 3, 1)) == [
        (date(2026, 2, 27), date(2026, 3, 1))
    ]


async def test_discover_finds_every_simulated_video_and_no_noise(sim, http_client, sim_video):
    found = await sim_collector(sim, http_client).discover(sim_video)
    assert {r.platform_post_id for r in found} == footage(sim)
    assert not {p.id for p in noise_posts(sim.world)} & {r.platform_post_id for r in found}
    queries = sim.world.requests_to("tiktok", "video/query")
    assert queries and all(
        "fields=id%2Cvideo_description" in q.query or "fields=id,video_description" in q.query
        for q in queries
    )
    assert len(sim.world.requests_to("tiktok", "oauth/token")) == 1


async def test_refresh_returns_simulator_counters(sim, http_client, sim_video):
    c = sim_collector(sim, http_client)
    refs = await c.discover(sim_video)
    items = await c.refresh([KnownPost("tiktok", r.platform_post_id, extra=r.extra) for r in refs])
    assert {type(i) for i in items} == {Observation}
    for obs in items:
        counters = sim.world.model.get("tiktok", obs.platform_post_id).counters(sim.world.now())
        assert (obs.views, obs.likes, obs.shares, obs.comments) == (
            counters["views"],
            counters["likes"],
            counters["shares"],
            counters["comments"],
        )


async def test_refresh_asks_for_100_ids_per_query(sim, http_client):
    posts = sim.world.model.visible("tiktok", sim.world.now())
    extra = {"create_date": posts[0].created_at.strftime("%Y%m%d")}
    known = [KnownPost("tiktok", str(10**18 + n), extra=extra) for n in range(150)]
    before = len(sim.world.requests_to("tiktok", "video/query"))
    items = await sim_collector(sim, http_client).refresh(known)
    assert len(sim.world.requests_to("tiktok", "video/query")) - before == 2
    assert len([i for i in items if isinstance(i, PostError) and i.is_miss]) == 150


async def test_deleted_video_becomes_a_miss(sim, http_client):
    doomed = next(p for p in sim.world.model.posts["tiktok"] if p.gone_at is not None)
    known = [
        KnownPost("tiktok", doomed.id, extra={"create_date": doomed.created_at.strftime("%Y%m%d")})
    ]
    c = sim_collector(sim, http_client)
    sim.world.clock.set(doomed.gone_at - timedelta(minutes=1))
    assert [type(i) for i in await c.refresh(known)] == [Observation]
    sim.world.clock.set(doomed.gone_at + timedelta(minutes=1))
    (item,) = await c.refresh(known)
    assert isinstance(item, PostError) and item.is_miss


async def test_expired_token_is_renewed_once(sim, http_client, clock, sim_video):
    c = collector(
        http_client, sim.base_url("tiktok"), clock
    )  # clock does not move: token looks fresh
    assert await c.discover(sim_video)
    sim.world.clock.advance(3 * 3600)
    assert await c.discover(sim_video)
    assert len(sim.world.requests_to("tiktok", "oauth/token")) == 2


async def test_rejected_client_secret_is_auth_failed_without_the_secret(
    sim, http_client, sim_video
):
    with pytest.raises(AuthFailed) as caught:
        await sim_collector(sim, http_client, secret="cs-SECRET").discover(sim_video)
    assert "invalid_client" in str(caught.value) and "cs-SECRET" not in str(caught.value)


async def test_rate_limit_carries_retry_after(sim, http_client, sim_video):
    c = sim_collector(sim, http_client)
    await c.discover(sim_video)
    sim.world.set_fault("tiktok", Fault("rate_limit", retry_after_seconds=42))
    with pytest.raises(RateLimited) as caught:
        await c.discover(sim_video)
    assert caught.value.retry_after_seconds == 42


def error_app(status, code, message):
    async def token(request):
        return JSONResponse(
            {"access_token": "clt.test", "expires_in": 7200, "token_type": "Bearer"}
        )

    async def query(request):
        body = {"data": {}, "error": {"code": code, "message": message, "log_id": "2022TEST"}}
        return JSONResponse(body, status_code=status)

    return Starlette(
        routes=[
            Route("/v2/oauth/token/", token, methods=["POST"]),
            Route("/v2/research/video/query/", query, methods=["POST"]),
        ]
    )


async def test_daily_quota_waits_until_utc_midnight(clock, sim_video):
    app = error_app(429, "rate_limit_exceeded", "Daily quota limit exceeded")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        with pytest.raises(RateLimited) as caught:
            await collector(client, "http://tiktok.test", clock).discover(sim_video)
    assert caught.value.retry_after_seconds == 12 * 3600  # FakeClock stands at 12:00 UTC


async def test_invalid_params_is_source_unavailable_with_log_id(clock, sim_video):
    app = error_app(400, "invalid_params", "end_date must be no more than 30 days after start_date")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        with pytest.raises(SourceUnavailable, match=r"invalid_params.*2022TEST"):
            await collector(client, "http://tiktok.test", clock).discover(sim_video)


async def test_unauthorised_scope_is_auth_failed(clock, sim_video):
    app = error_app(401, "scope_not_authorized", "The user did not authorize the scope")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        with pytest.raises(AuthFailed):
            await collector(client, "http://tiktok.test", clock).discover(sim_video)


async def test_runner_stores_videos_and_counters(
    sim, http_client, clock, sink, engine, tracked_sim_video
):
    runner = CollectorRunner(sim_collector(sim, http_client), sink, clock, http_client)
    assert (await runner.discover([tracked_sim_video])).status == "ok"
    report = await runner.refresh()
    assert report.status == "ok"
    posts = list(read.iter_posts(engine, read.PostFilter(platform="tiktok")))
    assert {p.platform_post_id for p in posts} == footage(sim)
    assert report.observations_written == len(posts)
    assert all(p.views is not None and p.quotes is None for p in posts)
    assert all(p.url.startswith("https://www.tiktok.com/@") for p in posts)
