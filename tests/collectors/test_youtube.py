"""YouTube Data API v3: parsers on real recordings, recorded error envelopes, the collector
against the simulator (search bucket, 50-id batches, batchGetStats fallback, gone videos)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collectors.base import (
    AuthFailed,
    KnownPost,
    Observation,
    PostError,
    RateLimited,
    TrackedVideo,
)
from collectors.runner import CollectorRunner
from collectors.youtube import (
    YouTubeCollector,
    YouTubeSettings,
    error_reasons,
    seconds_until_pacific_midnight,
    video_id_from_url,
)
from simulator.world import Fault
from simulator.youtube import hidden_counters, noise_videos
from storage import read
from tests.helpers import served_on_loopback, sim_collector

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = "AIza-test-key-not-real"


def load(shared_fixtures, name):
    return json.loads((shared_fixtures / "youtube_data_api" / name).read_text())


# --- parsers on real recordings -------------------------------------------------------------


def test_videos_list_statistics_are_strings_mapped_to_counts(shared_fixtures):
    body = load(
        shared_fixtures, "videos_list_part-snippet-contentDetails-status-statistics_2019.json"
    )
    (item,) = body["items"]
    obs = YouTubeCollector.observation_from_payload(item, NOW)
    assert (obs.views, obs.likes, obs.comments) == (7920, 190, 32)
    assert obs.shares is None and obs.quotes is None
    ref = YouTubeCollector.from_payload(item)
    assert ref.platform_post_id == "D-lhorsDlUQ"
    assert ref.author == "Google Developers"
    assert ref.published_at == datetime(2019, 3, 21, 20, 37, 49, tzinfo=UTC)
    assert ref.extra == {"channel_id": "UC_x5XG1OV2P6uZZ5FSM9Ttw", "language": "en"}


def test_description_links_count_as_evidence(shared_fixtures):
    body = load(
        shared_fixtures, "videos_list_part-snippet-contentDetails-status-statistics_2019.json"
    )
    video = TrackedVideo(slug="g", title="g", urls=("http://bit.ly/2YabdS5",))
    assert YouTubeCollector.from_payload(body["items"][0], video).matched_by == (
        "url:http://bit.ly/2YabdS5"
    )


def test_items_without_statistics_leave_every_counter_null(shared_fixtures):
    body = load(shared_fixtures, "videos_list_two-ids_snippet-player_2019.json")
    assert [YouTubeCollector.from_payload(i).platform_post_id for i in body["items"]] == [
        "D-lhorsDlUQ",
        "ovdbrdCIP7U",
    ]
    obs = YouTubeCollector.observation_from_payload(body["items"][1], NOW)
    assert (obs.views, obs.likes, obs.comments) == (None, None, None)


@pytest.mark.parametrize(
    "name", ["search_list_type-video_page1_2019.json", "search_list_type-video_page2_2019.json"]
)
def test_search_results_are_unescaped_and_rechecked(shared_fixtures, name):
    body = load(shared_fixtures, name)
    refs = [YouTubeCollector.from_payload(i) for i in body["items"]]
    assert len(refs) == 25 and all(r.platform_post_id and r.published_at for r in refs)
    assert not any("&amp;" in r.text or "&#39;" in r.text for r in refs)
    surfing = TrackedVideo(slug="s", title="s", keywords=("surfing",))
    other = TrackedVideo(slug="o", title="o", keywords=("captured Russian soldier",))
    assert any(YouTubeCollector.from_payload(i, surfing) for i in body["items"])
    assert not any(YouTubeCollector.from_payload(i, other) for i in body["items"])


def test_search_title_entities_are_decoded(shared_fixtures):
    body = load(shared_fixtures, "search_list_type-video_page1_2019.json")
    ref = YouTubeCollector.from_payload(body["items"][1])
    assert ref.text.startswith("SURFING PERFECT PIPE & BACKDOOR")


@pytest.mark.parametrize(
    ("name", "reasons"),
    [
        ("error_400_keyInvalid.json", ["keyInvalid"]),
        ("error_403_permission-denied.json", ["SERVICE_UNAVAILABLE", "PERMISSION_DENIED"]),
        ("error_403_quotaExceeded_from-issue-paste.json", ["quotaExceeded"]),
    ],
)
def test_error_envelopes_name_their_reasons(shared_fixtures, name, reasons):
    assert error_reasons(load(shared_fixtures, name)) == reasons


def test_video_ids_come_from_every_url_form():
    for url in (
        "https://www.youtube.com/watch?v=Qm7cTs2vXa0",
        "https://youtube.com/watch?feature=share&v=Qm7cTs2vXa0",
        "https://youtu.be/Qm7cTs2vXa0",
        "https://www.youtube.com/shorts/Qm7cTs2vXa0",
    ):
        assert video_id_from_url(url) == "Qm7cTs2vXa0"
    assert video_id_from_url("https://t.me/kyiv_witness/4182") is None


def test_quota_resets_at_midnight_pacific_across_daylight_saving():
    # 12:00 UTC on 1 March 2026 is 04:00 PST; midnight PST is 08:00 UTC the next day.
    assert seconds_until_pacific_midnight(NOW) == 20 * 3600
    # 8 March 2026 is the spring-forward day: that Pacific day has 23 hours.
    assert seconds_until_pacific_midnight(datetime(2026, 3, 8, 8, 0, tzinfo=UTC)) == 23 * 3600


# --- recorded error envelopes ---------------------------------------------------------------


class Recorded:
    """A fake Data API answering each method with a recorded body (paged by pageToken)."""

    def __init__(self) -> None:
        self.replies: dict[str, tuple[int, bytes]] = {}
        self.queries: list[tuple[str, dict[str, list[str]]]] = []

    def app(self) -> Starlette:
        async def method(request: Request) -> Response:
            name = request.path_params["method"]
            self.queries.append((name, parse_qs(request.url.query)))
            token = request.query_params.get("pageToken")
            status, body = self.replies.get(f"{name}@{token}" if token else name, (404, b""))
            return Response(body, status, media_type="application/json")

        return Starlette(routes=[Route("/youtube/v3/{method}", method)])


@pytest.fixture(scope="module")
def recorded():
    yield from served_on_loopback(Recorded())


@pytest.fixture
def fake(recorded):
    recorded.replies.clear()
    recorded.queries.clear()
    return recorded


def _raw(shared_fixtures, name):
    return (shared_fixtures / "youtube_data_api" / name).read_bytes()


def _collector(client, clock, base, **settings):
    config = YouTubeSettings(base_url=base, api_key=settings.pop("api_key", KEY), **settings)
    return YouTubeCollector(client, clock, config)


SURFING = TrackedVideo(slug="s", title="s", keywords=("surfing",))


async def test_search_follows_next_page_token_within_the_bucket(
    shared_fixtures, fake, http_client, clock
):
    fake.replies["search"] = (200, _raw(shared_fixtures, "search_list_type-video_page1_2019.json"))
    fake.replies["search@CBkQAA"] = (
        200,
        _raw(shared_fixtures, "search_list_type-video_page2_2019.json"),
    )
    fake.replies["videos"] = (
        200,
        _raw(shared_fixtures, "videos_list_two-ids_snippet-player_2019.json"),
    )
    collector = _collector(http_client, clock, fake.url, search_calls_per_day=10)
    found = await collector.discover(SURFING)
    searches = [q for name, q in fake.queries if name == "search"]
    assert len(searches) == 2 and searches[1]["pageToken"] == ["CBkQAA"]
    assert searches[0]["q"] == ['"surfing"'] and searches[0]["order"] == ["date"]
    assert searches[0]["maxResults"] == ["50"] and searches[0]["type"] == ["video"]
    assert collector.search_calls_left() == 8
    assert found and all("surfing" in r.text.casefold() for r in found)


async def test_invalid_key_names_the_setting_but_not_the_key(
    shared_fixtures, fake, http_client, clock
):
    fake.replies["videos"] = (400, _raw(shared_fixtures, "error_400_keyInvalid.json"))
    fake.replies["videos:batchGetStats"] = fake.replies["videos"]
    with pytest.raises(AuthFailed) as caught:
        await _collector(http_client, clock, fake.url).refresh([KnownPost("youtube", "a" * 11)])
    assert "collectors.youtube.api_key" in str(caught.value) and KEY not in str(caught.value)


async def test_permission_denied_is_an_auth_failure(shared_fixtures, fake, http_client, clock):
    fake.replies["videos:batchGetStats"] = (
        403,
        _raw(shared_fixtures, "error_403_permission-denied.json"),
    )
    with pytest.raises(AuthFailed, match="PERMISSION_DENIED"):
        await _collector(http_client, clock, fake.url).refresh([KnownPost("youtube", "a" * 11)])


async def test_quota_exceeded_pauses_until_midnight_pacific(
    shared_fixtures, fake, http_client, clock
):
    quota = (403, _raw(shared_fixtures, "error_403_quotaExceeded_from-issue-paste.json"))
    fake.replies["videos:batchGetStats"] = quota
    with pytest.raises(RateLimited) as caught:
        await _collector(http_client, clock, fake.url).refresh([KnownPost("youtube", "a" * 11)])
    assert caught.value.retry_after_seconds == 20 * 3600


async def test_quota_exceeded_on_search_closes_only_the_search_bucket(
    shared_fixtures, fake, http_client, clock
):
    fake.replies["search"] = (
        403,
        _raw(shared_fixtures, "error_403_quotaExceeded_from-issue-paste.json"),
    )
    collector = _collector(http_client, clock, fake.url)
    assert await collector.discover(SURFING) == []
    assert collector.search_calls_left() == 0
    await collector.discover(SURFING)
    assert [name for name, _ in fake.queries] == ["search"]
    clock.advance(hours=20)  # past midnight Pacific
    assert collector.search_calls_left() == 90


# --- against the simulator ------------------------------------------------------------------


def _sim_collector(client, sim, clock, **settings):
    return _collector(client, clock, sim.base_url("youtube"), **settings)


def _footage(sim):
    return [p for p in sim.world.model.footage_posts(sim.world.now()) if p.platform == "youtube"]


async def test_discover_finds_every_simulated_upload_and_no_noise(
    sim, http_client, clock, sim_video
):
    found = await _sim_collector(http_client, sim, clock).discover(sim_video)
    assert {ref.platform_post_id for ref in found} == {p.id for p in _footage(sim)}
    by_id = {ref.platform_post_id: ref for ref in found}
    first = sim_video.urls[1]
    assert by_id["Qm7cTs2vXa0"].matched_by == f"url:{first}"
    assert all(ref.matched_by and ref.author for ref in found)
    # One search call per pass; the look-alike explainer came back and was dropped on recheck.
    assert len(sim.world.requests_to("youtube", "/v3/search")) == 1
    rechecked = _videos_list_calls(sim)[-1]
    assert "nzExplain01" in rechecked.query and "nzExplain01" in {
        p.id for p in noise_videos(sim.world)
    }


async def test_search_uses_one_or_query_with_published_after(sim, http_client, clock, sim_video):
    await _sim_collector(http_client, sim, clock).discover(sim_video)
    (search,) = sim.world.requests_to("youtube", "/v3/search")
    params = parse_qs(search.query)
    assert params["q"][0].split("|")[:2] == ['"captured Russian soldier"', '"calls his mom"']
    assert params["publishedAfter"] == ["2022-03-02T06:00:00Z"]
    assert params["key"] == [KEY]


async def test_search_stays_inside_its_daily_bucket(sim, http_client, clock, sim_video):
    collector = _sim_collector(http_client, sim, clock, search_calls_per_day=2)
    for _ in range(4):
        found = await collector.discover(sim_video)
    assert len(sim.world.requests_to("youtube", "/v3/search")) == 2
    assert {r.platform_post_id for r in found} == {"Qm7cTs2vXa0"}  # the URL still works
    clock.advance(hours=20)  # next Pacific day
    await collector.discover(sim_video)
    assert len(sim.world.requests_to("youtube", "/v3/search")) == 3


async def test_refresh_returns_simulator_counters_with_hidden_ones_null(
    sim, http_client, clock, sim_video
):
    collector = _sim_collector(http_client, sim, clock)
    refs = await collector.discover(sim_video)
    items = await collector.refresh([KnownPost("youtube", r.platform_post_id) for r in refs])
    assert len(sim.world.requests_to("youtube", "batchGetStats")) == 1
    hidden_seen = set()
    for obs in items:
        assert isinstance(obs, Observation)
        post = sim.world.model.get("youtube", obs.platform_post_id)
        counters, hidden = post.counters(sim.world.now()), hidden_counters(post)
        hidden_seen |= hidden
        assert obs.views == counters["views"]
        assert obs.likes == (None if "likes" in hidden else counters["likes"])
        assert obs.comments == (None if "comments" in hidden else counters["comments"])
        assert obs.shares is None
    assert hidden_seen == {"likes", "comments"}


async def test_refresh_asks_for_at_most_50_ids_per_call(sim, http_client, clock):
    posts = [KnownPost("youtube", f"missing{n:04d}") for n in range(120)]
    items = await _sim_collector(http_client, sim, clock).refresh(posts)
    calls = sim.world.requests_to("youtube", "batchGetStats")
    assert [len(parse_qs(c.query)["id"][0].split(",")) for c in calls] == [50, 50, 20]
    assert all(isinstance(i, PostError) and i.is_miss for i in items) and len(items) == 120


def _videos_list_calls(sim):
    return [r for r in sim.world.requests_to("youtube") if r.path.endswith("/v3/videos")]


async def test_batch_stats_404_falls_back_to_videos_list_and_remembers(sim, http_client, clock):
    collector = _sim_collector(http_client, sim, clock)
    sim.world.set_fault("youtube", Fault("error", count=1, status=404))
    (obs,) = await collector.refresh([KnownPost("youtube", "Qm7cTs2vXa0")])
    assert (
        obs.views
        == sim.world.model.get("youtube", "Qm7cTs2vXa0").counters(sim.world.now())["views"]
    )
    (fallback,) = _videos_list_calls(sim)
    assert parse_qs(fallback.query)["part"] == ["snippet,statistics"]
    await collector.refresh([KnownPost("youtube", "Qm7cTs2vXa0")])
    assert len(sim.world.requests_to("youtube", "batchGetStats")) == 1
    assert len(_videos_list_calls(sim)) == 2


async def test_deleted_or_private_video_is_a_miss(sim, http_client, clock):
    gone = [p for p in sim.world.model.posts["youtube"] if p.gone_at]
    assert gone, "the seeded model deletes some small re-uploads"
    sim.world.clock.set(max(p.gone_at for p in gone) + timedelta(hours=1))
    uploaded = [p for p in sim.world.model.posts["youtube"] if p.created_at <= sim.world.now()]
    known = [KnownPost("youtube", p.id) for p in uploaded]
    items = await _sim_collector(http_client, sim, clock).refresh(known)
    # Issue 8: left out of videos.list is a miss; storage marks it gone after repeated misses.
    misses = {i.platform_post_id for i in items if isinstance(i, PostError) and i.is_miss}
    assert misses == {p.id for p in gone}


async def test_rate_limit_carries_retry_after(sim, http_client, clock, sim_video):
    sim.world.set_fault("youtube", Fault("rate_limit", retry_after_seconds=42))
    with pytest.raises(RateLimited) as caught:
        await _sim_collector(http_client, sim, clock).discover(sim_video)
    assert caught.value.retry_after_seconds == 42


async def test_missing_key_is_an_auth_failure(sim, http_client, clock):
    with pytest.raises(AuthFailed, match=r"collectors\.youtube\.api_key"):
        await _sim_collector(http_client, sim, clock, api_key="").refresh(
            [KnownPost("youtube", "Qm7cTs2vXa0")]
        )


# The Data API reads comment counts; channel feeds carry views and likes only.
@pytest.mark.parametrize(("name", "reads_comments"), [("youtube", True), ("youtube_rss", False)])
async def test_runner_stores_uploads_and_counters(
    sim, http_client, sink, clock, engine, tracked_sim_video, name, reads_comments
):
    collector = sim_collector(name, sim, http_client, clock)
    runner = CollectorRunner(collector, sink, clock, http_client)
    found = await runner.discover([tracked_sim_video])
    refreshed = await runner.refresh()
    assert (found.status, refreshed.status) == ("ok", "ok")
    assert found.posts_found == refreshed.observations_written == len(_footage(sim))
    stored = read.find_post(engine, "youtube", "Qm7cTs2vXa0")
    counters = sim.world.model.get("youtube", "Qm7cTs2vXa0").counters(sim.world.now())
    assert (stored.views, stored.likes, stored.comments) == (
        counters["views"],
        counters["likes"],
        counters["comments"] if reads_comments else None,
    )
    assert stored.shares is None and stored.url == "https://www.youtube.com/watch?v=Qm7cTs2vXa0"
