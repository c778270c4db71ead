"""News feeds: feedparser mapping on the real recordings, collector against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest

from collectors.base import KnownPost, RateLimited, SourceUnavailable, TrackedVideo
from collectors.rss import RssCollector, RssSettings, parse_feed
from collectors.runner import CollectorRunner
from simulator import news
from simulator.world import Fault
from storage import read

GUARDIAN = "news_rss/guardian_us_rss2_media-content_2018.xml"
GIANTBOMB = "news_rss/giantbomb_podcast_rss2_enclosure-media-content_2019.xml"
HEISE = "news_atom/heise_developer_atom_2016.xml"


def load(shared_fixtures, name):
    return parse_feed((shared_fixtures / name).read_bytes())


def refs(parsed, video=None):
    return [
        RssCollector.from_payload(e, parsed.feed.get("title"), "feed", video)
        for e in parsed.entries
    ]


def test_every_recorded_feed_parses_to_keyed_unique_items(shared_fixtures):
    names = sorted(
        str(p.relative_to(shared_fixtures))
        for folder in ("news_rss", "news_atom")
        for p in (shared_fixtures / folder).glob("*.xml")
    )
    assert {GUARDIAN, GIANTBOMB, HEISE} <= set(names)
    for name in names:
        parsed = load(shared_fixtures, name)
        assert parsed.version and parsed.entries, name
        items = refs(parsed)
        assert all(r is not None and r.platform_post_id and r.published_at for r in items), name
        assert len({r.platform_post_id for r in items}) == len(items), name


def test_guardian_item_maps_outlet_link_byline_and_time(shared_fixtures):
    parsed = load(shared_fixtures, GUARDIAN)
    entry = parsed.entries[0]
    ref = RssCollector.from_payload(entry, parsed.feed.get("title"), "feed")
    # The item's byline is its author; the feed's title names the outlet (issue 9).
    assert ref.author == "David Smith in Washington"
    assert ref.extra["outlet"] == "The Guardian"
    assert ref.platform_post_id == entry.id and ref.url == entry.link
    assert ref.text == "Trump State of the Union address promised unity but emphasized discord"
    assert ref.published_at == datetime(2018, 1, 31, 7, 26, 5, tzinfo=UTC)
    assert ref.extra["byline"] == "David Smith in Washington"
    assert "<p>" not in ref.extra["summary"]


def test_atom_entry_uses_its_id_and_published_time(shared_fixtures):
    parsed = load(shared_fixtures, HEISE)
    ref = refs(parsed)[0]
    assert ref.platform_post_id == "http://heise.de/-3088438"
    assert ref.url.startswith("http://www.heise.de/developer/meldung/")
    assert ref.published_at == datetime(2016, 2, 1, 16, 22, tzinfo=UTC)
    assert ref.author is None  # the entry names no author; the feed title is the outlet
    assert ref.extra["outlet"] == "heise developer neueste Meldungen"


def test_podcast_feed_matches_on_enclosure_media_url(shared_fixtures):
    parsed = load(shared_fixtures, GIANTBOMB)
    media = parsed.entries[0].media_content[0]["url"]
    video = TrackedVideo(slug="v", title="v", urls=(media,))
    matched = [r for r in refs(parsed, video) if r is not None]
    assert [r.platform_post_id for r in matched] == [parsed.entries[0].id]
    assert matched[0].matched_by == f"url:{media}"
    assert (
        RssCollector.from_payload(parsed.entries[0], "x", "feed", TrackedVideo("o", "o", ("zzz",)))
        is None
    )


def test_a_body_that_is_no_feed_has_no_version():
    assert not parse_feed(b'{"truncated": [1, 2').get("version")
    assert not parse_feed(b"<html><body>502 Bad Gateway</body></html>").get("version")


# --- against the simulator ----------------------------------------------------------------


def feed_urls(sim):
    return [sim.base_url("rss") + news.feed_path(o) for o in news.outlets(sim.world)]


def collector(sim, client, clock, *, feeds=True, google=True):
    config = RssSettings(
        feeds=feed_urls(sim) if feeds else [],
        google_news_url=sim.base_url("rss") if google else "",
    )
    return RssCollector(client, clock, config)


def footage(sim):
    return [p for p in sim.world.model.footage_posts(sim.world.now()) if p.platform == "rss"]


async def test_outlet_feeds_give_every_footage_story_and_no_noise(
    sim, http_client, clock, sim_video
):
    found = await collector(sim, http_client, clock, google=False).discover(sim_video)
    assert sorted(r.url for r in found) == sorted(p.id for p in footage(sim))
    by_url = {r.url: r for r in found}
    for post in footage(sim):
        ref = by_url[post.id]
        # The byline is the author, the feed's title the outlet (issue 9).
        assert (ref.author, ref.text) == (f"{post.channel} staff", post.title)
        assert ref.extra["outlet"] == post.channel
        assert ref.published_at == post.created_at.replace(microsecond=0)
    atom = [r for r in found if news.is_atom(sim.world, r.extra["outlet"])]
    assert atom and all(r.platform_post_id.startswith("tag:") for r in atom)


async def test_google_news_search_runs_once_per_phrase_and_names_the_outlet(
    sim, http_client, clock, sim_video
):
    found = await collector(sim, http_client, clock, feeds=False).discover(sim_video)
    assert sorted((r.author, r.published_at) for r in found) == sorted(
        (p.channel, p.created_at.replace(microsecond=0)) for p in footage(sim)
    )
    assert all(r.url.startswith("https://news.google.com/rss/articles/") for r in found)
    assert all(r.extra["outlet_url"].startswith("https://www.") for r in found)
    searches = [parse_qs(r.query) for r in sim.world.requests_to("rss", "/rss/search")]
    assert [q["q"][0] for q in searches] == list(sim_video.keywords)
    assert all(q["hl"] == ["en-US"] and q["ceid"] == ["US:en"] for q in searches)


async def test_empty_google_news_url_turns_it_off(sim, http_client, clock, sim_video):
    await collector(sim, http_client, clock, google=False).discover(sim_video)
    assert sim.world.requests_to("rss", "/rss/search") == []


async def test_refresh_asks_nothing_and_returns_nothing(sim, http_client, clock):
    c = collector(sim, http_client, clock)
    assert await c.refresh([KnownPost("rss", footage(sim)[0].id)]) == []
    assert sim.world.requests == [] and RssCollector.spec.counters == ()


async def test_a_missing_feed_is_skipped_and_the_rest_still_read(
    sim, http_client, clock, sim_video
):
    config = RssSettings(feeds=[sim.base_url("rss") + "/feeds/gone.xml", *feed_urls(sim)[:1]])
    found = await RssCollector(http_client, clock, config).discover(sim_video)
    assert found and {r.extra["outlet"] for r in found} == {news.outlets(sim.world)[0]}


async def test_one_broken_source_does_not_hide_the_others(sim, http_client, clock, sim_video):
    sim.world.set_fault("rss", Fault("malformed", count=1))
    found = await collector(sim, http_client, clock, google=False).discover(sim_video)
    assert len(found) == len(footage(sim)) - 1


async def test_rate_limit_carries_retry_after(sim, http_client, clock, sim_video):
    sim.world.set_fault("rss", Fault("rate_limit", retry_after_seconds=42))
    with pytest.raises(RateLimited) as caught:
        await collector(sim, http_client, clock).discover(sim_video)
    assert caught.value.retry_after_seconds == 42


@pytest.mark.parametrize("kind", ["malformed", "error", "down"])
async def test_bad_responses_everywhere_become_source_unavailable(
    sim, http_client, clock, sim_video, kind
):
    sim.world.set_fault("rss", Fault(kind))
    with pytest.raises(SourceUnavailable):
        await collector(sim, http_client, clock).discover(sim_video)


async def test_runner_stores_news_pickups_without_observations(
    sim, http_client, clock, sink, engine, tracked_sim_video
):
    runner = CollectorRunner(collector(sim, http_client, clock), sink, clock, http_client)
    report = await runner.discover([tracked_sim_video])
    assert report.status == "ok" and report.posts_found == 2 * len(footage(sim))
    refresh = await runner.refresh()
    assert refresh.status == "ok" and refresh.requests == 0 and refresh.observations_written == 0
    stored = list(read.iter_posts(engine, read.PostFilter(platform="rss")))
    # Outlet feeds carry bylines; Google News items name only their source outlet.
    bylines = {f"{p.channel} staff" for p in footage(sim)}
    assert {p.author for p in stored} == bylines | {p.channel for p in footage(sim)}
    assert all(p.first_seen_at and p.latest_observed_at is None for p in stored)


# Issue 9: fields decoded by declared type, bylines kept, non-English weekdays read.
FOLHA_RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Folha Mundo</title>
  <link>https://folha.example/mundo</link>
  <item>
    <title>Soldado capturado liga para a m&#xE3;e &amp;amp; v&#xED;deo viraliza</title>
    <link>https://folha.example/mundo/2025/01/soldado.shtml</link>
    <guid isPermaLink="true">https://folha.example/mundo/2025/01/soldado.shtml</guid>
    <pubDate>Sex, 03 Jan 2025 23:47:02 -0300</pubDate>
    <dc:creator>Ana Souza</dc:creator>
    <description>&lt;p&gt;O v&#xED;deo &lt;a href="https://youtu.be/Qm7cTs2vXa0?si=k"&gt;no YouTube&lt;/a&gt;
      mostra um soldado capturado&lt;/p&gt;</description>
  </item>
  <item>
    <title>Sem data</title>
    <link>https://folha.example/mundo/2025/01/sem-data.shtml</link>
    <pubDate>amanh&#xE3;</pubDate>
  </item>
</channel>
</rss>"""

