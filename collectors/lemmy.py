"""Lemmy, on every configured instance (HTTP API v3, https://join-lemmy.org/api/).

Endpoints, per instance root:
- `GET /api/v3/search?q=…&type_=Posts&sort=New&listing_type=All&limit=50&page=N` for keyword
  phrases (title and body match) and `type_=Url` for the video's links (posts whose link is that
  URL). `limit` is capped at 50 by the server; pages are 1-based.
- `GET /api/v3/post?id=<local id>` to refresh one post. Lemmy 0.19 has no batch read by ids
  (`/api/v3/post/list` filters by community and sort only), so refresh asks one post at a time,
  at most `REFRESH_CONCURRENCY` in flight per instance.
Auth: none for public posts (an optional JWT is not needed for reading).
Rate limits: set per instance by its admin and readable from `GET /api/v3/site`
(`local_site_rate_limit`), per IP; search has its own bucket (lemmy.world, 0.19: 100 searches
per 10 minutes) and plain reads count against the "message" bucket (180 per minute by default).
Exceeding one answers HTTP 429 `{"error": "rate_limit_error"}` without Retry-After, so the runner
waits the default minute. A discovery pass costs at most (links + phrases) x `MAX_SEARCH_PAGES`
searches per instance: each query pages back to its high-water mark (collectors/sweep.py) and a
pass that stops at the cap resumes at its page number next time.
Language and followers: `post.language_id` is an instance-local number that only
`GET /api/v3/site` (all_languages) maps to a code, an extra request per instance, so no
language is stored; Lemmy shows no follower counts.
Counters (`post_view.counts`): score -> likes, comments -> comments. upvotes/downvotes are
not stored (score is their difference); no views or shares (NULL).
Gone: 0.19 answers HTTP 400 `{"error": "couldnt_find_post"}` for a purged post (404 on newer
servers); a deleted (`post.deleted`) or moderator-removed (`post.removed`) post still reads.
Cascade: Lemmy shows posts of the same link as "cross-posted to"; `GetPostResponse.cross_posts`
lists them. The oldest post of a link on an instance is the parent, the others crossposts.
Quirks: ids are per instance, so a post is keyed by its global `ap_id` and remembers which
instance and local id to refresh it through. Bodies are Markdown, stored as they are.
"""

from __future__ import annotations

import html
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar

import httpx
from pydantic import Field

from collectors.base import (
    Clock,
    CollectorSpec,
    Gone,
    KnownPost,
    Observation,
    PassHooks,
    PostRef,
    Quota,
    RefreshItem,
    SourceUnavailable,
    TrackedVideo,
    as_count,
    parse_timestamp,
    parses_payload,
)
from collectors.http import decode_json, expect, fetch, read_each
from collectors.identity import canonical_url
from collectors.matching import matches_video
from collectors.registry import register
from collectors.sweep import Page, sweep
from config.settings import CollectorSettings, HttpUrl

logger = logging.getLogger("viralwatch.collectors.lemmy")

PAGE_LIMIT = 50
MAX_SEARCH_PAGES = 4
REFRESH_CONCURRENCY = 4
_LINK = re.compile(r"https?://[^\s)\]>\"']+")
_NOT_FOUND_ERRORS = {"couldnt_find_post", "not_found"}
_PRIVATE_ERRORS = {"instance_is_private", "not_logged_in"}


def _published(post: dict[str, Any]) -> datetime:
    return parse_timestamp(post.get("published")) or datetime.max.replace(tzinfo=UTC)


class LemmySettings(CollectorSettings):
    base_url: str = Field("https://lemmy.world", description="Unused: see instances")
    instances: list[HttpUrl] = Field(
        default_factory=lambda: ["https://lemmy.world"], description="Lemmy instances to search"
    )


