"""YouTube channel feeds: both recorded feed formats, the recorded 404 page, and the collector
against the simulator's feeds (new uploads, views and likes, 15-entry window)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collectors.base import KnownPost, Observation, RateLimited, SourceUnavailable, TrackedVideo
from collectors.youtube_rss import YouTubeRssCollector, YouTubeRssSettings, parse_feed
from simulator.server import LoopbackServer
from simulator.world import Fault
from simulator.youtube import channels, hidden_counters, noise_videos

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEED_2017 = "feeds_videos_channel_id-UCoTLdfNePDQzvdEgIToLIUg_2017.xml"
FEED_2026 = "feeds_videos_user-Kurzgesagt_2026.xml"
NOT_FOUND = "error_404_feeds_videos_channel-not-available_2026.html"


def raw(shared_fixtures, name):
    return (shared_fixtures / "youtube_rss" / name).read_bytes()


# --- parsers on real recordings -------------------------------------------------------------


def test_2017_feed_keeps_the_uc_prefix_and_zero_star_ratings(shared_fixtures):
    entries = parse_feed(raw(shared_fixtures, FEED_2017))
    assert len(entries) == 15
    ref = YouTubeRssCollector.from_payload(entries[0])
    assert ref.platform_post_id == "OCs1E0vP7Oc"
    assert ref.url == "https://www.youtube.com/watch?v=OCs1E0vP7Oc"
    assert ref.author == "SecDSM"
    assert ref.published_at == datetime(2017, 6, 15, 2, 36, 17, tzinfo=UTC)
    assert ref.extra == {"channel_id": "UCoTLdfNePDQzvdEgIToLIUg"}
    obs = YouTubeRssCollector.observation_from_payload(entries[0], NOW)
    assert (obs.views, obs.likes, obs.comments, obs.shares) == (36, 0, None, None)


def test_2026_feed_without_uc_prefix_and_with_shorts(shared_fixtures):
    entries = parse_feed(raw(shared_fixtures, FEED_2026))
    assert len(entries) == 15
    first = entries[0]
    ref = YouTubeRssCollector.from_payload(first)
    assert ref.url == "https://www.youtube.com/shorts/zg40FHOAqC0"
    assert ref.extra == {"channel_id": "UCsXVk37bltHxD1rDPwtNM8Q"}
    assert "Sources & further reading" in ref.text  # entities decoded
    obs = YouTubeRssCollector.observation_from_payload(first, NOW)
    assert (obs.views, obs.likes) == (1086938, 58314)
    assert all(YouTubeRssCollector.observation_from_payload(e, NOW).views for e in entries)


def test_entries_match_on_title_description_and_links(shared_fixtures):
    entries = parse_feed(raw(shared_fixtures, FEED_2026))
    by_title = TrackedVideo(slug="j", title="j", keywords=("Jupiter Made Earth Possible",))
    by_link = TrackedVideo(
        slug="l", title="l", urls=("https://www.youtube.com/shorts/zg40FHOAqC0",)
    )
    by_text = TrackedVideo(slug="t", title="t", urls=("https://kgs.link/patreon",))
    other = TrackedVideo(slug="o", title="o", keywords=("captured Russian soldier",))
    assert YouTubeRssCollector.from_payload(entries[0], by_title).matched_by.startswith("keyword:")
    assert YouTubeRssCollector.from_payload(entries[0], by_link).matched_by.startswith("url:")
    assert YouTubeRssCollector.from_payload(entries[0], by_text) is not None
    assert not any(YouTubeRssCollector.from_payload(e, other) for e in entries)


def test_recorded_404_page_is_not_a_feed(shared_fixtures):
    with pytest.raises(SourceUnavailable, match="UCTGjY2I-ZUGnwVoWAGRd7XQ"):
        parse_feed(raw(shared_fixtures, NOT_FOUND), "UCTGjY2I-ZUGnwVoWAGRd7XQ")


# --- the recorded 404 page over HTTP --------------------------------------------------------


async def test_recorded_404_names_the_missing_channel(shared_fixtures, http_client, clock):
    page = raw(shared_fixtures, NOT_FOUND)
    feed = raw(shared_fixtures, FEED_2017)

    async def videos_xml(request: Request) -> Response:
        if request.query_params["channel_id"] == "UCoTLdfNePDQzvdEgIToLIUg":
            return Response(feed, media_type="text/xml")
        return Response(page, 404, media_type="text/html")

    app = Starlette(routes=[Route("/feeds/videos.xml", videos_xml)])
    video = TrackedVideo(slug="s", title="s", keywords=("SecDSM 2017 March",))
    with LoopbackServer(app) as server:
        url = server.url
        lone = YouTubeRssSettings(base_url=url, channels=["UCTGjY2I-ZUGnwVoWAGRd7XQ"])
        with pytest.raises(SourceUnavailable, match="channel UCTGjY2I-ZUGnwVoWAGRd7XQ has no feed"):
            await YouTubeRssCollector(http_client, clock, lone).discover(video)
        both = YouTubeRssSettings(
            base_url=url, channels=["UCTGjY2I-ZUGnwVoWAGRd7XQ", "UCoTLdfNePDQzvdEgIToLIUg"]
        )
        found = await YouTubeRssCollector(http_client, clock, both).discover(video)
    talks = {e["yt_videoid"] for e in parse_feed(feed) if "SecDSM 2017 March" in e["title"]}
    assert {r.platform_post_id for r in found} == talks and len(talks) == 2


# --- against the simulator ------------------------------------------------------------------


def _sim_collector(client, sim, clock, channel_ids=None):
    ids = sorted(channels(sim.world)) if channel_ids is None else channel_ids
    settings = YouTubeRssSettings(base_url=sim.base_url("youtube"), channels=ids)
    return YouTubeRssCollector(client, clock, settings)


def _footage_ids(sim):
    now = sim.world.now()
    return {p.id for p in sim.world.model.footage_posts(now) if p.platform == "youtube"}


async def test_discover_finds_footage_uploads_and_skips_routine_ones(
    sim, http_client, clock, sim_video
):
    found = await _sim_collector(http_client, sim, clock).discover(sim_video)
    assert {r.platform_post_id for r in found} == _footage_ids(sim)
    assert all(r.platform == "youtube" and r.matched_by for r in found)
    assert len(sim.world.requests_to("youtube", "/feeds/videos.xml")) == len(channels(sim.world))
    shorts = [p for p in noise_videos(sim.world) if "#shorts" in p.text]
    assert shorts and not {p.id for p in shorts} & {r.platform_post_id for r in found}


async def test_refresh_reads_views_and_likes_once_per_channel(sim, http_client, clock, sim_video):
    collector = _sim_collector(http_client, sim, clock)
    refs = await collector.discover(sim_video)
    before = len(sim.world.requests)
    known = [KnownPost("youtube_rss", r.platform_post_id, extra=r.extra) for r in refs]
    items = await collector.refresh(known)
    assert len(sim.world.requests) - before == len({r.extra["channel_id"] for r in refs})
    now = sim.world.now()
    for obs in items:
        assert isinstance(obs, Observation)
        post = sim.world.model.get("youtube", obs.platform_post_id)
        counters = post.counters(now)
        assert obs.views == counters["views"]
        assert obs.likes == (None if "likes" in hidden_counters(post) else counters["likes"])
        assert obs.comments is None and obs.shares is None


async def test_video_off_the_feed_is_left_unrefreshed_not_gone(sim, http_client, clock):
    # Only the 15 newest uploads are listed: absence proves nothing (see the module docstring).
    channel_id = "UCsmallRepost0000000001"
    known = [
        KnownPost("youtube_rss", "Qm7cTs2vXa0", extra={"channel_id": channel_id}),
        KnownPost("youtube_rss", "olderUpload", extra={"channel_id": channel_id}),
    ]
    items = await _sim_collector(http_client, sim, clock).refresh(known)
    assert [i.platform_post_id for i in items] == ["Qm7cTs2vXa0"]


async def test_unknown_channel_is_skipped_with_a_warning_when_others_work(
    sim, http_client, clock, sim_video, caplog
):
    ids = [*sorted(channels(sim.world)), "UCdoesNotExist000000000"]
    caplog.set_level(logging.WARNING, logger="viralwatch.collectors.youtube_rss")
    collector = _sim_collector(http_client, sim, clock, ids)
    found = await collector.discover(sim_video)
    await collector.discover(sim_video)
    assert {r.platform_post_id for r in found} == _footage_ids(sim)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "UCdoesNotExist000000000" in warnings[0]


async def test_only_unknown_channels_fail_the_run(sim, http_client, clock, sim_video):
    collector = _sim_collector(http_client, sim, clock, ["UCgone1", "UCgone2"])
    with pytest.raises(SourceUnavailable, match="UCgone1, UCgone2"):
        await collector.discover(sim_video)


async def test_rate_limit_carries_retry_after(sim, http_client, clock, sim_video):
    sim.world.set_fault("youtube", Fault("rate_limit", retry_after_seconds=42))
    with pytest.raises(RateLimited) as caught:
        await _sim_collector(http_client, sim, clock).discover(sim_video)
    assert caught.value.retry_after_seconds == 42


# Issue 9: feedparser marks media:description text/html; it is stored decoded, lines kept.
ESCAPED_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015"
      xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
 <link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id=UCkyivwitness00000000000"/>
 <id>yt:channel:kyivwitness00000000000</id>
 <yt:channelId>kyivwitness00000000000</yt:channelId>
 <title>Kyiv Witness</title>
 <author><name>Kyiv Witness</name><uri>https://www.youtube.com/channel/UCkyivwitness00000000000</uri></author>
 <published>2022-02-24T06:00:00+00:00</published>
 <entry>
  <id>yt:video:Qm7cTs2vXa0</id>
  <yt:videoId>Qm7cTs2vXa0</yt:videoId>
  <yt:channelId>UCkyivwitness00000000000</yt:channelId>
  <title>Soldier &amp; mother: the call</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v=Qm7cTs2vXa0"/>
  <author><name>Kyiv Witness</name><uri>https://www.youtube.com/channel/UCkyivwitness00000000000</uri></author>
  <published>2022-03-02T10:00:00+00:00</published>
  <updated>2022-03-02T12:00:00+00:00</updated>
  <media:group>
   <media:title>Soldier &amp; mother: the call</media:title>
   <media:content url="https://www.youtube.com/v/Qm7cTs2vXa0?version=3" type="application/x-shockwave-flash" width="640" height="390"/>
   <media:thumbnail url="https://i3.ytimg.com/vi/Qm7cTs2vXa0/hqdefault.jpg" width="480" height="360"/>
   <media:description>A captured soldier &amp;amp; his mother.
Source: t.me/kyiv_witness/418</media:description>
   <media:community>
    <media:starRating count="812" average="5.00" min="1" max="5"/>
    <media:statistics views="120934"/>
   </media:community>
  </media:group>
 </entry>
</feed>"""


def test_html_typed_description_is_decoded_with_its_lines():
    (entry,) = parse_feed(ESCAPED_FEED)
    video = TrackedVideo(slug="v", title="v", keywords=("soldier & his mother",))
    ref = YouTubeRssCollector.from_payload(entry, video)
    assert ref is not None and ref.matched_by == "keyword:soldier & his mother"
    assert ref.text == (
        "Soldier & mother: the call\n\nA captured soldier & his mother.\n"
        "Source: t.me/kyiv_witness/418"
    )
    assert ref.author == "Kyiv Witness"
    assert ref.published_at == datetime(2022, 3, 2, 10, 0, tzinfo=UTC)
    telegram = TrackedVideo(slug="v", title="v", urls=("https://t.me/s/kyiv_witness/418",))
    assert YouTubeRssCollector.from_payload(entry, telegram) is not None
