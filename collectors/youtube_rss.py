"""YouTube channel feeds, no key needed (`GET /feeds/videos.xml?channel_id=UC…`).

Endpoint: `{base_url}/feeds/videos.xml?channel_id=<id>` (base_url https://www.youtube.com) for
every channel in `collectors.youtube_rss.channels`: an Atom feed with `yt:` and `media:`
namespaces listing the channel's 15 newest uploads. Parsed with feedparser.
Auth and limits: none documented (an undocumented, public endpoint); responses are cached for
up to 15 minutes (`Cache-Control: public, max-age=900`), so polling faster gains nothing.
Discovery: each entry's title, `media:description` and links are checked with `matches_video`.
Counters: `media:community/media:statistics@views` -> views, `media:starRating@count` -> likes.
The feed has no comment or share counts (NULL); a missing element leaves its counter NULL.
Refresh re-reads the channel feeds of the known videos and reports the videos still listed.
A video that dropped out of the feed is NOT marked gone: the feed only lists the 15 newest
uploads, so an older video simply falls off it. It stays unrefreshed here (the `youtube`
collector, with an API key, can still follow it).
Format drift: the 2017 feed had the channel id with its "UC" prefix at feed level, the 2026 feed
drops the prefix there (entries keep it); Shorts link to /shorts/<id>. Both are read.
Errors: an unknown or terminated channel answers 404 with an HTML page, not XML: that channel
is skipped with a warning naming it, and the run fails (SourceUnavailable naming the channels)
only when no configured channel could be read. The platform name of these posts is
`youtube_rss`, so a video seen by both YouTube collectors is stored once under each.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

import feedparser
import httpx
from pydantic import Field

from collectors.base import (
    Clock,
    CollectorSpec,
    KnownPost,
    Observation,
    PassHooks,
    PostRef,
    RefreshItem,
    SourceUnavailable,
    TrackedVideo,
    as_count,
    parses_payload,
)
from collectors.feed_limits import cap_person_fields
from collectors.http import fetch
from collectors.matching import matches_video
from collectors.registry import register
from collectors.text import feed_date, feed_text
from config.settings import CollectorSettings

logger = logging.getLogger("viralwatch.collectors.youtube_rss")


class FeedMissing(SourceUnavailable):
    """A channel's feed answered 404: unknown or terminated channel."""

    def __init__(self, channel_id: str) -> None:
        super().__init__(
            f"youtube_rss: channel {channel_id} has no feed (HTTP 404: unknown or terminated "
            "channel); check collectors.youtube_rss.channels"
        )
        self.channel_id = channel_id


def parse_feed(content: bytes, channel_id: str = "") -> list[dict[str, Any]]:
    """The entries of a channel feed; SourceUnavailable when the body is no Atom feed."""
    parsed = feedparser.parse(cap_person_fields(content))  # linear: see collectors.feed_limits
    if not parsed.get("version") and not parsed.entries:
        raise SourceUnavailable(
            f"youtube_rss: malformed feed for channel {channel_id or '?'} "
            f"({len(content)} bytes): not Atom; will retry"
        )
    feed_channel = parsed.feed.get("yt_channelid") or channel_id
    if feed_channel and not feed_channel.startswith("UC"):
        feed_channel = "UC" + feed_channel  # 2026 feeds drop the prefix at feed level
    entries = []
    for entry in parsed.entries:
        item = dict(entry)
        item.setdefault("yt_channelid", feed_channel)
        entries.append(item)
    return entries


def _video_id(entry: dict[str, Any]) -> str | None:
    video_id = entry.get("yt_videoid")
    if not video_id and str(entry.get("id", "")).startswith("yt:video:"):
        video_id = str(entry["id"]).removeprefix("yt:video:")
    return str(video_id) if video_id else None


class YouTubeRssSettings(CollectorSettings):
    base_url: str = Field("https://www.youtube.com", description="Feed host")
    channels: list[str] = Field(default_factory=list, description="Channel ids (UC…) to watch")

    def idle_reason(self) -> str | None:
        return None if self.channels else "no channels configured"


