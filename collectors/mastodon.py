"""Mastodon, on every configured instance (https://docs.joinmastodon.org/methods/).

Endpoints, per instance root:
- `GET /api/v1/timelines/tag/:hashtag?limit=40` (max 40; `max_id` pages back) for hashtags;
  each hashtag and search query pages back to its high-water mark (collectors/sweep.py), at
  most MAX_PAGES pages per pass (search by `offset`);
- `GET /api/v2/search?q=…&type=statuses&resolve=false&limit=40` for the video's URLs and
  keyword phrases (full-text status search needs a user token on most servers and only finds
  statuses the server indexed; without a token an instance may answer 401 or nothing);
- `GET /api/v1/statuses/:id/reblogged_by` (max 80) and `/api/v1/statuses/:id/quotes` (4.5+) for
  the cascade of the most shared matches: boosts become reshare edges, quotes quote posts;
- `GET /api/v1/statuses?id[]=…` (Mastodon 4.3+, up to 20 ids) to refresh counters, falling back
  to `GET /api/v1/statuses/:id` on older servers; 404 there means deleted or private.
Auth: none for public timelines and statuses; optional `access_token` (Bearer) for search.
Rate limits: 300 requests per 5 minutes per IP or account (X-RateLimit-* headers, reset as an
ISO time); `collectors/http.fetch` stops when the window is used up. Refresh keeps up to 4
requests in flight on each instance (the `in_flight` of its quota), all instances at once.
Author and language: `account.followers_count` (of the author, or of a booster for a boost
edge) -> extra.author_followers, the status's
`language` (ISO 639-1, set by the author's app; may be null) -> extra.language.
Counters: reblogs_count -> shares, favourites_count -> likes, replies_count -> comments,
quotes_count -> quotes (4.5+; absent on older servers, stored as NULL). No views.
Quirks: ids are per-instance snowflakes, so a post is keyed by its global `uri` and remembers
which instance and local id to refresh it through. A boost is a wrapper whose `reblog` holds the
original: counters live on the original. Content is HTML; we store it as plain text
(`collectors.text.html_to_text`), led by the content warning (`spoiler_text`) as `CW: …`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr

from collectors.base import (
    AuthFailed,
    Clock,
    CollectorSpec,
    Gone,
    KnownPost,
    Observation,
    PassHooks,
    PostRef,
    Quota,
    RefreshItem,
    TrackedVideo,
    allowed_in_flight,
    as_count,
    language_code,
    parse_timestamp,
    parses_payload,
    without_none,
)
from collectors.http import chunks, decode_json, expect, fetch, gather_limited, query_url
from collectors.matching import matches_video
from collectors.registry import register
from collectors.sweep import Page, sweep
from collectors.text import html_to_text
from config.settings import CollectorSettings, HttpUrl

PAGE_LIMIT = 40
MAX_PAGES = 5  # per query and pass (collectors/sweep.py)
BATCH_IDS = 20
# Each cascade lookup is a request; stay far inside 300 requests per 5 minutes.
CASCADE_STATUSES_PER_PASS = 20
CONTENT_WARNING_PREFIX = "CW: "


def status_text(status: dict[str, Any]) -> tuple[str, list[str]]:
    """Plain text and links of a Status: its content warning first, marked as such."""
    text, links = html_to_text(status.get("content") or "")
    warning = " ".join(str(status.get("spoiler_text") or "").split())
    if warning:
        text = f"{CONTENT_WARNING_PREFIX}{warning}\n\n{text}".strip()
    return text, links


class MastodonSettings(CollectorSettings):
    base_url: str = Field("https://mastodon.social", description="Unused: see instances")
    instances: list[HttpUrl] = Field(
        default_factory=lambda: ["https://mastodon.social"],
        description="Mastodon servers to search (each its own API root)",
    )
    access_token: SecretStr | None = Field(
        None, description="Optional user token; full-text status search needs one"
    )


@register
class MastodonCollector(PassHooks):
    """Hashtag timelines and searches on each instance; batch counter refresh."""

    name: ClassVar[str] = "mastodon"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="Mastodon",
        colour="#AE76A3",
        settings_model=MastodonSettings,
        counters=("likes", "shares", "comments", "quotes"),
        quotas=(Quota(300, timedelta(minutes=5), "requests per IP or account", in_flight=4),),
        batch_size=BATCH_IDS,
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: MastodonSettings) -> None:
        self.client = client
        self.clock = clock
        self.instances = list(config.instances)
        token = config.access_token.get_secret_value() if config.access_token else ""
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._search_refused: set[str] = set()
        self.in_flight = allowed_in_flight(self.spec.quotas)
        """Requests kept in flight at once on each instance; a budget planner may lower it."""
        self._statuses_urls: dict[str, httpx.URL] = {}

    @classmethod
    @parses_payload
    def from_payload(
        cls, status: dict[str, Any], instance: str, video: TrackedVideo | None = None
    ) -> PostRef | None:
        """A PostRef from a Status entity (the original, for a boost); None if it doesn't match."""
        if isinstance(status.get("reblog"), dict):
            status = status["reblog"]
        if not status.get("id") or not status.get("uri"):
            return None
        text, links = status_text(status)
        card = status.get("card")
        if isinstance(card, dict) and card.get("url"):
            links.append(card["url"])
        tags = " ".join(f"#{t['name']}" for t in status.get("tags") or [] if isinstance(t, dict))
        matched = "" if video is None else matches_video(f"{text} {tags}", links, video)
        if matched is None:
            return None
        parent_uri = None
        quote = status.get("quote")
        if isinstance(quote, dict) and isinstance(quote.get("quoted_status"), dict):
            parent_uri = quote["quoted_status"].get("uri")
        account = status.get("account") or {}
        return PostRef(
            platform=cls.name,
            platform_post_id=status["uri"],
            url=status.get("url") or status["uri"],
            author=account.get("acct") or account.get("username"),
            text=text,
            published_at=parse_timestamp(status.get("created_at")),
            matched_by=matched,
            parent_platform=cls.name if parent_uri else None,
            parent_platform_post_id=parent_uri,
            relation="quote" if parent_uri else None,
            extra=without_none(
                instance=instance,
                id=str(status["id"]),
                language=language_code(status.get("language")),
                author_followers=as_count(account.get("followers_count")),
            ),
        )

    @classmethod
    @parses_payload
    def observation_from_payload(cls, status: dict[str, Any], observed_at: Any) -> Observation:
        """Counters of a Status entity (of the original, for a boost)."""
        if isinstance(status.get("reblog"), dict):
            status = status["reblog"]
        return Observation(
            platform=cls.name,
            platform_post_id=status["uri"],
            observed_at=observed_at,
            likes=as_count(status.get("favourites_count")),
            shares=as_count(status.get("reblogs_count")),
            comments=as_count(status.get("replies_count")),
            quotes=as_count(status.get("quotes_count")),
        )

    async def _get(self, instance: str, path: str, **kwargs: Any) -> Any:
        response = await fetch(
            self.client,
            self.name,
            f"{instance}{path}",
            clock=self.clock,
            headers=self.headers,
            **kwargs,
        )
        return decode_json(self.name, response)

    async def _tag_page(self, instance: str, tag: str, cursor: str | None) -> Page[Any]:
        """One page of a hashtag timeline, newest first; the cursor is a `max_id`."""
        params: dict[str, Any] = {"limit": PAGE_LIMIT}
        if cursor is not None:
            params["max_id"] = cursor
        page = await self._get(instance, f"/api/v1/timelines/tag/{tag}", params=params)
        expect(self.name, isinstance(page, list), "tag timeline is not a list")
        statuses = [s for s in page if isinstance(s, dict)]
        following = str(statuses[-1].get("id")) if len(page) >= PAGE_LIMIT and statuses else None
        return Page(statuses, [parse_timestamp(s.get("created_at")) for s in statuses], following)

    async def _search_page(self, instance: str, query: str, cursor: str | None) -> Page[Any]:
        """One page of status search; the cursor is an `offset`."""
        offset = int(cursor or 0)
        params = {"q": query, "type": "statuses", "resolve": "false", "limit": PAGE_LIMIT}
        if offset:
            params["offset"] = offset
        try:
            body = await self._get(instance, "/api/v2/search", params=params)
        except AuthFailed:
            if self.headers:
                raise
            # Anonymous status search is refused on many servers: keep hashtags, skip search.
            self._search_refused.add(instance)
            return Page([])
        expect(self.name, isinstance(body, dict), "search result is not an object")
        statuses = [s for s in body.get("statuses") or [] if isinstance(s, dict)]
        following = str(offset + len(statuses)) if len(statuses) >= PAGE_LIMIT else None
        return Page(statuses, [parse_timestamp(s.get("created_at")) for s in statuses], following)

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Statuses on each instance that carry one of the video's hashtags, URLs or phrases,
        plus their cascade: who boosted them and which statuses quote them."""
        found: dict[str, PostRef] = {}
        for instance in self.instances:
            statuses: list[dict[str, Any]] = []
            for tag in video.hashtags:
                read = partial(self._tag_page, instance, tag)
                statuses += await sweep(video, f"{instance} #{tag}", read, MAX_PAGES)
            for query in (*video.urls, *video.keywords):
                if instance not in self._search_refused:
                    read = partial(self._search_page, instance, query)
                    statuses += await sweep(video, f"{instance} {query}", read, MAX_PAGES)
            matched: dict[str, dict[str, Any]] = {}
            for status in statuses:
                ref = self.from_payload(status, instance, video)
                if ref is not None and ref.platform_post_id not in found:
                    found[ref.platform_post_id] = ref
                    matched[ref.platform_post_id] = status.get("reblog") or status
            for child in await self._cascade(instance, list(matched.values())):
                found.setdefault(child.platform_post_id, child)
        return list(found.values())

    async def _cascade(self, instance: str, statuses: list[dict[str, Any]]) -> list[PostRef]:
        """Boosts (as reshare edges) and quotes of the most shared statuses, within budget."""
        ranked = sorted(
            statuses,
            key=lambda s: (
                (as_count(s.get("reblogs_count")) or 0) + (as_count(s.get("quotes_count")) or 0)
            ),
            reverse=True,
        )[:CASCADE_STATUSES_PER_PASS]
        children: list[PostRef] = []
        for status in ranked:
            uri, local_id = status["uri"], str(status["id"])
            if as_count(status.get("reblogs_count")):
                accounts = await self._get(
                    instance, f"/api/v1/statuses/{local_id}/reblogged_by", params={"limit": 80}
                )
                expect(self.name, isinstance(accounts, list), "reblogged_by is not a list")
                edges = (self.boost_edge(a, uri) for a in accounts if isinstance(a, dict))
                children += [edge for edge in edges if edge is not None]
            if as_count(status.get("quotes_count")):
                quotes = await self._get(
                    instance, f"/api/v1/statuses/{local_id}/quotes", params={"limit": 40}
                )
                expect(self.name, isinstance(quotes, list), "quotes is not a list")
                for quote in quotes:
                    ref = self.from_payload(quote, instance) if isinstance(quote, dict) else None
                    if ref is not None:
                        children.append(
                            replace(
                                ref,
                                matched_by="cascade",
                                parent_platform=self.name,
                                parent_platform_post_id=uri,
                                relation="quote",
                            )
                        )
        return children

    @classmethod
    def boost_edge(cls, account: dict[str, Any], status_uri: str) -> PostRef | None:
        """A boost as a cascade edge: who reshared `status_uri` (no counters of its own)."""
        acct = account.get("acct") or account.get("username")
        if not acct:
            return None
        return PostRef(
            platform=cls.name,
            platform_post_id=f"{status_uri}#reblogged_by:{acct}",
            url=account.get("url"),
            author=acct,
            matched_by="cascade",
            parent_platform=cls.name,
            parent_platform_post_id=status_uri,
            relation="reshare",
            # A booster with a large following carries the video as far as a post does.
            extra=without_none(
                edge=True, author_followers=as_count(account.get("followers_count"))
            ),
        )

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Counters through the batch endpoint (single statuses on older servers), every
        instance at once and `in_flight` requests at once on each (its own rate limit)."""
        by_instance: dict[str, list[KnownPost]] = defaultdict(list)
        for post in posts:
            # Boosts (reshare edges) are never handed here: storage does not queue them.
            by_instance[post.extra.get("instance") or self.instances[0]].append(post)
        per_instance = await asyncio.gather(
            *(self._refresh_instance(instance, group) for instance, group in by_instance.items())
        )
        return [item for items in per_instance for item in items]

    async def _refresh_instance(
        self, instance: str, posts: Sequence[KnownPost]
    ) -> list[RefreshItem]:
        batches = (self._refresh_batch(instance, batch) for batch in chunks(posts, BATCH_IDS))
        return [item for items in await gather_limited(batches, self.in_flight) for item in items]

    async def _refresh_batch(self, instance: str, batch: Sequence[KnownPost]) -> list[RefreshItem]:
        local_ids = {post.extra.get("id", ""): post for post in batch}
        response = await fetch(
            self.client,
            self.name,
            query_url(self._statuses_url(instance), [("id[]", i) for i in local_ids]),
            clock=self.clock,
            headers=self.headers,
            allow_statuses=(404, 405, 422),
        )
        items: list[RefreshItem] = []
        answered: set[str] = set()
        if response.is_success:
            body = decode_json(self.name, response)
            expect(self.name, isinstance(body, list), "statuses batch is not a list")
            now = self.clock()
            for status in body:
                if isinstance(status, dict) and status.get("uri"):
                    items.append(self.observation_from_payload(status, now))
                    answered.add(str(status.get("id")))
        # Ids the batch did not return (or a server without the batch endpoint): ask one by one,
        # since only a 404 on the single status proves it is gone.
        for local_id in local_ids.keys() - answered:
            items.append(await self._refresh_one(instance, local_ids[local_id], local_id))
        return items

    def _statuses_url(self, instance: str) -> httpx.URL:
        """`/api/v1/statuses` of `instance`, parsed once."""
        url = self._statuses_urls.get(instance)
        if url is None:
            url = self._statuses_urls[instance] = httpx.URL(f"{instance}/api/v1/statuses")
        return url

    async def _refresh_one(self, instance: str, post: KnownPost, local_id: str) -> RefreshItem:
        response = await fetch(
            self.client,
            self.name,
            f"{instance}/api/v1/statuses/{local_id}",
            clock=self.clock,
            headers=self.headers,
            allow_statuses=(404, 410),
        )
        if response.status_code in (404, 410):
            return Gone(self.name, post.platform_post_id, self.clock(), "deleted or private")
        status = decode_json(self.name, response)
        expect(self.name, isinstance(status, dict) and "uri" in status, "status has no uri")
        return self.observation_from_payload(status, self.clock())
