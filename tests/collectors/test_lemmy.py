"""Lemmy: parsers on 0.19-shaped payloads, collector against the simulated instances.

No Lemmy recording exists in shared/fixtures (see PLATFORMS.md), so the parser tests use small
PostViews written here in the 0.19 shape.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from collectors.base import (
    Gone,
    KnownPost,
    Observation,
    PostRef,
    RateLimited,
    SourceUnavailable,
    TrackedVideo,
)
from collectors.lemmy import LemmyCollector, LemmySettings
from collectors.runner import CollectorRunner
from simulator.model import LEMMY_INSTANCES, SimPost
from simulator.world import Fault
from storage import read

NOW = datetime(2026, 3, 1, tzinfo=UTC)
VIDEO = TrackedVideo(
    slug="v", title="v", keywords=("captured Russian soldier",), urls=("https://youtu.be/abc",)
)


def post_view(**post: object) -> dict:
    base = {
        "id": 7,
        "name": "Captured Russian soldier calls his mother",
        "url": "https://youtu.be/abc",
        "body": "Seen on &quot;Telegram&quot; first",
        "creator_id": 3,
        "community_id": 2,
        "removed": False,
        "locked": False,
        "published": "2024-03-02T10:00:00.123456Z",
        "deleted": False,
        "nsfw": False,
        "ap_id": "https://lemmy.example/post/7",
        "local": True,
        "language_id": 37,
        "featured_community": False,
        "featured_local": False,
    }
    base.update(post)
    return {
        "post": base,
        "creator": {"id": 3, "name": "olena", "actor_id": "https://lemmy.example/u/olena"},
        "community": {"id": 2, "name": "worldnews", "title": "World News"},
        "counts": {"post_id": 7, "comments": 12, "score": 95, "upvotes": 100, "downvotes": 5},
    }


def test_from_payload_keys_by_ap_id_and_remembers_the_instance():
    ref = LemmyCollector.from_payload(post_view(), "https://lemmy.example", VIDEO)
    assert ref is not None
    assert ref.platform_post_id == "https://lemmy.example/post/7"
    assert ref.extra["instance"] == "https://lemmy.example" and ref.extra["id"] == "7"
    assert ref.author == "olena" and ref.matched_by == "url:https://youtu.be/abc"
    assert ref.published_at == datetime(2024, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
    assert ref.text.startswith("Captured Russian soldier calls his mother\n\nSeen on")


def test_from_payload_reads_naive_0_18_timestamps_as_utc():
    ref = LemmyCollector.from_payload(post_view(published="2023-06-01T12:00:00.5"), "i")
    assert ref is not None and ref.published_at == datetime(2023, 6, 1, 12, 0, 0, 500000, UTC)


def test_from_payload_rejects_unrelated_and_malformed_posts():
    other = post_view(name="Tram timetable", url="https://tram.example", body="")
    assert LemmyCollector.from_payload(other, "i", VIDEO) is None
    assert LemmyCollector.from_payload({"post": {"id": 1}}, "i", VIDEO) is None


def test_observation_maps_score_and_comments_only():
    obs = LemmyCollector.observation_from_payload(post_view(), NOW)
    assert (obs.likes, obs.comments) == (95, 12)
    assert obs.views is None and obs.shares is None and obs.quotes is None


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ({"deleted": True}, "deleted by its author"),
        ({"removed": True}, "removed by a moderator"),
        ({}, None),
    ],
)
def test_gone_reason_reads_deleted_and_removed_flags(flags, reason):
    assert LemmyCollector.gone_reason(post_view(**flags)) == reason


# --- against the simulator ----------------------------------------------------------------


def collector(sim, client, clock, instances=LEMMY_INSTANCES):
    urls = [sim.base_url("lemmy", name) for name in instances]
    return LemmyCollector(client, clock, LemmySettings(instances=urls))


def footage(sim) -> list[SimPost]:
    return [p for p in sim.world.model.footage_posts(sim.world.now()) if p.platform == "lemmy"]


def ap_id(post: SimPost) -> str:
    return f"https://{post.instance}.example/post/{post.id}"


def expected_parents(sim) -> dict[str, str]:
    """Crosspost parent per post: the oldest post of the same link on the same instance."""
    families: dict[tuple[str, str], list[SimPost]] = defaultdict(list)
    for post in footage(sim):
        families[(post.instance or "", post.links[0])].append(post)
    parents = {}
    for family in families.values():
        oldest = min(family, key=lambda p: p.created_at)
        parents.update({ap_id(p): ap_id(oldest) for p in family if p is not oldest})
    return parents


async def test_discover_finds_the_footage_on_every_instance_and_no_noise(
    sim, http_client, clock, sim_video
):
    found = await collector(sim, http_client, clock).discover(sim_video)
    assert {r.platform_post_id for r in found} == {ap_id(p) for p in footage(sim)}
    assert {r.extra["instance"].rsplit("/", 1)[-1] for r in found} == set(LEMMY_INSTANCES)
    parents = {r.platform_post_id: r.parent_platform_post_id for r in found if r.relation}
    assert parents == expected_parents(sim)
    # The model's own crosspost edge is among them.
    child = next(p for p in footage(sim) if p.parent_id)
    assert parents[ap_id(child)] == ap_id(sim.world.model.get("lemmy", child.parent_id))


async def test_discover_searches_links_by_url_and_phrases_as_posts(
    sim, http_client, clock, sim_video
):
    await collector(sim, http_client, clock, LEMMY_INSTANCES[:1]).discover(sim_video)
    searches = [parse_qs(r.query) for r in sim.world.requests_to("lemmy", "/api/v3/search")]
    kinds = {q["q"][0]: q["type_"][0] for q in searches}
    assert {kinds[url] for url in sim_video.urls} == {"Url"}
    assert {kinds[phrase] for phrase in sim_video.keywords} == {"Posts"}
    assert all(q["limit"] == ["50"] and q["sort"] == ["New"] for q in searches)
    assert all(q["listing_type"] == ["All"] and q["page"] == ["1"] for q in searches)


async def test_refresh_returns_simulator_counters_one_request_per_post(
    sim, http_client, clock, sim_video
):
    c = collector(sim, http_client, clock)
    refs = await c.discover(sim_video)
    before = len(sim.world.requests)
    items = await c.refresh(
        [KnownPost(r.platform, r.platform_post_id, r.url, r.extra) for r in refs]
    )
    assert len(sim.world.requests) - before == len(refs)
    observations = [i for i in items if isinstance(i, Observation)]
    assert len(observations) == len(refs)
    by_ap_id = {ap_id(p): p for p in footage(sim)}
    for obs in observations:
        counters = by_ap_id[obs.platform_post_id].counters(sim.world.now())
        assert (obs.likes, obs.comments) == (counters["likes"], counters["comments"])


async def test_refresh_of_the_oldest_post_returns_its_crossposts(
    sim, http_client, clock, sim_video
):
    c = collector(sim, http_client, clock)
    refs = {r.platform_post_id: r for r in await c.discover(sim_video)}
    parent_id = next(iter(expected_parents(sim).values()))
    parent = refs[parent_id]
    items = await c.refresh([KnownPost("lemmy", parent_id, parent.url, parent.extra)])
    children = [i for i in items if isinstance(i, PostRef)]
    expected = {k for k, v in expected_parents(sim).items() if v == parent_id}
    assert {ch.platform_post_id for ch in children} == expected
    assert all(
        ch.relation == "crosspost" and ch.parent_platform_post_id == parent_id for ch in children
    )


@pytest.mark.parametrize(
    ("post_id", "reason"),
    [
        ("1000", "deleted by its author"),
        ("1001", "removed by a moderator"),
        ("1002", "no longer on the instance"),
    ],
)
async def test_refresh_marks_deleted_removed_and_purged_posts_gone(
    sim, http_client, clock, post_id, reason
):
    post = sim.world.model.get("lemmy", post_id)
    post.gone_at = sim.world.now() - timedelta(minutes=5)
    extra = {"instance": sim.base_url("lemmy", post.instance), "id": post_id}
    items = await collector(sim, http_client, clock).refresh(
        [KnownPost("lemmy", ap_id(post), ap_id(post), extra)]
    )
    assert items == [Gone("lemmy", ap_id(post), clock(), reason)]


async def test_refresh_of_an_unknown_id_is_gone(sim, http_client, clock):
    extra = {"instance": sim.base_url("lemmy", "lemmy-a"), "id": "424242"}
    items = await collector(sim, http_client, clock).refresh(
        [KnownPost("lemmy", "https://lemmy-a.example/post/424242", None, extra)]
    )
    assert [type(i) for i in items] == [Gone]


async def test_private_instance_is_skipped_in_discovery_but_fails_refresh(
    sim, http_client, clock, sim_video
):
    c = collector(sim, http_client, clock, ["lemmy-private", "lemmy-a"])
    found = await c.discover(sim_video)
    assert found and all("lemmy-a" in r.extra["instance"] for r in found)
    assert len(sim.world.requests_to("lemmy", "/lemmy-private/")) == 1
    extra = {"instance": sim.base_url("lemmy", "lemmy-private"), "id": "1000"}
    with pytest.raises(SourceUnavailable, match="instance_is_private"):
        await c.refresh(
            [KnownPost("lemmy", "https://lemmy-private.example/post/1000", None, extra)]
        )


async def test_rate_limit_carries_retry_after(sim, http_client, clock, sim_video):
    sim.world.set_fault("lemmy", Fault("rate_limit", retry_after_seconds=42))
    with pytest.raises(RateLimited) as caught:
        await collector(sim, http_client, clock).discover(sim_video)
    assert caught.value.retry_after_seconds == 42


async def test_runner_stores_posts_crosspost_parents_and_counters(
    sim, http_client, clock, sink, engine, tracked_sim_video
):
    runner = CollectorRunner(collector(sim, http_client, clock), sink, clock, http_client)
    assert (await runner.discover([tracked_sim_video])).status == "ok"
    clock.advance(minutes=15)
    report = await runner.refresh()
    assert report.status == "ok"
    stored = {
        p.platform_post_id: p for p in read.iter_posts(engine, read.PostFilter(platform="lemmy"))
    }
    assert set(stored) == {ap_id(p) for p in footage(sim)}
    assert {k: p.parent_platform_post_id for k, p in stored.items() if p.relation} == (
        expected_parents(sim)
    )
    for post in footage(sim):
        row = stored[ap_id(post)]
        assert (row.likes, row.comments) == (
            post.counters(sim.world.now())["likes"],
            post.counters(sim.world.now())["comments"],
        )
        assert row.views is None and row.shares is None


def test_escaped_title_and_body_are_decoded_before_matching():
    # Issue 9: Lemmy 0.18-0.19 store `&amp;` for `&` in titles and bodies.
    phrase = TrackedVideo(slug="v", title="v", keywords=("soldier & mother",))
    view = post_view(name="Soldier &amp; mother: the call", url=None)
    ref = LemmyCollector.from_payload(view, "https://lemmy.example", phrase)
    assert ref is not None and ref.matched_by == "keyword:soldier & mother"
    assert ref.text == 'Soldier & mother: the call\n\nSeen on "Telegram" first'
    prefix = TrackedVideo(slug="v", title="v", urls=("https://youtu.be/ab",))
    assert LemmyCollector.from_payload(post_view(), "https://lemmy.example", prefix) is None