@register
class YouTubeRssCollector(PassHooks):
    """Reads a watch list of channel feeds: new uploads, views and likes, no key."""

    name: ClassVar[str] = "youtube_rss"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="YouTube (feeds)",
        colour="#F7F0A6",
        settings_model=YouTubeRssSettings,
        counters=("views", "likes"),
        # Its videos are YouTube videos: stored under youtube, refreshed by that collector.
        platform="youtube",
        # The feeds are cached for 15 minutes (max-age=900): polling faster reads the same body.
        default_refresh_interval=timedelta(minutes=15),
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: YouTubeRssSettings) -> None:
        self.client = client
        self.clock = clock
        self.base_url = config.base_url
        self.channels = list(config.channels)
        self._warned: set[str] = set()

    @classmethod
    @parses_payload
    def from_payload(
        cls, entry: dict[str, Any], video: TrackedVideo | None = None
    ) -> PostRef | None:
        """A PostRef from one feed entry, or None when it does not match `video`."""
        video_id = _video_id(entry)
        if video_id is None:
            return None
        title, _ = feed_text(entry, "title")
        description, _ = feed_text(entry, "summary")
        text = "\n\n".join(part for part in (title, description) if part)
        links = [entry.get("link") or ""]
        links += [link.get("href") or "" for link in entry.get("links") or []]
        links = [link for link in dict.fromkeys(links) if link]
        matched = "" if video is None else matches_video(text, links, video)
        if matched is None:
            return None
        return PostRef(
            platform=cls.spec.platform,
            platform_post_id=video_id,
            url=entry.get("link") or f"https://www.youtube.com/watch?v={video_id}",
            author=entry.get("author") or None,
            text=text,
            published_at=feed_date(entry, "published", "updated"),
            matched_by=matched,
            extra={"channel_id": entry.get("yt_channelid")},
        )

    @classmethod
    @parses_payload
    def observation_from_payload(cls, entry: dict[str, Any], observed_at: datetime) -> Observation:
        """Views and likes of one feed entry (None where the element is missing)."""
        statistics = entry.get("media_statistics") or {}
        rating = entry.get("media_starrating") or {}
        return Observation(
            platform=cls.spec.platform,
            platform_post_id=str(_video_id(entry)),
            observed_at=observed_at,
            views=as_count(statistics.get("views")),
            likes=as_count(rating.get("count")),
        )

    async def _feed(self, channel_id: str) -> list[dict[str, Any]]:
        response = await fetch(
            self.client,
            self.name,
            f"{self.base_url}/feeds/videos.xml",
            clock=self.clock,
            params={"channel_id": channel_id},
            allow_statuses=(404,),
        )
        if response.status_code == 404:
            raise FeedMissing(channel_id)
        # Off the event loop: a large feed must not stall every other collector.
        return await asyncio.to_thread(parse_feed, response.content, channel_id)

    async def _feeds(self, channel_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Entries per readable channel; missing channels are skipped unless all are."""
        feeds: dict[str, list[dict[str, Any]]] = {}
        missing: list[FeedMissing] = []
        for channel_id in channel_ids:
            try:
                feeds[channel_id] = await self._feed(channel_id)
            except FeedMissing as err:
                missing.append(err)
                if channel_id not in self._warned:
                    self._warned.add(channel_id)
                    logger.warning("%s", err)
        if missing and not feeds:
            if len(missing) == 1:
                raise missing[0]
            names = ", ".join(err.channel_id for err in missing)
            raise SourceUnavailable(
                f"youtube_rss: no channel feed could be read (HTTP 404 for {names}); "
                "check collectors.youtube_rss.channels"
            )
        return feeds

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Uploads on the watched channels whose title, description or link carries the video."""
        found: dict[str, PostRef] = {}
        for entries in (await self._feeds(self.channels)).values():
            for entry in entries:
                ref = self.from_payload(entry, video)
                if ref is not None:
                    found.setdefault(ref.platform_post_id, ref)
        return list(found.values())

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Views and likes of known videos still in their channel's feed (others are skipped)."""
        by_channel: dict[str, set[str]] = defaultdict(set)
        unplaced: set[str] = set()
        for post in posts:
            channel_id = post.extra.get("channel_id")
            if channel_id:
                by_channel[channel_id].add(post.platform_post_id)
            else:
                unplaced.add(post.platform_post_id)
        if unplaced:
            for channel_id in self.channels:
                by_channel[channel_id] |= unplaced
        feeds = await self._feeds(list(by_channel))
        now = self.clock()
        items: list[RefreshItem] = []
        seen: set[str] = set()
        for channel_id, entries in feeds.items():
            for entry in entries:
                video_id = _video_id(entry)
                if video_id in by_channel[channel_id] and video_id not in seen:
                    seen.add(video_id)
                    items.append(self.observation_from_payload(entry, now))
        return items
