"""X API v2: parsers on documented bodies, collector against the simulator.

No recorded X fixture exists (see shared/fixtures/PLATFORMS.md), so the parser tests use bodies
served by the simulator, which writes them from the documentation.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from collectors.base import (
    AuthFailed,
    Gone,
    KnownPost,
    Observation,
    RateLimited,
    TrackedVideo,
)
from collectors.runner import CollectorRunner
from collectors.x import XCollector, XSettings, build_queries, gone_ids
from simulator.world import Fault
from simulator.x import SIM_BEARER_TOKEN, noise_posts
from storage import read

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def collector(client, base_url, clock, token=SIM_BEARER_TOKEN):
    return XCollector(client, clock, XSettings(base_url=base_url, bearer_token=token))


def sim_collector(sim, client, clock, **kwargs):
    return collector(client, sim.base_url("x"), clock, **kwargs)


def footage(sim):
    return {p.id for p in sim.world.model.footage_posts(sim.world.now()) if p.platform == "x"}


TWEET = {
    "id": "1498912345678901234",
    "text": "Captured soldier &amp; his mom https://t.co/abc123 #StandWithUkraine",
    "created_at": "2022-03-02T10:15:00.000Z",
    "author_id": "42",
    "edit_history_tweet_ids": ["1498912345678901234"],
    "public_metrics": {
        "retweet_count": 7,
        "reply_count": 3,
        "like_count": 120,
        "quote_count": 2,
        "bookmark_count": 1,
        "impression_count": 9000,
    },
    "referenced_tweets": [{"type": "quoted", "id": "1498900000000000001"}],
    "entities": {
        "urls": [
            {
                "start": 30,
                "end": 53,
                "url": "https://t.co/abc123",
                "expanded_url": "https://t.me/kyiv_witness/4182",
                "display_url": "t.me/kyiv_witness/4182",
            }
        ],
        "hashtags": [{"start": 54, "end": 71, "tag": "StandWithUkraine"}],
    },
}


def test_tweet_maps_public_metrics():
    obs = XCollector.observation_from_payload(TWEET, NOW)
    assert (obs.views, obs.likes, obs.shares, obs.comments, obs.quotes) == (9000, 120, 7, 3, 2)


def test_tweet_without_impressions_keeps_views_null():
    old = {**TWEET, "public_metrics": {"retweet_count": 1, "like_count": 2}}
    obs = XCollector.observation_from_payload(old, NOW)
    assert obs.views is None and obs.comments is None and obs.likes == 2


def test_tweet_matches_expanded_link_unescapes_text_and_keeps_quote_parent():
    video = TrackedVideo(slug="v", title="v", urls=("https://t.me/kyiv_witness/4182",))
    ref = XCollector.from_payload(TWEET, {"42": {"id": "42", "username": "olena"}}, video)
    assert ref.matched_by == "url:https://t.me/kyiv_witness/4182"
    assert ref.text.startswith("Captured soldier & his mom")
    assert ref.url == "https://x.com/olena/status/1498912345678901234"
    assert (ref.parent_platform_post_id, ref.relation) == ("1498900000000000001", "quote")
    assert ref.published_at == datetime(2022, 3, 2, 10, 15, tzinfo=UTC)


def test_tweet_without_match_is_dropped():
    other = TrackedVideo(slug="v", title="v", keywords=("tram timetable",))
    assert XCollector.from_payload(TWEET, {}, other) is None


def test_partial_errors_name_gone_tweets_only():
    body = {
        "errors": [
            {
                "value": "1",
                "detail": "Could not find tweet with ids: [1].",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "parameter": "ids",
                "resource_id": "1",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            },
            {
                "value": "2",
                "detail": "Sorry, you are not authorized to see the Tweet with ids: [2].",
                "title": "Authorization Error",
                "resource_type": "tweet",
                "parameter": "ids",
                "resource_id": "2",
                "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
            },
            {
                "title": "Invalid Request",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            },
        ]
    }
    assert set(gone_ids(body)) == {"1", "2"}


def test_queries_stay_under_512_characters_and_cover_every_term():
    video = TrackedVideo(
        slug="v",
        title="v",
        keywords=tuple(f"a rather long keyword phrase number {n}" for n in range(30)),
        hashtags=("StandWithUkraine",),
        urls=("https://t.me/kyiv_witness/4182",),
    )
    queries = build_queries(video)
    assert len(queries) > 1 and all(len(q) <= 512 for q in queries)
    assert all(q.endswith(" -is:retweet") for q in queries)
    joined = " ".join(queries)
    assert 'url:"https://t.me/kyiv_witness/4182"' in joined and "#StandWithUkraine" in joined
    assert all(f'"{k}"' in joined for k in video.keywords)


def test_simulated_tweets_have_the_documented_fields(sim):
    post = sim.world.model.visible("x", sim.world.now())[0]
    served = httpx.get(
        sim.base_url("x") + "/2/tweets",
        params={"ids": post.id},
        headers={"Authorization": f"Bearer {SIM_BEARER_TOKEN}"},
    ).json()["data"][0]
    assert set(TWEET) <= set(served) | {"referenced_tweets", "entities"}
    assert set(TWEET["public_metrics"]) == set(served["public_metrics"])


async def test_discover_finds_every_simulated_tweet_and_no_noise(
    sim, http_client, clock, sim_video
):
    found = await sim_collector(sim, http_client, clock).discover(sim_video)
    assert {r.platform_post_id for r in found} == footage(sim)
    assert not {p.id for p in noise_posts(sim.world)} & {r.platform_post_id for r in found}
    assert all(r.author and r.url.startswith("https://x.com/") for r in found)
    search = sim.world.requests_to("x", "search/recent")[0]
    params = parse_qs(search.query)
    assert params["max_results"] == ["100"] and "public_metrics" in params["tweet.fields"][0]
    assert "start_time" not in params  # the video started long before the 7-day window


async def test_discover_sends_start_time_for_a_fresh_video(sim, http_client, sim_video):
    video = replace(sim_video, started_at=sim.world.now() - timedelta(days=2))
    found = await sim_collector(sim, http_client, sim.world.now).discover(video)
    assert {r.platform_post_id for r in found} == footage(sim)
    assert "start_time" in parse_qs(sim.world.requests_to("x", "search/recent")[0].query)


async def test_discover_keeps_quote_edges(sim, http_client, clock, sim_video):
    found = await sim_collector(sim, http_client, clock).discover(sim_video)
    model = {p.id: p for p in sim.world.model.posts["x"]}
    quotes = [r for r in found if r.relation == "quote"]
    assert quotes and all(
        r.parent_platform_post_id == model[r.platform_post_id].parent_id for r in quotes
    )


async def test_refresh_returns_simulator_counters_100_ids_per_call(sim, http_client, clock):
    posts = sim.world.model.visible("x", sim.world.now())
    missing = [str(10**18 + n) for n in range(100)]
    known = [KnownPost("x", p.id) for p in posts] + [KnownPost("x", m) for m in missing]
    items = await sim_collector(sim, http_client, clock).refresh(known)
    calls = sim.world.requests_to("x", "/2/tweets")
    assert len(calls) == 2
    assert [len(parse_qs(c.query)["ids"][0].split(",")) for c in calls] == [100, len(known) - 100]
    observations = {i.platform_post_id: i for i in items if isinstance(i, Observation)}
    assert set(observations) == {p.id for p in posts}
    for post in posts:
        c = post.counters(sim.world.now())
        obs = observations[post.id]
        assert (obs.views, obs.likes, obs.shares, obs.comments, obs.quotes) == (
            c["views"],
            c["likes"],
            c["shares"],
            c["comments"],
            c["quotes"],
        )
    assert {i.platform_post_id for i in items if isinstance(i, Gone)} == set(missing)


async def test_deleted_tweet_becomes_gone(sim, http_client, clock):
    doomed = next(p for p in sim.world.model.posts["x"] if p.gone_at is not None)
    c = sim_collector(sim, http_client, clock)
    sim.world.clock.set(doomed.gone_at + timedelta(minutes=1))
    [item] = await c.refresh([KnownPost("x", doomed.id)])
    assert isinstance(item, Gone) and "Could not find tweet" in item.reason


async def test_rejected_token_is_auth_failed_and_never_reported(sim, http_client, clock, sim_video):
    with pytest.raises(AuthFailed) as caught:
        await sim_collector(sim, http_client, clock, token="tok-SECRET").discover(sim_video)
    assert "tok-SECRET" not in str(caught.value)


async def test_rate_limit_carries_retry_after(sim, http_client, clock, sim_video):
    sim.world.set_fault("x", Fault("rate_limit", retry_after_seconds=42))
    with pytest.raises(RateLimited) as caught:
        await sim_collector(sim, http_client, clock).discover(sim_video)
    assert caught.value.retry_after_seconds == 42


async def test_429_without_retry_after_waits_until_the_window_resets(clock, sim_video):
    reset = int(clock().timestamp()) + 600

    async def too_many(request):
        body = {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        }
        headers = {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(reset),
        }
        return JSONResponse(body, status_code=429, headers=headers)

    app = Starlette(routes=[Route("/2/tweets/search/recent", too_many)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        with pytest.raises(RateLimited) as caught:
            await collector(client, "http://api.test", clock).discover(sim_video)
    assert caught.value.retry_after_seconds == 600


async def test_runner_stores_tweets_quote_parents_and_counters(
    sim, http_client, clock, sink, engine, tracked_sim_video
):
    runner = CollectorRunner(sim_collector(sim, http_client, clock), sink, clock, http_client)
    assert (await runner.discover([tracked_sim_video])).status == "ok"
    report = await runner.refresh()
    assert report.status == "ok"
    posts = list(read.iter_posts(engine, read.PostFilter(platform="x")))
    assert {p.platform_post_id for p in posts} == footage(sim)
    assert report.observations_written == len(posts)
    quotes = [p for p in posts if p.relation == "quote"]
    assert quotes and all(q.parent_platform_post_id in footage(sim) for q in quotes)
    assert all(p.views is not None for p in posts)
    assert not any("&amp;" in (p.text or "") for p in posts)
