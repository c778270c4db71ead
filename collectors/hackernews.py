"""Hacker News through Algolia HN Search (https://hn.algolia.com/api).

Endpoints: `GET /api/v1/search_by_date` (newest first) for discovery, `GET /api/v1/search` with
`tags=story,(story_<id>,…)` to refresh many stories in one call.
Auth: none. Rate limit: 10,000 requests per hour per IP (documented); we use a few per pass.
Discovery: one query per video URL (`restrictSearchableAttributes=url`) and per keyword phrase,
stories only, newer than the video's start (`numericFilters=created_at_i>…`). Algolia matches
words in any order, so every hit is re-checked with `matches_video` before it is kept.
Pagination: `page`/`hitsPerPage`, but results stop at 1,000 per query (`paginationLimitedTo`),
so discovery pages back by narrowing `created_at_i<=` to the oldest hit read, down to the query's
high-water mark (collectors/sweep.py), at most MAX_PAGES pages per query per pass.
Language and followers: Algolia hits carry no language and HN has no followers; none stored.
Counters: points -> likes, num_comments -> comments; HN shows no views or shares (NULL).
Quirks: a deleted story disappears from search; a story missing from a refresh answer is a miss,
and storage marks it gone after `misses_before_gone` answers in a row leave it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any, ClassVar

import httpx
from pydantic import Field

from collectors.base import (
    Clock,
    CollectorSpec,
    KnownPost,
    Observation,
    PassHooks,
    PostRef,
    Quota,
    RefreshItem,
    TrackedVideo,
    as_count,
    missing_from_answer,
    parse_timestamp,
    parses_payload,
)
from collectors.http import chunks, decode_json, expect, fetch
from collectors.matching import matches_video
from collectors.registry import register
from collectors.sweep import Page, sweep
from collectors.text import html_to_text
from config.settings import CollectorSettings

HITS_PER_PAGE = 100
MAX_PAGES = 5
# Algolia's filter string limit keeps OR-tag groups small; 50 ids fit comfortably.
REFRESH_BATCH = 50


class HackerNewsSettings(CollectorSettings):
    base_url: str = Field("https://hn.algolia.com", description="Algolia HN Search API root")


@register
class HackerNewsCollector(PassHooks):
    """Finds HN stories that link or name the footage; refreshes points and comment counts."""

    name: ClassVar[str] = "hackernews"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="Hacker News",
        colour="#F1932D",
        settings_model=HackerNewsSettings,
        counters=("likes", "comments"),
        quotas=(Quota(10_000, timedelta(hours=1), "requests per IP"),),
        batch_size=REFRESH_BATCH,
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: HackerNewsSettings) -> None:
        self.client = client
        self.clock = clock
        self.base_url = config.base_url

    @classmethod
    @parses_payload
    def from_payload(cls, hit: dict[str, Any], video: TrackedVideo | None = None) -> PostRef | None:
        """A PostRef from one Algolia hit (story), or None when it does not match `video`."""
        object_id = hit.get("objectID")
        if not object_id:
            return None
        url = hit.get("url") or None
        # story_text and comment_text are HTML (`&#x2F;`, `&quot;`, `<p>`); titles are plain.
        body, links = html_to_text(hit.get("story_text") or hit.get("comment_text") or "")
        title = str(hit.get("title") or "")
        text = "\n\n".join(part for part in (title, body) if part)
        links = [url, *links] if url else links
        matched = "" if video is None else matches_video(text, links, video)
        if matched is None:
            return None
        return PostRef(
            platform=cls.name,
            platform_post_id=str(object_id),
            url=f"https://news.ycombinator.com/item?id={object_id}",
            author=hit.get("author"),
            text=text or None,
            published_at=parse_timestamp(hit.get("created_at_i") or hit.get("created_at")),
            matched_by=matched,
            extra={"link": url} if url else {},
        )

    @classmethod
    @parses_payload
    def observation_from_payload(cls, hit: dict[str, Any], observed_at: Any) -> Observation:
        return Observation(
            platform=cls.name,
            platform_post_id=str(hit["objectID"]),
            observed_at=observed_at,
            likes=as_count(hit.get("points")),
            comments=as_count(hit.get("num_comments")),
        )

    async def _page(self, params: dict[str, Any], cursor: str | None) -> Page[dict[str, Any]]:
        """One page of `search_by_date`, newest first. The cursor is a creation time (UNIX
        seconds, inclusive): Algolia serves at most 1,000 hits per query by page number, so
        older hits are reached by narrowing the time filter instead."""
        numeric = [params["numericFilters"]] if params.get("numericFilters") else []
        if cursor is not None:
            numeric.append(f"created_at_i<={cursor}")
        response = await fetch(
            self.client,
            self.name,
            f"{self.base_url}/api/v1/search_by_date",
            clock=self.clock,
            params={**params, "numericFilters": ",".join(numeric), "hitsPerPage": HITS_PER_PAGE},
        )
        body = decode_json(self.name, response)
        expect(
            self.name,
            isinstance(body, dict) and isinstance(body.get("hits"), list),
            "no hits list",
        )
        hits = [h for h in body["hits"] if isinstance(h, dict)]
        seconds = [as_count(h.get("created_at_i")) for h in hits]
        known = [s for s in seconds if s is not None]
        following = None
        if len(hits) >= HITS_PER_PAGE and known:
            # Inclusive, so hits of the same second on the next page are not skipped; a page
            # of one single second moves past it.
            oldest = min(known)
            following = str(oldest if oldest < max(known) else oldest - 1)
        times = [parse_timestamp(s) for s in seconds]
        return Page(hits, times, following)

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Stories linking one of the video's URLs or naming one of its keyword phrases."""
        numeric = f"created_at_i>{int(video.started_at.timestamp())}" if video.started_at else ""
        queries = [{"query": url, "restrictSearchableAttributes": "url"} for url in video.urls]
        queries += [{"query": phrase} for phrase in video.keywords]
        found: dict[str, PostRef] = {}
        for query in queries:
            params = {**query, "tags": "story", "numericFilters": numeric}
            key = (
                "url:" + query["query"]
                if "restrictSearchableAttributes" in query
                else query["query"]
            )
            read = partial(self._page, params)
            for hit in await sweep(video, key, read, MAX_PAGES):
                ref = self.from_payload(hit, video)
                if ref is not None:
                    found.setdefault(ref.platform_post_id, ref)
        return list(found.values())

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Points and comment counts, 50 stories per request; missing stories are misses."""
        items: list[RefreshItem] = []
        for batch in chunks(list(posts), REFRESH_BATCH):
            tags = "story,(" + ",".join(f"story_{p.platform_post_id}" for p in batch) + ")"
            response = await fetch(
                self.client,
                self.name,
                f"{self.base_url}/api/v1/search",
                clock=self.clock,
                params={"tags": tags, "hitsPerPage": len(batch)},
            )
            body = decode_json(self.name, response)
            expect(
                self.name,
                isinstance(body, dict) and isinstance(body.get("hits"), list),
                "no hits list",
            )
            now = self.clock()
            seen = set()
            for hit in body["hits"]:
                if isinstance(hit, dict) and hit.get("objectID"):
                    items.append(self.observation_from_payload(hit, now))
                    seen.add(str(hit["objectID"]))
            # Issue 8: absent from one answer is a miss, not evidence that the story is gone.
            ids = [p.platform_post_id for p in batch]
            items.extend(missing_from_answer(self.name, ids, seen, now, "HN search"))
        return items