@register
class LemmyCollector(PassHooks):
    """Searches each instance by link and phrase; refreshes posts one by one, crossposts too."""

    name: ClassVar[str] = "lemmy"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="Lemmy",
        colour="#009E73",
        settings_model=LemmySettings,
        counters=("likes", "comments"),
        quotas=(
            Quota(
                100,
                timedelta(minutes=10),
                "searches per IP on lemmy.world",
                path="/api/v3/search",
                refresh=False,
            ),
            Quota(180, timedelta(minutes=1), "reads per IP"),
        ),
        batch_size=1,  # the API reads one post per request (no batch lookup)
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: LemmySettings) -> None:
        self.client = client
        self.clock = clock
        self.instances = list(config.instances)
        self._search_refused: set[str] = set()

    @classmethod
    @parses_payload
    def from_payload(
        cls,
        post_view: dict[str, Any],
        instance: str,
        video: TrackedVideo | None = None,
        parent_ap_id: str | None = None,
    ) -> PostRef | None:
        """A PostRef from a PostView; None when it is malformed or does not match `video`."""
        post = post_view.get("post")
        if not isinstance(post, dict) or not post.get("ap_id") or post.get("id") is None:
            return None
        # Lemmy 0.18-0.19 store titles (and bodies) HTML-escaped: `&amp;` for `&`.
        title = html.unescape(str(post.get("name") or ""))
        body = html.unescape(str(post.get("body") or ""))
        links = [post["url"]] if post.get("url") else []
        links += _LINK.findall(body)
        matched = "" if video is None else matches_video(f"{title}\n{body}", links, video)
        if matched is None:
            return None
        creator = post_view.get("creator") or {}
        community = post_view.get("community") or {}
        return PostRef(
            platform=cls.name,
            platform_post_id=post["ap_id"],
            url=post["ap_id"],
            author=creator.get("name"),
            text=body if body.startswith(title) else f"{title}\n\n{body}".strip(),
            published_at=parse_timestamp(post.get("published")),
            matched_by=matched or "cascade",
            parent_platform=cls.name if parent_ap_id else None,
            parent_platform_post_id=parent_ap_id,
            relation="crosspost" if parent_ap_id else None,
            extra={
                "instance": instance,
                "id": str(post["id"]),
                "community": community.get("name"),
                "link": post.get("url"),
            },
        )

    @classmethod
    @parses_payload
    def observation_from_payload(cls, post_view: dict[str, Any], observed_at: Any) -> Observation:
        """Counters of a PostView: score as likes, comment count as comments."""
        counts = post_view.get("counts") or {}
        return Observation(
            platform=cls.name,
            platform_post_id=post_view["post"]["ap_id"],
            observed_at=observed_at,
            likes=as_count(counts.get("score")),
            comments=as_count(counts.get("comments")),
        )

    @classmethod
    @parses_payload
    def gone_reason(cls, post_view: dict[str, Any]) -> str | None:
        """Why a readable PostView no longer counts as live, or None when it is live."""
        post = post_view.get("post") or {}
        if post.get("deleted"):
            return "deleted by its author"
        if post.get("removed"):
            return "removed by a moderator"
        return None

    async def _get(self, instance: str, path: str, params: Any) -> tuple[int, Any]:
        response = await fetch(
            self.client,
            self.name,
            f"{instance}{path}",
            clock=self.clock,
            params=params,
            allow_statuses=(400, 404),
        )
        return response.status_code, decode_json(self.name, response)

    async def _search_page(
        self, instance: str, query: str, kind: str, cursor: str | None
    ) -> Page[dict[str, Any]]:
        """One page of `/api/v3/search?sort=New`, newest first; the cursor is a page number."""
        page = int(cursor or 1)
        params = {
            "q": query,
            "type_": kind,
            "sort": "New",
            "listing_type": "All",
            "limit": PAGE_LIMIT,
            "page": page,
        }
        status, body = await self._get(instance, "/api/v3/search", params)
        if status != 200:
            error = body.get("error") if isinstance(body, dict) else None
            if error in _PRIVATE_ERRORS:
                # A private instance: nothing public to read; keep the others going.
                logger.warning("lemmy: %s refuses anonymous search (%s); skipped", instance, error)
                self._search_refused.add(instance)
                return Page([])
            raise SourceUnavailable(f"lemmy: search on {instance} failed: {error or status}")
        expect(self.name, isinstance(body, dict), "search result is not an object")
        posts = body.get("posts")
        expect(self.name, isinstance(posts, list), "search result has no posts list")
        views = [v for v in posts if isinstance(v, dict) and isinstance(v.get("post"), dict)]
        times = [parse_timestamp(v["post"].get("published")) for v in views]
        # New posts push older ones down a page: a later page may repeat some, never skip.
        return Page(views, times, str(page + 1) if len(posts) >= PAGE_LIMIT else None)

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Posts on each instance linking one of the video's URLs or naming one of its phrases."""
        found: dict[str, PostRef] = {}
        for instance in self.instances:
            views: list[dict[str, Any]] = []
            queries = [(url, "Url") for url in video.urls]
            queries += [(phrase, "Posts") for phrase in video.keywords]
            for query, kind in queries:
                if instance in self._search_refused:
                    break
                read = partial(self._search_page, instance, query, kind)
                views += await sweep(video, f"{instance} {kind} {query}", read, MAX_SEARCH_PAGES)
            parents = self._crosspost_parents(views)
            for view in views:
                ap_id = view["post"].get("ap_id")
                ref = self.from_payload(view, instance, video, parents.get(ap_id))
                if ref is not None:
                    found.setdefault(ref.platform_post_id, ref)
        return list(found.values())

    @staticmethod
    def _crosspost_parents(views: Sequence[dict[str, Any]]) -> dict[str, str]:
        """ap_id -> ap_id of the oldest post with the same link (Lemmy's "cross-posted to")."""
        by_link: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for view in views:
            post = view.get("post") or {}
            if post.get("url") and post.get("ap_id"):
                by_link[canonical_url(post["url"])][post["ap_id"]] = post
        parents: dict[str, str] = {}
        for family in by_link.values():
            if len(family) < 2:
                continue
            oldest = min(family.values(), key=lambda p: (_published(p), p["ap_id"]))
            for ap_id in family:
                if ap_id != oldest["ap_id"]:
                    parents[ap_id] = oldest["ap_id"]
        return parents

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Counters of each post (one request each, bounded); crossposts of a family's oldest
        post come back as PostRef children."""
        by_instance: dict[str, list[KnownPost]] = defaultdict(list)
        for post in posts:
            by_instance[post.extra.get("instance") or self.instances[0]].append(post)
        items: list[RefreshItem] = []
        for instance, group in by_instance.items():
            read_one = partial(self._refresh_one, instance)
            items += await read_each(self.name, group, read_one, REFRESH_CONCURRENCY, self.clock)
        return items

    async def _refresh_one(self, instance: str, post: KnownPost) -> list[RefreshItem]:
        local_id = post.extra.get("id") or post.platform_post_id.rstrip("/").rsplit("/", 1)[-1]
        status, body = await self._get(instance, "/api/v3/post", {"id": local_id})
        now = self.clock()
        if status != 200:
            error = body.get("error") if isinstance(body, dict) else None
            if error in _NOT_FOUND_ERRORS:
                return [Gone(self.name, post.platform_post_id, now, "no longer on the instance")]
            # One post the instance refuses (HTTP 400) is that post's error (see read_each).
            raise SourceUnavailable(
                f"lemmy: reading post {local_id} on {instance} failed: HTTP {status} {error}"
            )
        view = body.get("post_view") if isinstance(body, dict) else None
        expect(
            self.name,
            isinstance(view, dict) and isinstance(view.get("post"), dict),
            "post response has no post_view",
        )
        assert isinstance(view, dict)
        if (reason := self.gone_reason(view)) is not None:
            return [Gone(self.name, post.platform_post_id, now, reason)]
        items: list[RefreshItem] = [self.observation_from_payload(view, now)]
        cross = [v for v in body.get("cross_posts") or [] if isinstance(v, dict)]
        live = [v for v in cross if isinstance(v.get("post"), dict) and not self.gone_reason(v)]
        family = [view, *live]
        parents = self._crosspost_parents(family)
        own_ap_id = view["post"]["ap_id"]
        for child in live:
            if parents.get(child["post"].get("ap_id")) == own_ap_id:
                ref = self.from_payload(child, instance, None, own_ap_id)
                if ref is not None:
                    items.append(ref)
        return items
