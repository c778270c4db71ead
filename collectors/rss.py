"""News pickup from RSS/Atom feeds and Google News search RSS.

Endpoints:
- every URL in `feeds` (RSS 0.9x/1.0/2.0 or Atom), fetched as it is;
- `GET {google_news_url}/rss/search?q=<phrase>&hl=en-US&gl=US&ceid=US:en` per keyword phrase
  of the video (RSS 2.0, up to 100 items; item links are news.google.com redirects and
  `<source url=…>` names the publisher). Undocumented by Google; parameter guide:
  https://newscatcherapi.com/blog/google-news-rss-search-parameters-the-missing-documentaiton.
  An empty `google_news_url` turns Google News off.
Auth: none. Limits: none published; Google answers floods with 429/503. One pass costs one
request per feed plus one per phrase.
Parsing: bytes fetched through `collectors.http.fetch` are handed to feedparser
(https://feedparser.readthedocs.io) as a stream, so feedparser never fetches anything itself.
A body that is no feed at all is SourceUnavailable; a feed that 404s is logged once and skipped;
a pass fails only when no source could be read.
Records: the key is the item's guid/id, else its link (duplicates in one pass are dropped by
key and by link); the outlet (Google News `<source>`, else the feed's title) is the author;
the title is the text; published/updated time when given. Storage records first-seen time.
Language and followers: entries carry no per-item language here and feeds have no followers;
none stored.
Counters: none. News items have no counters, so `refresh` returns [] without any request;
`counters` is empty so the scheduler can skip refresh passes for this collector.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import feedparser
import httpx
from pydantic import Field

from collectors.base import (
    Clock,
    CollectorError,
    CollectorSpec,
    KnownPost,
    PassHooks,
    PostRef,
    RateLimited,
    RefreshItem,
    SourceUnavailable,
    TrackedVideo,
    parses_payload,
)
from collectors.feed_limits import cap_person_fields
from collectors.http import fetch
from collectors.matching import matches_video
from collectors.registry import register
from collectors.text import feed_date, feed_text
from config.settings import CollectorSettings, HttpUrl, OptionalHttpUrl

logger = logging.getLogger("viralwatch.collectors.rss")

GOOGLE_NEWS = "google-news"
GOOGLE_NEWS_PARAMS = {"hl": "en-US", "gl": "US", "ceid": "US:en"}
SUMMARY_CHARS = 500


def parse_feed(content: bytes) -> Any:
    """feedparser's result for a feed body. Pure: the bytes are read as a stream, never a URL.

    Linear in the body's size (see collectors.feed_limits); callers run it in a worker thread.
    """
    return feedparser.parse(io.BytesIO(cap_person_fields(content)))


class RssSettings(CollectorSettings):
    base_url: str = Field("https://news.google.com", description="Unused: see feeds")
    feeds: list[HttpUrl] = Field(default_factory=list, description="RSS/Atom feed URLs to read")
    google_news_url: OptionalHttpUrl = Field(
        "https://news.google.com", description="Google News host; empty turns it off"
    )

    def idle_reason(self) -> str | None:
        return None if self.feeds or self.google_news_url else "no feeds configured"


@register
class RssCollector(PassHooks):
    """Reads configured feeds and Google News search for the footage; no counters."""

    name: ClassVar[str] = "rss"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="News feeds",
        colour="#F6C141",
        settings_model=RssSettings,
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: RssSettings) -> None:
        self.client = client
        self.clock = clock
        self.feeds = list(config.feeds)
        self.google_news_url = config.google_news_url
        self._reported: set[str] = set()

    @classmethod
    @parses_payload
    def from_payload(
        cls,
        entry: Any,
        feed_title: str | None,
        source: str,
        video: TrackedVideo | None = None,
    ) -> PostRef | None:
        """A PostRef from one feedparser entry; None when it has no key or does not match."""
        link = entry.get("link") or None
        key = entry.get("id") or link
        if not key:
            return None
        title, _ = feed_text(entry, "title")
        summary, links = feed_text(entry, "summary")
        summary = " ".join(summary.split())
        links += [x.get("href") for x in entry.get("links") or [] if x.get("href")]
        links += [x.get("url") for x in entry.get("media_content") or [] if x.get("url")]
        if link:
            links.append(link)
        matched = "" if video is None else matches_video(f"{title}\n{summary}", links, video)
        if matched is None:
            return None
        outlet = entry.get("source") or {}
        extra = {"source": source, "link": link}
        if outlet.get("href"):
            extra["outlet_url"] = outlet["href"]
        byline = " ".join(str(entry.get("author") or "").split())
        if byline:
            extra["byline"] = byline
        if outlet.get("title") or feed_title:
            extra["outlet"] = outlet.get("title") or feed_title
        if summary:
            extra["summary"] = summary[:SUMMARY_CHARS]
        return PostRef(
            platform=cls.name,
            platform_post_id=str(key),
            url=link,
            # The item's own byline; a feed's title names the outlet, not who wrote the item.
            author=byline or outlet.get("title") or None,
            text=title,
            published_at=feed_date(entry, "published", "updated"),
            matched_by=matched,
            extra=extra,
        )

    async def _read(self, url: str, params: dict[str, str] | None = None) -> Any | None:
        response = await fetch(
            self.client,
            self.name,
            url,
            clock=self.clock,
            params=params,
            allow_statuses=(404, 410),
        )
        if response.status_code in (404, 410):
            if url not in self._reported:
                self._reported.add(url)
                logger.warning("rss: feed %s answers HTTP %s; skipped", url, response.status_code)
            return None
        # Off the event loop: a large feed must not stall every other collector.
        parsed = await asyncio.to_thread(parse_feed, response.content)
        if not parsed.get("version"):
            kind = response.headers.get("content-type", "unknown type").split(";")[0]
            raise SourceUnavailable(f"rss: {url} is not an RSS or Atom feed ({kind}); will retry")
        return parsed

    def _sources(self, video: TrackedVideo) -> list[tuple[str, str, dict[str, str] | None]]:
        sources: list[tuple[str, str, dict[str, str] | None]] = [
            (url, url, None) for url in self.feeds
        ]
        if self.google_news_url:
            search = f"{self.google_news_url}/rss/search"
            sources += [
                (GOOGLE_NEWS, search, {"q": q, **GOOGLE_NEWS_PARAMS}) for q in video.keywords
            ]
        return sources

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Feed items and Google News results that name or link the video.

        Raises RateLimited at once; other failures only when no source could be read.
        """
        found: dict[str, PostRef] = {}
        links: set[str] = set()
        failures: list[CollectorError] = []
        failed_urls: set[str] = set()
        sources = self._sources(video)
        for source, url, params in sources:
            if url in failed_urls:
                continue  # one Google News query failed: the others to that host would too
            try:
                parsed = await self._read(url, params)
            except RateLimited:
                raise
            except CollectorError as err:
                failures.append(err)
                failed_urls.add(url)
                continue
            if parsed is None:
                continue
            feed_title = parsed.feed.get("title")
            for entry in parsed.entries:
                ref = self.from_payload(entry, feed_title, source, video)
                if ref is None or ref.platform_post_id in found:
                    continue
                if ref.url and ref.url in links:
                    continue
                found[ref.platform_post_id] = ref
                if ref.url:
                    links.add(ref.url)
        if failures and len(failed_urls) == len({url for _, url, _ in sources}):
            raise failures[0]
        for failure in failures:
            logger.warning("%s", failure)  # a partial failure: the runner sees an ok run
        return list(found.values())

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Nothing to read: news items have no counters. Makes no request."""
        return []
