"""Reddit: parsers on real recordings, error bodies from a recorded-reply server, the collector
against the simulator (OAuth, search, /api/info batches, crossposts, gone posts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collectors.base import (
    AuthFailed,
    Gone,
    KnownPost,
    Observation,
    PostError,
    PostRef,
    RateLimited,
    SourceUnavailable,
    TrackedVideo,
)
from collectors.reddit import RedditCollector, RedditSettings, _things, keyword_queries
from collectors.runner import CollectorRunner
from simulator.reddit import noise_posts
from simulator.world import Fault
from storage import read
from tests.helpers import served_on_loopback

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def load(shared_fixtures, name):
    return json.loads((shared_fixtures / "reddit" / name).read_text())


# --- parsers on real recordings -------------------------------------------------------------


def test_from_payload_reads_recorded_info_post(shared_fixtures):
    (data,) = _things(load(shared_fixtures, "api-info_single-t3_uflrmv_2022.json"))
    ref = RedditCollector.from_payload(data)
    assert ref is not None
    assert ref.platform_post_id == "uflrmv"
    assert ref.author == "Lil_SpazTest"
    assert ref.text == "Test post"
    assert ref.published_at == datetime.fromtimestamp(1651358011, UTC)
    assert ref.url == "https://www.reddit.com/r/<TEST_SUBREDDIT>/comments/uflrmv/test_post/"
    assert ref.parent_platform_post_id is None and ref.relation is None


def test_observation_maps_score_comments_crossposts_and_leaves_views_null(shared_fixtures):
    (data,) = _things(load(shared_fixtures, "api-info_single-t3_uflrmv_2022.json"))
    obs = RedditCollector.observation_from_payload(data, NOW)
    assert (obs.likes, obs.comments, obs.shares) == (1, 1, 0)
    assert obs.views is None and obs.quotes is None


def test_batch_info_keeps_only_submissions_of_a_mixed_listing(shared_fixtures):
    body = load(shared_fixtures, "api-info_batch-100-fullnames_2020.json")
    kinds = [c["kind"] for c in body["data"]["children"]]
    things = _things(body)
    assert len(things) == kinds.count("t3") and set(kinds) == {"t1", "t3", "t5"}
    observations = [RedditCollector.observation_from_payload(d, NOW) for d in things]
    assert all(o.likes is not None and o.comments is not None for o in observations)


def test_unknown_id_gives_an_empty_listing(shared_fixtures):
    assert _things(load(shared_fixtures, "api-info_unknown-id_empty-listing_2020.json")) == []


@pytest.mark.parametrize(
    "name", ["comments_hmkfma_crosspost_2020.json", "comments_c27k6l_crosspost_2019.json"]
)
def test_crosspost_points_at_its_parent(shared_fixtures, name):
    post_listing, comment_listing = load(shared_fixtures, name)
    (data,) = _things(post_listing)
    ref = RedditCollector.from_payload(data)
    assert ref.parent_platform == "reddit" and ref.parent_platform_post_id == "6vx01b"
    assert ref.relation == "crosspost"
    assert _things(comment_listing) == []  # the second Listing holds comments, not posts


def test_fresh_video_post_is_parsed_before_transcoding_finishes(shared_fixtures):
    (data,) = _things(load(shared_fixtures, "comments_1o1hekp_video-post_2025.json")[0])
    ref = RedditCollector.from_payload(data)
    assert ref.platform_post_id == "1o1hekp"
    assert ref.extra["link"].startswith("https://v.redd.it/")


def test_duplicates_are_two_listings_of_the_same_link(shared_fixtures):
    original, others = load(shared_fixtures, "duplicates_avj2v_2020.json")
    xkcd = TrackedVideo(slug="x", title="x", urls=("https://xkcd.com/695",))
    refs = [RedditCollector.from_payload(d, xkcd) for d in _things(original) + _things(others)]
    assert [r.platform_post_id for r in refs][:1] == ["avj2v"] and len(refs) == 7
    assert all(r.matched_by == "url:https://xkcd.com/695" for r in refs)
    assert all(r.parent_platform_post_id is None for r in refs)


def test_shared_youtube_links_match_with_their_extras(shared_fixtures):
    things = _things(load(shared_fixtures, "domain-youtube.com_new_2020.json"))
    video = TrackedVideo(
        slug="mi", title="mi", urls=("https://www.youtube.com/watch?v=VuVjX0Op-M8",)
    )
    refs = [r for d in things if (r := RedditCollector.from_payload(d, video))]
    assert [r.platform_post_id for r in refs] == ["hleyaa", "hley05"]
    assert {r.parent_platform_post_id for r in refs} == {"hl55nz"}


def test_info_by_url_flags_removed_submissions(shared_fixtures):
    things = _things(load(shared_fixtures, "api-info_url-youtube.com_2020.json"))
    reasons = {d["id"]: RedditCollector.gone_reason(d) for d in things}
    assert reasons["hknd1q"] == "removed on Reddit (author)"
    assert reasons["hk3et6"] == "removed on Reddit (moderator)"
    assert reasons["hk0n1q"] is None


@pytest.mark.parametrize(
    "name",
    [
        "front_new_limit100_with-reddit-video_2020.json",
        "r-askreddit_new_limit100_2020.json",
        "r-all_new_before-t3_kzj68i_2021.json",
        "r-all_new_limit100_with-crosspost_2021.json",
        "search_r-all_q-praw-oauth-search_2020.json",
    ],
)
def test_every_recorded_listing_item_parses(shared_fixtures, name):
    things = _things(load(shared_fixtures, name))
    refs = [RedditCollector.from_payload(d) for d in things]
    assert refs and all(r is not None and r.published_at and r.url for r in refs)
    parents = {r.platform_post_id: r.parent_platform_post_id for r in refs}
    if "with-crosspost" in name:
        assert parents["kzj669"] == "kzit8e"


def test_search_hits_are_rechecked_against_the_phrase(shared_fixtures):
    things = _things(load(shared_fixtures, "search_r-all_q-praw-oauth-search_2020.json"))
    praw = TrackedVideo(slug="p", title="p", keywords=("PRAW",))
    other = TrackedVideo(slug="o", title="o", keywords=("captured Russian soldier",))
    assert any(RedditCollector.from_payload(d, praw) for d in things)
    assert not any(RedditCollector.from_payload(d, other) for d in things)


def test_keyword_phrases_are_or_joined_within_the_query_limit():
    phrases = [f"phrase number {n} with some words" for n in range(30)]
    queries = keyword_queries(phrases)
    assert len(queries) > 1 and all(len(q) <= 512 for q in queries)
    assert sum(q.count('"') for q in queries) == 60


# --- error bodies, served as recorded -------------------------------------------------------


class Recorded:
    """A fake Reddit that answers each path with a recorded body; records what it was asked."""

    def __init__(self) -> None:
        self.replies: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.token_reply: tuple[int, bytes, dict[str, str]] | None = None
        self.requests: list[tuple[str, dict[str, str]]] = []

    def app(self) -> Starlette:
        async def token(request: Request) -> Response:
            self.requests.append((request.url.path, dict(request.headers)))
            if self.token_reply is not None:
                status, body, headers = self.token_reply
                return Response(body, status, headers, media_type="application/json")
            return JSONResponse({"access_token": "t", "token_type": "bearer", "expires_in": 3600})

        async def api(request: Request) -> Response:
            self.requests.append((request.url.path, dict(request.headers)))
            status, body, headers = self.replies.get(request.url.path, (404, b"{}", {}))
            return Response(body, status, headers)

        return Starlette(
            routes=[
                Route("/api/v1/access_token", token, methods=["POST"]),
                Route("/{path:path}", api),
            ]
        )


@pytest.fixture(scope="module")
def recorded():
    yield from served_on_loopback(Recorded())


@pytest.fixture
def fake(recorded):
    recorded.replies.clear()
    recorded.requests.clear()
    recorded.token_reply = None
    return recorded


def _raw(shared_fixtures, name):
    return (shared_fixtures / "reddit" / name).read_bytes()


def _json_reply(shared_fixtures, name, status=200, **headers):
    return (status, _raw(shared_fixtures, name), {"content-type": "application/json", **headers})


def _collector(client, clock, base, **settings):
    config = RedditSettings(
        base_url=base,
        auth_url=base,
        client_id=settings.pop("client_id", "app-id"),
        client_secret=settings.pop("client_secret", "s3cret-value"),
        **settings,
    )
    return RedditCollector(client, clock, config)


APPLE = TrackedVideo(slug="a", title="a", keywords=("apple pie",))


async def test_invalid_token_html_reauthenticates_once_then_fails(
    shared_fixtures, fake, http_client, clock
):
    html = (
        401,
        _raw(shared_fixtures, "error_401_invalid-token.html"),
        {"content-type": "text/html"},
    )
    fake.replies["/search"] = html
    with pytest.raises(AuthFailed, match=r"collectors\.reddit\.client_secret"):
        await _collector(http_client, clock, fake.url).discover(APPLE)
    paths = [p for p, _ in fake.requests]
    assert paths == ["/api/v1/access_token", "/search", "/api/v1/access_token", "/search"]


async def test_requests_carry_basic_auth_bearer_and_user_agent(
    shared_fixtures, fake, http_client, clock
):
    fake.replies["/api/info"] = _json_reply(shared_fixtures, "api-info_single-t3_uflrmv_2022.json")
    collector = _collector(http_client, clock, fake.url, user_agent="python:test:1.0 (by /u/me)")
    (obs,) = await collector.refresh([KnownPost("reddit", "uflrmv")])
    assert isinstance(obs, Observation) and obs.likes == 1
    (_, token_headers), (_, api_headers) = fake.requests
    assert token_headers["authorization"].startswith("Basic ")
    assert api_headers["authorization"] == "bearer t"
    assert api_headers["user-agent"] == token_headers["user-agent"] == "python:test:1.0 (by /u/me)"


async def test_unknown_id_in_info_batch_is_a_miss(shared_fixtures, fake, http_client, clock):
    fake.replies["/api/info"] = _json_reply(
        shared_fixtures, "api-info_unknown-id_empty-listing_2020.json"
    )
    (item,) = await _collector(http_client, clock, fake.url).refresh([KnownPost("reddit", "0")])
    # Issue 8: a miss, not Gone (storage marks it gone after repeated misses).
    assert isinstance(item, PostError) and item.is_miss and "/api/info" in item.message


async def test_html_429_waits_for_retry_after(shared_fixtures, fake, http_client, clock):
    fake.replies["/search"] = (
        429,
        _raw(shared_fixtures, "error_429_too-many-requests_retry-after.html"),
        {"content-type": "text/html", "retry-after": "4"},
    )
    with pytest.raises(RateLimited) as caught:
        await _collector(http_client, clock, fake.url).discover(APPLE)
    assert caught.value.retry_after_seconds == 4


async def test_token_endpoint_429_without_retry_after_waits_a_minute(
    shared_fixtures, fake, http_client, clock
):
    fake.token_reply = _json_reply(
        shared_fixtures, "error_429_too-many-requests_token-endpoint.json", status=429
    )
    with pytest.raises(RateLimited) as caught:
        await _collector(http_client, clock, fake.url).discover(APPLE)
    assert caught.value.retry_after_seconds == 60


async def test_forbidden_search_is_an_auth_failure(shared_fixtures, fake, http_client, clock):
    fake.replies["/search"] = _json_reply(shared_fixtures, "error_403_forbidden_2020.json", 403)
    with pytest.raises(AuthFailed, match="HTTP 403"):
        await _collector(http_client, clock, fake.url).discover(APPLE)


@pytest.mark.parametrize(
    ("name", "status"),
    [("error_403_quarantined-subreddit_2020.json", 403), ("error_404_not-found_2020.json", 404)],
)
async def test_unreadable_duplicates_are_skipped(
    shared_fixtures, fake, http_client, clock, name, status
):
    single = json.loads(_raw(shared_fixtures, "api-info_single-t3_uflrmv_2022.json"))
    single["data"]["children"][0]["data"]["num_crossposts"] = 3
    fake.replies["/api/info"] = (200, json.dumps(single).encode(), {})
    fake.replies["/duplicates/uflrmv"] = _json_reply(shared_fixtures, name, status)
    items = await _collector(http_client, clock, fake.url).refresh([KnownPost("reddit", "uflrmv")])
    assert [type(i) for i in items] == [Observation]


async def test_quarantined_listing_outside_duplicates_is_reported(
    shared_fixtures, fake, http_client, clock
):
    fake.replies["/search"] = _json_reply(
        shared_fixtures, "error_403_quarantined-subreddit_2020.json", 403
    )
    with pytest.raises(AuthFailed, match="quarantined"):
        await _collector(http_client, clock, fake.url).discover(APPLE)


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("error_500_internal-server-error.json", 500, "server error HTTP 500"),
        ("error_503_empty-body.json", 503, "server error HTTP 503"),
        ("edge_200_truncated-json_bad-json.json", 200, "malformed response"),
    ],
)
async def test_server_errors_and_truncated_json_are_source_unavailable(
    shared_fixtures, fake, http_client, clock, name, status, message
):
    fake.replies["/search"] = _json_reply(shared_fixtures, name, status)
    with pytest.raises(SourceUnavailable, match=message):
        await _collector(http_client, clock, fake.url).discover(APPLE)


# --- against the simulator ------------------------------------------------------------------


def _sim_collector(client, sim, clock, **settings):
    return _collector(client, clock, sim.base_url("reddit"), **settings)


def _footage_ids(sim):
    return {p.id for p in sim.world.model.footage_posts(sim.world.now()) if p.platform == "reddit"}


async def test_discover_finds_every_simulated_submission_and_no_noise(
    sim, http_client, clock, sim_video
):
    found = await _sim_collector(http_client, sim, clock).discover(sim_video)
    assert {ref.platform_post_id for ref in found} == _footage_ids(sim)
    assert all(ref.matched_by for ref in found)
    parents = {r.platform_post_id: r.parent_platform_post_id for r in found}
    crossposts = {
        p.id: p.parent_id for p in sim.world.model.posts["reddit"] if p.relation == "crosspost"
    }
    assert {k: v for k, v in parents.items() if v} == {
        k: v for k, v in crossposts.items() if k in parents
    }


async def test_noise_post_is_returned_by_search_but_not_kept(sim, http_client, clock, sim_video):
    collector = _sim_collector(http_client, sim, clock)
    body = await collector._get("/search", {"q": keyword_queries(sim_video.keywords)[0]})
    assert "zz0n01" in {d["id"] for d in _things(body)}
    assert "zz0n01" not in {r.platform_post_id for r in await collector.discover(sim_video)}
    assert {p.id for p in noise_posts(sim.world)} == {"zz0n01", "zz0n02"}


async def test_discovery_batches_phrases_into_one_search(sim, http_client, clock, sim_video):
    await _sim_collector(http_client, sim, clock).discover(sim_video)
    searches = sim.world.requests_to("reddit", "/search")
    assert len(searches) == 1 + len(sim_video.urls)  # all phrases OR-ed, plus one url: each
    assert len(sim.world.requests_to("reddit", "/access_token")) == 1


async def test_refresh_returns_simulator_counters_and_crosspost_children(
    sim, http_client, clock, sim_video
):
    collector = _sim_collector(http_client, sim, clock)
    refs = await collector.discover(sim_video)
    before = len(sim.world.requests)
    items = await collector.refresh([KnownPost("reddit", r.platform_post_id) for r in refs])
    asked = sim.world.requests[before:]
    assert [r.path.split("/")[2] for r in asked] == ["api", "duplicates"]
    now = sim.world.now()
    for obs in (i for i in items if isinstance(i, Observation)):
        counters = sim.world.model.get("reddit", obs.platform_post_id).counters(now)
        assert (obs.likes, obs.comments, obs.shares) == (
            counters["likes"],
            counters["comments"],
            counters["shares"],
        )
        assert obs.views is None
    children = [i for i in items if isinstance(i, PostRef)]
    first = sim.world.model.posts["reddit"][0]
    assert children and all(c.parent_platform_post_id == first.id for c in children)
    assert all(c.relation == "crosspost" and c.matched_by == "cascade" for c in children)
    # Crossposts already looked up are not asked for again until their count grows.
    again = len(sim.world.requests)
    await collector.refresh([KnownPost("reddit", first.id)])
    assert len(sim.world.requests_to("reddit", "/duplicates")) == 1
    assert len(sim.world.requests) == again + 1


async def test_refresh_sends_at_most_100_fullnames_per_call(sim, http_client, clock):
    posts = [KnownPost("reddit", f"x{n:05d}") for n in range(230)]
    items = await _sim_collector(http_client, sim, clock).refresh(posts)
    calls = sim.world.requests_to("reddit", "/api/info")
    sizes = [len(parse_qs(r.query)["id"][0].split(",")) for r in calls]
    assert sizes == [100, 100, 30]
    assert all(isinstance(i, PostError) and i.is_miss for i in items) and len(items) == 230


async def test_deleted_submission_is_marked_gone(sim, http_client, clock):
    # This seed deletes no Reddit post: delete one crosspost in this test's own world.
    gone = [p for p in sim.world.model.posts["reddit"] if p.relation == "crosspost"][:1]
    gone[0].gone_at = sim.world.now() - timedelta(hours=1)
    known = [KnownPost("reddit", p.id) for p in sim.world.model.posts["reddit"]]
    items = await _sim_collector(http_client, sim, clock).refresh(known)
    marked = {i.platform_post_id: i.reason for i in items if isinstance(i, Gone)}
    assert marked == {p.id: "removed on Reddit (deleted)" for p in gone}


async def test_token_is_cached_and_renewed_once_when_the_server_expires_it(
    sim, http_client, clock, sim_video
):
    collector = _sim_collector(http_client, sim, clock)
    await collector.discover(sim_video)
    await collector.discover(sim_video)
    assert len(sim.world.requests_to("reddit", "/access_token")) == 1
    sim.world.clock.advance(25 * 3600)  # the server's token lifetime ends; ours is not over yet
    await collector.discover(sim_video)
    assert len(sim.world.requests_to("reddit", "/access_token")) == 2


async def test_token_is_renewed_when_it_expires_by_our_clock(sim, http_client, clock, sim_video):
    collector = _sim_collector(http_client, sim, clock)
    await collector.discover(sim_video)
    clock.advance(hours=24)
    await collector.discover(sim_video)
    assert len(sim.world.requests_to("reddit", "/access_token")) == 2
    assert len(sim.world.requests_to("reddit", "/search")) == 6  # no 401 round trip


async def test_rejected_credentials_fail_without_leaking_the_secret(
    sim, http_client, clock, sim_video
):
    collector = _sim_collector(http_client, sim, clock, client_secret="")
    with pytest.raises(AuthFailed) as caught:
        await collector.discover(sim_video)
    assert "collectors.reddit.client_secret" in str(caught.value)
    collector = _sim_collector(http_client, sim, clock, client_id="")
    with pytest.raises(AuthFailed):
        await collector.discover(sim_video)


async def test_rate_limit_headers_are_read(sim, http_client, clock, sim_video):
    collector = _sim_collector(http_client, sim, clock)
    await collector.discover(sim_video)
    window = collector.rate_window
    api_calls = len(sim.world.requests_to("reddit")) - 1
    assert window.used == api_calls and window.remaining == 1000 - api_calls
    assert window.resets_at == clock() + timedelta(seconds=600)


async def test_used_up_window_stops_until_reset(sim, http_client, clock, sim_video):
    collector = _sim_collector(http_client, sim, clock)
    await collector.discover(sim_video)
    collector.rate_window.remaining = 0
    before = len(sim.world.requests)
    with pytest.raises(RateLimited) as caught:
        await collector.discover(sim_video)
    assert caught.value.retry_after_seconds == 600 and len(sim.world.requests) == before
    clock.advance(seconds=601)
    await collector.discover(sim_video)


async def test_rate_limit_carries_retry_after(sim, http_client, clock, sim_video):
    collector = _sim_collector(http_client, sim, clock)
    await collector.discover(sim_video)
    sim.world.set_fault("reddit", Fault("rate_limit", retry_after_seconds=42))
    with pytest.raises(RateLimited) as caught:
        await collector.discover(sim_video)
    assert caught.value.retry_after_seconds == 42


async def test_runner_stores_posts_counters_and_crosspost_parents(
    sim, http_client, sink, clock, engine, tracked_sim_video
):
    collector = _sim_collector(http_client, sim, clock)
    runner = CollectorRunner(collector, sink, clock, http_client)
    found = await runner.discover([tracked_sim_video])
    refreshed = await runner.refresh()
    assert (found.status, refreshed.status) == ("ok", "ok")
    assert found.posts_found == len(_footage_ids(sim))
    assert refreshed.observations_written == len(_footage_ids(sim))
    first = sim.world.model.posts["reddit"][0]
    stored = read.find_post(engine, "reddit", first.id)
    assert stored.likes == first.counters(sim.world.now())["likes"] and stored.views is None
    children = read.child_posts(engine, "reddit", first.id)
    crossposts = {p.id for p in sim.world.model.posts["reddit"] if p.parent_id == first.id}
    assert {c.platform_post_id for c in children} == crossposts
    assert all(c.relation == "crosspost" for c in children)


def _old_format(**fields):
    """A t3 `data` as /api/info returned it before `removed_by_category` existed."""
    return {
        "id": "t4ab9c",
        "name": "t3_t4ab9c",
        "title": "Captured soldier calls his mother",
        "subreddit": "ukraine",
        "author": "kyiv_witness",
        "selftext": "Footage: https://youtu.be/Qm7cTs2vXa0",
        "is_self": True,
        "score": 812,
        "num_comments": 96,
        "num_crossposts": 3,
        "created_utc": 1646215200.0,
        "permalink": "/r/ukraine/comments/t4ab9c/captured_soldier_calls_his_mother/",
        "url": "https://www.reddit.com/r/ukraine/comments/t4ab9c/captured_soldier_calls_his_mother/",
        **fields,
    }


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"author": "[deleted]", "selftext": "[deleted]"}, "deleted on Reddit (selftext [deleted])"),
        ({"selftext": "[removed]"}, "removed on Reddit (selftext [removed])"),
        ({"author": "[deleted]", "selftext": "", "is_self": False}, "deleted on Reddit (author [deleted])"),
        ({"removed_by_category": "moderator"}, "removed on Reddit (moderator)"),
        ({}, None),
    ],
)  # fmt: skip
def test_older_deletion_markers_make_a_post_gone(fields, reason):
    # Issue 9: posts removed in the older format were refreshed as live.
    assert RedditCollector.gone_reason(_old_format(**fields)) == reason
