"""The tip line: yt-dlp info dicts on the real recording, yt-dlp reading simulator pages.

yt-dlp only ever sees loopback URLs of the simulator here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from collectors.base import Gone, KnownPost, Observation, PostError, PostRef
from collectors.runner import CollectorRunner
from collectors.urls import UrlsCollector, UrlsSettings, describe_error, is_definitive
from simulator.pages import page_path
from storage import read

NOW = datetime(2026, 3, 1, tzinfo=UTC)
YOUTUBE = "ytdlp/youtube_JjQDik3yNhA_info_2023-06-29.json"


def load(shared_fixtures):
    return json.loads((shared_fixtures / YOUTUBE).read_text(encoding="utf-8"))


def test_observation_maps_the_recorded_youtube_counters(shared_fixtures):
    info = load(shared_fixtures)
    url = "https://www.youtube.com/watch?v=JjQDik3yNhA"
    obs = UrlsCollector.observation_from_payload(info, url, NOW)
    assert (obs.platform_post_id, obs.observed_at) == (url, NOW)
    assert (obs.views, obs.likes, obs.comments) == (
        info["view_count"],
        info["like_count"],
        info["comment_count"],
    )
    assert obs.shares is None and "repost_count" not in info
    assert obs.quotes is None


def test_from_payload_reads_uploader_title_and_upload_date(shared_fixtures):
    info = load(shared_fixtures)
    ref = UrlsCollector.from_payload(info, "https://youtu.be/JjQDik3yNhA")
    assert ref.author == info["uploader"] and ref.text == info["title"]
    assert "timestamp" not in info
    assert ref.published_at == datetime.strptime(info["upload_date"], "%Y%m%d").replace(tzinfo=UTC)
    assert ref.matched_by == "manual" and ref.extra["extractor"] == "Youtube"


def test_from_payload_reads_the_language_and_channel_followers(shared_fixtures):
    # Issue 12: the new_language and new_account alert rules read these.
    ref = UrlsCollector.from_payload(load(shared_fixtures), "https://youtu.be/JjQDik3yNhA")
    assert (ref.extra["language"], ref.extra["author_followers"]) == ("en", 486_000)


def test_from_payload_without_language_or_followers_stores_neither():
    ref = UrlsCollector.from_payload(
        {"title": "A clip", "extractor_key": "Generic"}, "https://a.example/v"
    )
    assert ref.extra == {"extractor": "Generic"}


@pytest.mark.parametrize(
    ("message", "definitive"),
    [
        ("[TikTok] 123: This post may not be comfortable for some audiences. Log in", False),
        ("[youtube] abc: Private video. Sign in if you've been granted access", True),
        ("[youtube] abc: Video unavailable. This video has been removed by the uploader", True),
        ("[generic] x: Unable to download webpage: HTTP Error 404: Not Found", False),
        ("[generic] x: Unable to download webpage: HTTP Error 410: Gone", True),
        ("[twitter] 1: This account has been suspended", True),
        ("[youtube] abc: The uploader has not made this video available in your country", False),
        ("Unsupported URL: https://example.com/", False),
    ],
)
def test_only_definitive_messages_mean_gone(message, definitive):
    assert is_definitive(message) is definitive


def test_describe_error_keeps_one_line_without_prefix_or_secrets():
    err = RuntimeError("ERROR: [generic] x: HTTP Error 404 for https://h/?token=abc\nmore")
    assert describe_error(err) == "[generic] x: HTTP Error 404 for https://h/?token=***"


# --- yt-dlp against simulator pages -------------------------------------------------------


def collector(client, clock):
    return UrlsCollector(client, clock, UrlsSettings())


def page_url(sim, post):
    return sim.base_url("pages") + page_path(post)


def tiktok(sim):
    return sim.world.model.visible("tiktok", sim.world.now())


async def test_discover_finds_nothing_by_itself(http_client, clock, sim_video):
    assert await collector(http_client, clock).discover(sim_video) == []


async def test_refresh_reads_json_ld_counters_through_yt_dlp(sim, http_client, clock):
    posts = tiktok(sim)[:2]
    known = [KnownPost("urls", page_url(sim, p), page_url(sim, p)) for p in posts]
    items = await collector(http_client, clock).refresh(known)
    assert len(sim.world.requests_to("pages")) == len(posts)  # metadata only: no media fetched
    for post, obs in zip(posts, items, strict=True):
        assert isinstance(obs, Observation) and obs.platform_post_id == page_url(sim, post)
        counters = post.counters(sim.world.now())
        assert (obs.views, obs.likes, obs.comments) == (
            counters["views"],
            counters["likes"],
            counters["comments"],
        )
        # yt-dlp's generic extractor does not map ShareAction to repost_count.
        assert obs.shares is None


async def test_a_url_that_404s_stays_listed_with_its_error_logged_once(
    sim, http_client, clock, caplog
):
    url = sim.base_url("pages") + "/tiktok/does-not-exist"
    c = collector(http_client, clock)
    for _ in range(2):
        (error,) = await c.refresh([KnownPost("urls", url, url)])
        assert isinstance(error, PostError) and "HTTP Error 404" in error.message
    assert "HTTP Error 404" in c.last_errors[url]
    assert sum("HTTP Error 404" in r.message for r in caplog.records) == 1


async def test_a_removed_post_is_gone_with_the_reason_and_others_still_read(
    sim, http_client, clock
):
    doomed, alive = tiktok(sim)[:2]
    doomed.gone_at = sim.world.now() - timedelta(minutes=1)
    known = [KnownPost("urls", page_url(sim, p), page_url(sim, p)) for p in (doomed, alive)]
    gone, obs = await collector(http_client, clock).refresh(known)
    assert isinstance(gone, Gone) and "HTTP Error 410" in gone.reason
    assert isinstance(obs, Observation) and obs.views == alive.counters(sim.world.now())["views"]


async def test_runner_refreshes_hand_added_urls(
    sim, http_client, clock, sink, engine, tracked_sim_video
):
    posts = tiktok(sim)[:3]
    refs = [PostRef("urls", page_url(sim, p), page_url(sim, p), matched_by="manual") for p in posts]
    missing = sim.base_url("pages") + "/tiktok/404"
    refs.append(PostRef("urls", missing, missing, matched_by="manual"))
    sink.record_posts(tracked_sim_video.slug, refs)
    runner = CollectorRunner(collector(http_client, clock), sink, clock, http_client)
    report = await runner.refresh()
    assert report.status == "ok" and report.observations_written == len(posts)
    stored = {
        p.platform_post_id: p for p in read.iter_posts(engine, read.PostFilter(platform="urls"))
    }
    assert not stored[missing].is_gone and stored[missing].latest_observed_at is None
    assert "HTTP Error 404" in stored[missing].last_error
    for post in posts:
        row = stored[page_url(sim, post)]
        assert row.views == post.counters(sim.world.now())["views"]
        assert row.shares is None