ATOM_HTML_TITLE = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Desk &amp; Wire</title>
  <id>tag:desk.example,2025:feed</id>
  <updated>2025-01-03T10:00:00Z</updated>
  <entry>
    <id>tag:desk.example,2025:1</id>
    <title type="html">Soldier &amp;amp; mother: the &lt;em&gt;call&lt;/em&gt;</title>
    <link rel="alternate" type="text/html" href="https://desk.example/1"/>
    <updated>2025-01-03T10:00:00Z</updated>
    <summary type="html">&lt;p&gt;Captured soldier calls home&lt;/p&gt;</summary>
  </entry>
</feed>"""


def test_rss_item_is_decoded_keeps_its_byline_and_reads_a_portuguese_date():
    parsed = parse_feed(FOLHA_RSS)
    video = TrackedVideo(slug="v", title="v", urls=("https://www.youtube.com/watch?v=Qm7cTs2vXa0",))
    first, undated = refs(parsed)
    assert first is not None and undated is not None
    assert first.text == "Soldado capturado liga para a mãe & vídeo viraliza"
    assert first.author == "Ana Souza" and first.extra["outlet"] == "Folha Mundo"
    assert first.published_at == datetime(2025, 1, 4, 2, 47, 2, tzinfo=UTC)
    assert first.extra["summary"] == "O vídeo no YouTube mostra um soldado capturado"
    matched = RssCollector.from_payload(parsed.entries[0], "Folha Mundo", "feed", video)
    assert matched is not None and matched.matched_by.startswith("url:")
    assert undated.published_at is None and undated.author is None


def test_atom_html_title_is_decoded_and_matches_by_phrase():
    parsed = parse_feed(ATOM_HTML_TITLE)
    video = TrackedVideo(slug="v", title="v", keywords=("soldier & mother",))
    (ref,) = refs(parsed, video)
    assert ref is not None and ref.text == "Soldier & mother: the call"
    assert ref.matched_by == "keyword:soldier & mother"
    assert ref.author is None
