"""Bluesky: parsers on every real recording, collector and session against the simulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette
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
    manual_post,
)
from collectors.bluesky import (
    SEARCH_DISABLED,
    BlueskyCollector,
    BlueskySettings,
    HandleResolver,
    xrpc_error,
)
from collectors.runner import CollectorRunner
from simulator.bluesky import SIM_APP_PASSWORD, SIM_HANDLE, noise_posts
from simulator.world import Fault
from storage import read

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def is_miss(item: object) -> bool:
    return isinstance(item, PostError) and item.is_miss


def load(shared_fixtures, name):
    return json.loads((shared_fixtures / "bluesky" / name).read_text(encoding="utf-8"))


def collector(client, base_url, clock, *, login=True, password=SIM_APP_PASSWORD):
    config = BlueskySettings(
        base_url=base_url,
        auth_url=base_url,
        handle=SIM_HANDLE if login else "",
        app_password=password if login else "",
    )
    return BlueskyCollector(client, clock, config)


def sim_collector(sim, client, clock, **kwargs):
    return collector(client, sim.base_url("bluesky"), clock, **kwargs)


def footage(sim):
    return {p.id for p in sim.world.model.footage_posts(sim.world.now()) if p.platform == "bluesky"}


# --- parsers on the recordings ------------------------------------------------------------


def test_get_posts_recording_maps_counters_and_leaves_views_null(shared_fixtures):
    post = load(shared_fixtures, "getPosts_single-uri.json")["posts"][0]
    obs = BlueskyCollector.observation_from_payload(post, NOW)
    assert (obs.likes, obs.shares, obs.comments, obs.quotes) == (4, 0, 0, 0)
    assert obs.views is None
    ref = BlueskyCollector.from_payload(post)
    assert (
        ref.platform_post_id
        == "at://did:plc:ic6zqvuw5ulmfpjiwnhsr2ns/app.bsky.feed.post/3k7qmjev5lr2s"
    )
    assert ref.url == "https://bsky.app/profile/soubhikbarari.bsky.social/post/3k7qmjev5lr2s"
    assert ref.author == "soubhikbarari.bsky.social"
    assert ref.published_at == datetime(2023, 9, 19, 11, 32, 54, 574000, tzinfo=UTC)
    assert ref.relation is None


def test_facet_links_and_tags_match_although_the_text_shortens_them(shared_fixtures):
    post = load(shared_fixtures, "getPosts_single-uri.json")["posts"][0]
    by_link = TrackedVideo(slug="v", title="v", urls=("https://rstats.ai/gov.html",))
    assert (
        BlueskyCollector.from_payload(post, by_link).matched_by == "url:https://rstats.ai/gov.html"
    )
    by_tag = TrackedVideo(slug="v", title="v", hashtags=("rgov",))
    assert BlueskyCollector.from_payload(post, by_tag).matched_by == "hashtag:rgov"


def test_search_recording_parses_every_post_and_matches_by_text_link_and_quote(shared_fixtures):
    posts = load(shared_fixtures, "searchPosts_q-redistricting.json")["posts"]
    refs = [BlueskyCollector.from_payload(p) for p in posts]
    assert all(isinstance(r, PostRef) for r in refs) and len({r.key for r in refs}) == len(posts)
    keyword = TrackedVideo(slug="v", title="v", keywords=("redistricting",))
    matched = [BlueskyCollector.from_payload(p, keyword) for p in posts]
    assert sum(m is not None for m in matched) >= len(posts) // 2
    # The text shows "open.substack.com/pub/christac..."; the embed and facet carry the URL.
    card = "https://open.substack.com/pub/christackett/p/the-pawn-or-the-collaborator?r=92vnq&utm_medium=ios"
    by_url = TrackedVideo(slug="v", title="v", urls=(card,))
    assert BlueskyCollector.from_payload(posts[1], by_url).matched_by == f"url:{card}"
    quotes = [r for r in refs if r.relation == "quote"]
    assert quotes and all(r.parent_platform_post_id.startswith("at://") for r in quotes)
    assert "at://did:plc:pjiafkey2cokiupsxpswqlk7/app.bsky.feed.post/3lpjgwfr3gs27" in {
        r.parent_platform_post_id for r in quotes
    }


def test_get_quotes_recording_gives_quote_posts_of_the_subject(shared_fixtures):
    body = load(shared_fixtures, "getQuotes.json")
    refs = [BlueskyCollector.from_payload(p) for p in body["posts"]]
    assert refs and all(r.relation == "quote" for r in refs)
    assert {r.parent_platform_post_id for r in refs} == {body["uri"]}


def test_get_reposted_by_recording_becomes_reshare_edges(shared_fixtures):
    body = load(shared_fixtures, "getRepostedBy.json")
    edges = [BlueskyCollector.repost_ref(body["uri"], p) for p in body["repostedBy"]]
    assert [e.platform_post_id for e in edges] == [
        f"{body['uri']}#repost-by-did:plc:jyolltxtyl2yq2jamky6mwjn"
    ]
    edge = edges[0]
    assert (edge.relation, edge.parent_platform_post_id) == ("reshare", body["uri"])
    assert edge.author == "jaeyeonkim.bsky.social" and edge.extra["kind"] == "repost"


def test_author_feed_recording_yields_reposts_and_reply_parents(shared_fixtures):
    feed = load(shared_fixtures, "getAuthorFeed_with-reposts.json")["feed"]
    reposts = [BlueskyCollector.repost_from_feed_item(item) for item in feed]
    edges = [e for e in reposts if e is not None]
    assert len(edges) == sum("reason" in item for item in feed) == 1
    assert edges[0].author == "chriskenny.bsky.social"
    assert edges[0].published_at == datetime(2025, 4, 25, 18, 43, 12, 48000, tzinfo=UTC)
    for item in feed:
        ref = BlueskyCollector.from_payload(item["post"])
        if "reply" in item and ref.relation != "quote":
            assert ref.relation == "reply"
            assert ref.parent_platform_post_id == item["reply"]["parent"]["uri"]


def test_thread_recording_root_is_the_same_post_as_get_posts(shared_fixtures):
    thread = load(shared_fixtures, "getPostThread.json")["thread"]
    single = load(shared_fixtures, "getPosts_single-uri.json")["posts"][0]
    assert BlueskyCollector.from_payload(thread["post"]) == BlueskyCollector.from_payload(single)


def test_error_recordings_read_as_xrpc_errors(shared_fixtures):
    for name, expected in [
        ("error_400_InvalidRequest.json", "InvalidRequest"),
        ("error_401_createSession.json", "AuthenticationRequired"),
    ]:
        raw = (shared_fixtures / "bluesky" / name).read_bytes()
        assert xrpc_error(httpx.Response(400, content=raw))[0] == expected
    assert xrpc_error(httpx.Response(502, content=b"<html>bad gateway</html>")) == ("HTTP 502", "")


def recorded_error_app(shared_fixtures):
    """A tiny PDS/AppView answering with the recorded error bodies."""
    login_refused = (shared_fixtures / "bluesky/error_401_createSession.json").read_bytes()
    invalid = (shared_fixtures / "bluesky/error_400_InvalidRequest.json").read_bytes()

    async def create_session(request):
        return Response(login_refused, status_code=401, media_type="application/json")

    async def get_posts(request):
        return Response(invalid, status_code=400, media_type="application/json")

    return Starlette(
        routes=[
            Route("/xrpc/com.atproto.server.createSession", create_session, methods=["POST"]),
            Route("/xrpc/app.bsky.feed.getPosts", get_posts),
        ]
    )


async def test_recorded_login_refusal_is_auth_failed_without_the_password(
    shared_fixtures, clock, sim_video
):
    app = recorded_error_app(shared_fixtures)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        c = collector(client, "http://pds.test", clock, password="app-pass-SECRET")
        with pytest.raises(AuthFailed) as caught:
            await c.discover(sim_video)
    assert "AuthenticationRequired" in str(caught.value)
    assert "app-pass-SECRET" not in str(caught.value)


async def test_recorded_invalid_request_is_source_unavailable(shared_fixtures, clock):
    app = recorded_error_app(shared_fixtures)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        c = collector(client, "http://appview.test", clock, login=False)
        with pytest.raises(SourceUnavailable, match="InvalidRequest"):
            await c.refresh([KnownPost("bluesky", "at://did:plc:x/app.bsky.feed.post/3abc")])


# --- against the simulator -----------------------------------------------------------------


async def test_discover_finds_every_simulated_post_and_no_noise(sim, http_client, clock, sim_video):
    found = await sim_collector(sim, http_client, clock).discover(sim_video)
    assert {r.platform_post_id for r in found} == footage(sim)
    assert not {p.id for p in noise_posts(sim.world)} & {r.platform_post_id for r in found}
    assert all(r.matched_by and r.text and r.author.endswith(".bsky.social") for r in found)
    searches = sim.world.requests_to("bluesky", "searchPosts")
    assert all("limit=100" in r.query and "sort=latest" in r.query for r in searches)
    assert any("url=https" in r.query for r in searches)


async def test_discover_keeps_quote_edges(sim, http_client, clock, sim_video):
    found = await sim_collector(sim, http_client, clock).discover(sim_video)
    model = {p.id: p for p in sim.world.model.posts["bluesky"]}
    quotes = [r for r in found if r.relation == "quote"]
    assert quotes
    assert all(r.parent_platform_post_id == model[r.platform_post_id].parent_id for r in quotes)


async def test_without_login_search_is_disabled_with_a_clear_notice(
    sim, http_client, clock, sim_video, caplog
):
    c = sim_collector(sim, http_client, clock, login=False)
    assert await c.discover(sim_video) == []
    assert await c.discover(sim_video) == []
    assert c.notice == SEARCH_DISABLED and "search disabled: no login configured" in c.notice
    assert [r.getMessage() for r in caplog.records].count(SEARCH_DISABLED) == 1
    assert sim.world.requests_to("bluesky") == []


async def test_wrong_app_password_is_auth_failed_without_the_password(
    sim, http_client, clock, sim_video
):
    c = sim_collector(sim, http_client, clock, password="wrong-SECRET")
    with pytest.raises(AuthFailed) as caught:
        await c.discover(sim_video)
    assert "wrong-SECRET" not in str(caught.value)


async def test_expired_token_is_refreshed_and_the_search_retried(
    sim, http_client, clock, sim_video
):
    c = sim_collector(sim, http_client, clock)
    first = await c.discover(sim_video)
    sim.world.clock.advance(3 * 3600)  # access tokens live 2 h
    second = await c.discover(sim_video)
    assert {r.platform_post_id for r in second} >= {r.platform_post_id for r in first}
    assert len(sim.world.requests_to("bluesky", "createSession")) == 1
    assert len(sim.world.requests_to("bluesky", "refreshSession")) == 1


async def test_refused_refresh_token_falls_back_to_a_new_login(sim, http_client, clock, sim_video):
    c = sim_collector(sim, http_client, clock)
    await c.discover(sim_video)
    c._session.refresh_jwt = "revoked"
    sim.world.clock.advance(3 * 3600)
    assert await c.discover(sim_video)
    assert len(sim.world.requests_to("bluesky", "createSession")) == 2


async def test_refresh_returns_simulator_counters_25_uris_per_call(sim, http_client, clock):
    posts = sim.world.model.visible("bluesky", sim.world.now())
    missing = [f"at://did:plc:missing{n:04d}/app.bsky.feed.post/3none{n}" for n in range(22)]
    known = [KnownPost("bluesky", p.id) for p in posts] + [KnownPost("bluesky", m) for m in missing]
    items = await sim_collector(sim, http_client, clock, login=False).refresh(known)
    calls = sim.world.requests_to("bluesky", "getPosts")
    assert len(calls) == 2
    assert max(len(parse_qs(c.query)["uris"]) for c in calls) == 25
    observations = {i.platform_post_id: i for i in items if isinstance(i, Observation)}
    assert set(observations) == {p.id for p in posts}
    for post in posts:
        counters = post.counters(sim.world.now())
        obs = observations[post.id]
        assert (obs.likes, obs.shares, obs.comments, obs.quotes) == (
            counters["likes"],
            counters["shares"],
            counters["comments"],
            counters["quotes"],
        )
        assert obs.views is None
    # Issue 8: absent from one answer is a miss, not Gone.
    assert {i.platform_post_id for i in items if is_miss(i)} == set(missing)
    assert not [i for i in items if isinstance(i, Gone)]


async def test_refresh_returns_quotes_and_reposts_as_cascade_children(sim, http_client, clock):
    posts = sim.world.model.visible("bluesky", sim.world.now())
    collector = sim_collector(sim, http_client, clock, login=False)
    children: list[PostRef] = []
    # One cascade lookup per post and pass (issue 14): a post whose quotes and reposts both
    # moved has the other looked up on the next pass.
    for _ in range(2):
        collector.begin_pass()
        items = await collector.refresh([KnownPost("bluesky", p.id) for p in posts])
        children += [i for i in items if isinstance(i, PostRef)]
    quotes = {
        (c.platform_post_id, c.parent_platform_post_id) for c in children if c.relation == "quote"
    }
    expected = {(p.id, p.parent_id) for p in posts if p.relation == "quote"}
    assert expected and expected <= quotes
    reposts = [c for c in children if c.relation == "reshare"]
    for post in posts:
        shares = post.counters(sim.world.now())["shares"]
        mine = [r for r in reposts if r.parent_platform_post_id == post.id]
        assert len(mine) == min(shares, 100)
    assert all(r.matched_by == "cascade" and r.extra["kind"] == "repost" for r in reposts)


async def test_deleted_post_is_a_miss_until_storage_counts_enough(sim, http_client, clock):
    doomed = next(p for p in noise_posts(sim.world) if p.gone_at is not None)
    c = sim_collector(sim, http_client, clock, login=False)
    sim.world.clock.set(doomed.gone_at - timedelta(minutes=1))
    before = await c.refresh([KnownPost("bluesky", doomed.id)])
    assert [type(i) for i in before if not isinstance(i, PostRef)] == [Observation]
    sim.world.clock.set(doomed.gone_at + timedelta(minutes=1))
    (item,) = await c.refresh([KnownPost("bluesky", doomed.id)])
    assert is_miss(item) and "getPosts" in item.message


async def test_rate_limit_carries_retry_after(sim, http_client, clock, sim_video):
    sim.world.set_fault("bluesky", Fault("rate_limit", retry_after_seconds=42))
    with pytest.raises(RateLimited) as caught:
        await sim_collector(sim, http_client, clock).discover(sim_video)
    assert caught.value.retry_after_seconds == 42


@pytest.mark.parametrize("kind", ["malformed", "error", "down"])
async def test_bad_responses_become_source_unavailable(sim, http_client, clock, kind):
    sim.world.set_fault("bluesky", Fault(kind))
    post = sim.world.model.visible("bluesky", sim.world.now())[0]
    with pytest.raises(SourceUnavailable):
        await sim_collector(sim, http_client, clock, login=False).refresh(
            [KnownPost("bluesky", post.id)]
        )


async def test_runner_stores_posts_quotes_reposts_and_counters(
    sim, http_client, clock, sink, engine, tracked_sim_video
):
    c = sim_collector(sim, http_client, clock)
    runner = CollectorRunner(c, sink, clock, http_client)
    assert (await runner.discover([tracked_sim_video])).status == "ok"
    clock.advance(minutes=10)
    report = await runner.refresh()
    assert report.status == "ok"
    posts = list(read.iter_posts(engine, read.PostFilter(platform="bluesky")))
    originals = {p.platform_post_id for p in posts if p.relation != "reshare"}
    assert originals == footage(sim)
    edges = [p for p in posts if p.relation == "reshare"]
    assert edges and all(e.parent_platform_post_id in originals for e in edges)
    assert report.observations_written == len(originals)
    assert all(e.latest_observed_at is None for e in edges)
    quoted = [p for p in posts if p.relation == "quote"]
    assert quoted and all(q.parent_platform_post_id in originals for q in quoted)


def test_simulated_post_view_has_every_recorded_field(shared_fixtures, sim):
    recorded = load(shared_fixtures, "getPosts_single-uri.json")["posts"][0]
    post = sim.world.model.visible("bluesky", sim.world.now())[0]
    served = httpx.get(
        sim.base_url("bluesky") + "/xrpc/app.bsky.feed.getPosts", params={"uris": post.id}
    ).json()["posts"][0]
    assert set(recorded) - {"embed"} <= set(served)
    assert set(recorded["author"]) - {"associated"} <= set(served["author"])
    assert {"$type", "createdAt", "text", "langs"} <= set(served["record"])
    for counter in ("replyCount", "repostCount", "likeCount", "quoteCount"):
        assert type(served[counter]) is type(recorded[counter]) is int
    facet = load(shared_fixtures, "searchPosts_q-redistricting.json")["posts"][1]["record"][
        "facets"
    ][0]
    assert set(facet["index"]) == {"byteEnd", "byteStart"}
    linked = next(p for p in sim.world.model.visible("bluesky", sim.world.now()) if p.links)
    view = httpx.get(
        sim.base_url("bluesky") + "/xrpc/app.bsky.feed.getPosts", params={"uris": linked.id}
    ).json()["posts"][0]
    [link] = [f for f in view["record"]["facets"] if "uri" in f["features"][0]]
    text = view["record"]["text"].encode()
    shown = text[link["index"]["byteStart"] : link["index"]["byteEnd"]].decode()
    assert set(link["index"]) == set(facet["index"]) and shown.startswith("youtube.com/")


def test_handles_resolve_to_the_did_once_and_unknown_handles_to_none(sim):
    # Issue 9: a hand-added bsky.app/profile/<handle>/post/<rkey> URL is keyed by its DID.
    post = next(
        p for p in sim.world.model.footage_posts(sim.world.now()) if p.platform == "bluesky"
    )
    did = post.id.removeprefix("at://").split("/")[0]
    with httpx.Client(base_url=sim.base_url("bluesky")) as client:
        resolve = HandleResolver(client)
        assert resolve(post.author.upper()) == did
        assert resolve(post.author) == did
        assert resolve("nobody-here.bsky.social") is None
        assert resolve("nobody-here.bsky.social") is None
    asked = sim.world.requests_to("bluesky", "resolveHandle")
    assert len(asked) == 3  # the resolved handle once (cached), the unknown one each time
    ref = manual_post(
        f"https://bsky.app/profile/{post.author}/post/{post.id.rsplit('/', 1)[1]}",
        resolve_handle=resolve,
    )
    assert (ref.platform, ref.platform_post_id) == ("bluesky", post.id)
    # Without a resolver (or an unknown handle) the URL stays with yt-dlp, never a handle key.
    assert manual_post(f"https://bsky.app/profile/{post.author}/post/x1").platform == "urls"


def linking_app(did: str, handle: str, rkey: str, asked: list[str]) -> Starlette:
    """A PDS/AppView whose search finds one post linking the DID form of a post, and which
    resolves `handle` to `did` (com.atproto.identity.resolveHandle's real shapes)."""
    target = f"https://bsky.app/profile/{did}/post/{rkey}"
    text = f"The original is here {target}"
    link = {"index": {"byteStart": 21, "byteEnd": 21 + len(target)}}
    link["features"] = [{"$type": "app.bsky.richtext.facet#link", "uri": target}]
    post = {
        "uri": "at://did:plc:linker0000000000000000/app.bsky.feed.post/3linker00001",
        "cid": "bafyreilinker",
        "author": {"did": "did:plc:linker0000000000000000", "handle": "linker.bsky.social"},
        "record": {"text": text, "facets": [link], "createdAt": "2026-03-01T10:00:00.000Z"},
        "likeCount": 3,
        "indexedAt": "2026-03-01T10:00:01.000Z",
    }

    async def create_session(request):
        return JSONResponse({"did": "did:plc:me", "accessJwt": "a", "refreshJwt": "r"})

    async def search_posts(request):
        # Only the DID form finds it: the post links that form, not the handle's.
        return JSONResponse({"posts": [post] if request.query_params.get("url") == target else []})

    async def resolve_handle(request):
        asked.append(request.query_params.get("handle", ""))
        if asked[-1] == handle:
            return JSONResponse({"did": did})
        return JSONResponse(
            {"error": "InvalidRequest", "message": "Unable to resolve handle"}, status_code=400
        )

    return Starlette(
        routes=[
            Route("/xrpc/com.atproto.server.createSession", create_session, methods=["POST"]),
            Route("/xrpc/app.bsky.feed.searchPosts", search_posts),
            Route("/xrpc/com.atproto.identity.resolveHandle", resolve_handle),
        ]
    )


async def test_a_video_tracked_by_a_handle_url_finds_posts_linking_its_did_form(clock):
    # Issue 9: a tracked bsky.app/profile/<handle>/post/<rkey> URL is the DID-keyed post.
    did, rkey = "did:plc:origin00000000000000000", "3origin00001"
    asked: list[str] = []
    app = linking_app(did, "witness.bsky.social", rkey, asked)
    handle_url = f"https://bsky.app/profile/Witness.bsky.social/post/{rkey}"
    video = TrackedVideo(
        "v", "Clip", urls=(handle_url, "https://bsky.app/profile/gone.example/post/x")
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app)) as client:
        c = collector(client, "http://appview.test", clock)
        (found,) = await c.discover(video)
        assert found.matched_by == f"url:https://bsky.app/profile/{did}/post/{rkey}"
        await c.discover(video)
    # The handle resolved once (cached); the unknown one is asked again on the next run.
    assert sorted(asked) == ["gone.example", "gone.example", "witness.bsky.social"]
