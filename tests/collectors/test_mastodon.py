"""Mastodon: parsers on real recordings, collector and cascade against the simulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from collectors.base import Gone, KnownPost, Observation, RateLimited, TrackedVideo
from collectors.mastodon import MastodonCollector, MastodonSettings
from collectors.runner import CollectorRunner
from collectors.text import html_to_text
from simulator.model import MASTODON_INSTANCES
from simulator.world import Fault
from storage import read

NOW = datetime(2026, 4, 11, tzinfo=UTC)


def load(shared_fixtures, name):
    return json.loads((shared_fixtures / "mastodon" / name).read_text(encoding="utf-8"))


def test_status_with_video_maps_counters(shared_fixtures):
    status = load(shared_fixtures, "status_video_mastodon-social_113358687695262945.json")
    obs = MastodonCollector.observation_from_payload(status, NOW)
    assert (obs.shares, obs.comments) == (1, 1)
    assert obs.likes == status["favourites_count"] and obs.quotes == status["quotes_count"]
    assert obs.views is None
    ref = MastodonCollector.from_payload(status, "https://mastodon.social")
    assert ref.platform_post_id == status["uri"]
    assert ref.extra == {
        "instance": "https://mastodon.social",
        "id": "113358687695262945",
        "language": "en",
        "author_followers": 3553,
    }
    assert ref.published_at is not None and ref.published_at.tzinfo is not None


def test_status_html_becomes_plain_text_with_links(shared_fixtures):
    status = load(shared_fixtures, "status_gifv_mastodon-social_110446223051565765.json")
    ref = MastodonCollector.from_payload(status, "https://mastodon.social")
    assert "<" not in ref.text and "you're a doo-doo head" in ref.text
    text, links = html_to_text(
        '<p>Tea &amp; a call<br>home <a href="https://t.me/a/1">t.me/a/1</a></p>'
    )
    assert text == "Tea & a call\nhome t.me/a/1" and links == ["https://t.me/a/1"]


def test_quote_post_points_at_the_quoted_status(shared_fixtures):
    status = load(shared_fixtures, "status_quote-post_mastodon-social_115044073088181107.json")
    ref = MastodonCollector.from_payload(status, "https://mastodon.social")
    assert ref.relation == "quote"
    assert ref.parent_platform_post_id == status["quote"]["quoted_status"]["uri"]
    assert MastodonCollector.observation_from_payload(status, NOW).quotes == 0


def test_boost_wrapper_yields_the_original(shared_fixtures):
    wrapper = load(shared_fixtures, "status_reblog-wrapper_local-server.json")
    ref = MastodonCollector.from_payload(wrapper, "http://localhost:3000")
    assert ref.platform_post_id == wrapper["reblog"]["uri"] != wrapper["uri"]
    obs = MastodonCollector.observation_from_payload(wrapper, NOW)
    assert obs.shares == wrapper["reblog"]["reblogs_count"] == 1


def test_hashtag_timeline_and_search_match_by_tag_and_keyword(shared_fixtures):
    (status,) = load(shared_fixtures, "timelines_tag_hoot_local-server.json")
    video = TrackedVideo(slug="v", title="v", hashtags=("Hoot",))
    assert (
        MastodonCollector.from_payload(status, "http://localhost:3000", video).matched_by
        == "hashtag:Hoot"
    )
    search = load(shared_fixtures, "search_v2_q-halcy_all-types_mastodon-social.json")
    empty = load(shared_fixtures, "search_v2_type-statuses_empty_local-server.json")
    assert empty["statuses"] == [] and len(search["statuses"]) == 2
    other = TrackedVideo(slug="v", title="v", keywords=("captured Russian soldier",))
    assert all(MastodonCollector.from_payload(s, "x", other) is None for s in search["statuses"])


def test_reblogged_by_accounts_become_reshare_edges(shared_fixtures):
    accounts = load(shared_fixtures, "statuses_reblogged_by_local-server.json")
    assert load(shared_fixtures, "statuses_reblogged_by_empty_local-server.json") == []
    (edge,) = [MastodonCollector.boost_edge(a, "https://x.example/s/1") for a in accounts]
    assert edge.relation == "reshare" and edge.author == "mastodonpy_test_2"
    assert edge.parent_platform_post_id == "https://x.example/s/1"


def test_trends_and_error_bodies_have_the_shapes_we_rely_on(shared_fixtures):
    trends = load(shared_fixtures, "trends_tags_mastodon-social.json")
    assert all({"name", "history"} <= set(tag) for tag in trends)
    assert load(shared_fixtures, "error_401_invalid-token_local-server.json") == {
        "error": "The access token is invalid"
    }
    assert load(shared_fixtures, "error_404_status-missing_local-server.json")["error"]


def collector(sim, client, clock, **options):
    instances = [sim.base_url("mastodon", i) for i in MASTODON_INSTANCES]
    return MastodonCollector(client, clock, MastodonSettings(instances=instances, **options))


def sim_uri(post):
    return f"https://{post.instance}.example/users/{post.author}/statuses/{post.id}"


async def test_discover_finds_footage_posts_on_every_instance_and_no_noise(
    sim, http_client, clock, sim_video
):
    found = await collector(sim, http_client, clock).discover(sim_video)
    posts = [r for r in found if r.relation != "reshare"]
    expected = {
        sim_uri(p)
        for p in sim.world.model.footage_posts(sim.world.now())
        if p.platform == "mastodon"
    }
    assert {r.platform_post_id for r in posts} == expected
    assert {r.extra["instance"] for r in posts} == {
        sim.base_url("mastodon", i) for i in MASTODON_INSTANCES
    }


async def test_discover_records_boosts_and_quotes_as_cascade_edges(
    sim, http_client, clock, sim_video
):
    found = await collector(sim, http_client, clock).discover(sim_video)
    boosts = [r for r in found if r.relation == "reshare"]
    assert boosts and all(r.parent_platform_post_id and r.extra["edge"] is True for r in boosts)
    quotes = [r for r in found if r.relation == "quote"]
    sim_quotes = [
        p
        for p in sim.world.model.footage_posts(sim.world.now())
        if p.platform == "mastodon" and p.relation == "quote"
    ]
    assert len(quotes) == len(sim_quotes) > 0
    for quote in quotes:
        parent = sim.world.model.get("mastodon", quote.parent_platform_post_id.rsplit("/", 1)[-1])
        assert parent is not None


async def test_refresh_uses_the_batch_endpoint_and_matches_the_simulator(
    sim, http_client, clock, sim_video
):
    c = collector(sim, http_client, clock)
    refs = [r for r in await c.discover(sim_video) if r.relation != "reshare"]
    before = len(sim.world.requests)
    items = await c.refresh(
        [KnownPost(r.platform, r.platform_post_id, r.url, r.extra) for r in refs]
    )
    new = sim.world.requests[before:]
    assert all(r.path.endswith("/api/v1/statuses") for r in new) and len(new) == 2
    for obs in items:
        assert isinstance(obs, Observation)
        post = sim.world.model.get("mastodon", obs.platform_post_id.rsplit("/", 1)[-1])
        counters = post.counters(sim.world.now())
        assert (obs.likes, obs.shares, obs.comments, obs.quotes) == (
            counters["likes"],
            counters["shares"],
            counters["comments"],
            counters["quotes"],
        )


async def test_refresh_marks_deleted_status_gone(sim, http_client, clock, sim_video):
    c = collector(sim, http_client, clock)
    refs = [r for r in await c.discover(sim_video) if r.relation != "reshare"]
    victim = sim.world.model.get("mastodon", refs[0].extra["id"])
    victim.gone_at = sim.world.now()
    items = await c.refresh(
        [KnownPost(r.platform, r.platform_post_id, r.url, r.extra) for r in refs]
    )
    gone = [i for i in items if isinstance(i, Gone)]
    assert [g.platform_post_id for g in gone] == [refs[0].platform_post_id]
    assert sim.world.requests_to("mastodon", f"/statuses/{victim.id}")  # confirmed one by one


async def test_refresh_falls_back_to_single_statuses_on_old_servers(
    sim, http_client, clock, sim_video
):
    c = collector(sim, http_client, clock)
    refs = [r for r in await c.discover(sim_video) if r.relation != "reshare"][:3]
    sim.world.set_fault("mastodon", Fault("error", count=1, status=404))
    items = await c.refresh(
        [KnownPost(r.platform, r.platform_post_id, r.url, r.extra) for r in refs]
    )
    assert all(isinstance(i, Observation) for i in items) and len(items) == 3


async def test_rate_limit_and_anonymous_search_refusal(sim, http_client, clock, sim_video):
    c = collector(sim, http_client, clock)
    sim.world.set_fault("mastodon", Fault("rate_limit", retry_after_seconds=300))
    with pytest.raises(RateLimited) as caught:
        await c.discover(sim_video)
    assert caught.value.retry_after_seconds == 300


async def test_token_is_sent_but_never_reported(sim, http_client, clock, sim_video):
    c = collector(sim, http_client, clock, access_token="tok-SECRET")
    sim.world.set_fault("mastodon", Fault("error", status=401))
    with pytest.raises(Exception) as caught:
        await c.discover(sim_video)
    assert "tok-SECRET" not in str(caught.value)


async def test_runner_stores_posts_edges_and_counters(
    sim, http_client, clock, sink, engine, tracked_sim_video
):
    runner = CollectorRunner(collector(sim, http_client, clock), sink, clock, http_client)
    assert (await runner.discover([tracked_sim_video])).status == "ok"
    report = await runner.refresh()
    assert report.status == "ok"
    posts = list(read.iter_posts(engine, read.PostFilter(platform="mastodon")))
    edges = [p for p in posts if p.relation == "reshare"]
    originals = {p.platform_post_id for p in posts if p.relation != "reshare"}
    assert edges and all(e.parent_platform_post_id in originals for e in edges)
    assert report.observations_written == len(originals)
    assert all(e.latest_observed_at is None for e in edges)


def test_status_served_by_simulator_has_every_recorded_field(shared_fixtures, sim):
    recorded = load(shared_fixtures, "status_video_mastodon-social_113358687695262945.json")
    post = sim.world.model.visible("mastodon", sim.world.now())[0]
    url = f"{sim.base_url('mastodon', post.instance)}/api/v1/statuses/{post.id}"
    served = httpx.get(url).json()
    required = {
        "id",
        "created_at",
        "uri",
        "url",
        "replies_count",
        "reblogs_count",
        "favourites_count",
        "quotes_count",
        "content",
        "account",
        "tags",
        "reblog",
        "quote",
        "card",
    }
    assert required <= set(recorded) and required <= set(served)
    assert type(served["favourites_count"]) is type(recorded["favourites_count"]) is int


# Issue 9: Mastodon content keeps lists, quotes, code and line breaks; the CW is kept too.
STRUCTURED_STATUS = {
    "id": "113400000000000001",
    "uri": "https://mastodon.social/users/kyivwitness/statuses/113400000000000001",
    "url": "https://mastodon.social/@kyivwitness/113400000000000001",
    "created_at": "2026-03-02T10:00:00.000Z",
    "sensitive": True,
    "spoiler_text": "war footage, distressing",
    "visibility": "public",
    "content": (
        "<p>What the clip shows:</p>"
        "<ul><li>a captured Russian soldier</li><li>a phone call home</li></ul>"
        "<blockquote><p>Mum, I am alive</p></blockquote>"
        "<pre><code>00:12  call starts\n00:47  call ends</code></pre>"
        '<p>Original: <a href="https://t.me/kyiv_witness/418" rel="nofollow noopener" '
        'target="_blank"><span class="invisible">https://</span>'
        '<span class="">t.me/kyiv_witness/418</span><span class="invisible"></span></a></p>'
    ),
    "account": {"id": "1", "username": "kyivwitness", "acct": "kyivwitness"},
    "tags": [],
    "card": None,
    "reblogs_count": 2,
    "favourites_count": 5,
    "replies_count": 1,
}


def test_status_text_keeps_structure_and_its_content_warning():
    phrase = TrackedVideo(slug="v", title="v", keywords=("captured Russian soldier",))
    ref = MastodonCollector.from_payload(STRUCTURED_STATUS, "https://mastodon.social", phrase)
    assert ref is not None and ref.matched_by == "keyword:captured Russian soldier"
    assert ref.text == (
        "CW: war footage, distressing\n\n"
        "What the clip shows:\n\n"
        "- a captured Russian soldier\n- a phone call home\n\n"
        "> Mum, I am alive\n\n"
        "00:12  call starts\n00:47  call ends\n\n"
        "Original: https://t.me/kyiv_witness/418"
    )
    warned = TrackedVideo(slug="v", title="v", keywords=("distressing",))
    assert MastodonCollector.from_payload(STRUCTURED_STATUS, "x", warned) is not None
    by_url = TrackedVideo(slug="v", title="v", urls=("https://t.me/s/kyiv_witness/418",))
    assert MastodonCollector.from_payload(STRUCTURED_STATUS, "x", by_url) is not None
    prefix = TrackedVideo(slug="v", title="v", urls=("https://t.me/kyiv_witness/41",))
    assert MastodonCollector.from_payload(STRUCTURED_STATUS, "x", prefix) is None
