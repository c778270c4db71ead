"""Dailymotion public Platform API (https://developers.dailymotion.com/v0/reference/api-video).

Endpoints (no auth for public data):
- `GET /videos?search=<phrase>&fields=id,title,created_time,views_total,likes_total,url,
  owner.screenname,language&sort=recent&limit=100&page=N&created_after=<epoch>&family_filter=false`
  for discovery; `has_more` says whether another page exists, and a query never reaches past
  1,000 results (https://developers.dailymotion.com/guides/browse-large-catalogs/), so each
  phrase pages back by `created_before` to its high-water mark (collectors/sweep.py), at most
  MAX_PAGES pages per pass;
- `GET /videos?ids=a,b,c&fields=…&limit=100` to refresh counters in batches (the `ids` filter is
  documented without a maximum; we send at most 100, the page limit), then
  `GET /video/<id>?fields=…` for ids the batch did not return: only its 404 (not_found) or 403
  (private video) proves a video is gone.
Rate limits: the documented tables cover uploads only; reads are unmetered but a 429 is still
honoured through `collectors/http.fetch`.
Language: the `language` field (the uploader's ISO 639-1 choice) -> extra.language; owner
follower counts need a user call per owner, so none are stored.
Counters: views_total -> views, likes_total -> likes; no shares, comments or quotes (NULL).
Quirks: nested fields come back as flat dotted keys (`"owner.screenname": "…"`); created_time is
epoch seconds; the family filter is on by default and hides war footage flagged sensitive,
hence `family_filter=false`. Errors use {"error": {"code", "message", "type"}}. Search matches
titles, so every hit is re-checked with `matches_video` on its title.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any, ClassVar, cast

import httpx
from pydantic import Field

from collectors.base import (
    Clock,
    CollectorSpec,
    Gone,
    KnownPost,
    Observation,
    PassHooks,
    PostError,
    PostRef,
    RefreshItem,
    SourceUnavailable,
    TrackedVideo,
    as_count,
    language_code,
    parse_timestamp,
    parses_payload,
    without_none,
)
from collectors.http import chunks, decode_json, expect, fetch
from collectors.matching import matches_video
from collectors.registry import register
from collectors.sweep import Page, sweep
from config.settings import CollectorSettings

FIELDS = "id,title,created_time,views_total,likes_total,url,owner.screenname,language"
PAGE_LIMIT = 100
MAX_PAGES = 3
IDS_BATCH = 100


def dailymotion_error(body: Any) -> tuple[str, str]:
    """(type, message) of an error envelope; ("", "") when the body is not one."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("type") or error.get("code") or ""), str(error.get("message") or "")
    return "", ""


class DailymotionSettings(CollectorSettings):
    base_url: str = Field("https://api.dailymotion.com", description="Public API root")


@register
class DailymotionCollector(PassHooks):
    """Title search for discovery; batched `ids` lookups for views and likes."""

    name: ClassVar[str] = "dailymotion"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="Dailymotion",
        colour="#99DDFF",
        settings_model=DailymotionSettings,
        counters=("views", "likes"),
        default_interval=timedelta(minutes=30),
        default_refresh_interval=timedelta(minutes=30),
        batch_size=IDS_BATCH,
    )
    notice: str | None = None

    def __init__(
        self, client: httpx.AsyncClient, clock: Clock, config: DailymotionSettings
    ) -> None:
        self.client = client
        self.clock = clock
        self.base_url = config.base_url.rstrip("/")

    @classmethod
    @parses_payload
    def from_payload(
        cls, video: dict[str, Any], tracked: TrackedVideo | None = None
    ) -> PostRef | None:
        """A PostRef from a video object; None when it has no id or does not match `tracked`."""
        video_id = video.get("id")
        if not video_id:
            return None
        title = str(video.get("title") or "")
        url = video.get("url") or f"https://www.dailymotion.com/video/{video_id}"
        matched = "" if tracked is None else matches_video(title, [], tracked)
        if matched is None:
            return None
        return PostRef(
            platform=cls.name,
            platform_post_id=str(video_id),
            url=str(url),
            author=video.get("owner.screenname"),
            text=title,
            published_at=parse_timestamp(video.get("created_time")),
            matched_by=matched,
            extra=without_none(language=language_code(video.get("language"))),
        )

    @classmethod
    @parses_payload
    def observation_from_payload(cls, video: dict[str, Any], observed_at: Any) -> Observation:
        return Observation(
            platform=cls.name,
            platform_post_id=str(video["id"]),
            observed_at=observed_at,
            views=as_count(video.get("views_total")),
            likes=as_count(video.get("likes_total")),
        )

    async def _get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        response = await fetch(
            self.client,
            self.name,
            f"{self.base_url}{path}",
            clock=self.clock,
            params=params,
            allow_statuses=(400, 403, 404),
        )
        if response.status_code in (400, 403) and path == "/videos":
            kind, message = dailymotion_error(decode_json(self.name, response))
            raise SourceUnavailable(
                f"dailymotion: {path} refused the request ({kind or response.status_code}: "
                f"{message})"
            )
        return response

    async def _list(self, params: dict[str, Any]) -> dict[str, Any]:
        response = await self._get("/videos", params)
        body = decode_json(self.name, response)
        expect(
            self.name,
            isinstance(body, dict) and isinstance(body.get("list"), list),
            "/videos without a list",
        )
        return cast(dict[str, Any], body)

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Recent videos whose title carries one of the video's phrases."""
        found: dict[str, PostRef] = {}
        for phrase in video.keywords:
            params: dict[str, Any] = {
                "search": phrase,
                "fields": FIELDS,
                "sort": "recent",
                "limit": PAGE_LIMIT,
                "family_filter": "false",
            }
            if video.started_at:
                params["created_after"] = int(video.started_at.timestamp())
            for item in await sweep(video, phrase, partial(self._page, params), MAX_PAGES):
                ref = self.from_payload(item, video)
                if ref is not None:
                    found.setdefault(ref.platform_post_id, ref)
        return list(found.values())

    async def _page(self, params: dict[str, Any], cursor: str | None) -> Page[Any]:
        """One page of recent videos, newest first. The cursor is a `created_before` (epoch
        seconds): a query never reaches past 1,000 results by page number."""
        body = await self._list({**params, "created_before": cursor} if cursor else params)
        items = [i for i in body["list"] if isinstance(i, dict)]
        seconds = [s for i in items if (s := as_count(i.get("created_time"))) is not None]
        following = None
        if body.get("has_more") and seconds:
            # Exclusive bound one second past the oldest, so its second is read again (never
            # skipped); a page all of one second moves past it.
            oldest = min(seconds)
            following = str(oldest + 1 if oldest < max(seconds) else oldest)
        times = [parse_timestamp(i.get("created_time")) for i in items]
        return Page(items, times, following)

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """views_total and likes_total, 100 ids per call; 404 / private videos become Gone."""
        items: list[RefreshItem] = []
        for batch in chunks(list(posts), IDS_BATCH):
            body = await self._list(
                {
                    "ids": ",".join(p.platform_post_id for p in batch),
                    "fields": FIELDS,
                    "limit": IDS_BATCH,
                    "family_filter": "false",
                }
            )
            now = self.clock()
            seen = set()
            for item in body["list"]:
                if isinstance(item, dict) and item.get("id"):
                    items.append(self.observation_from_payload(item, now))
                    seen.add(str(item["id"]))
            for post in batch:
                if post.platform_post_id not in seen:
                    items.append(await self._refresh_one(post))
        return items

    async def _refresh_one(self, post: KnownPost) -> RefreshItem:
        response = await self._get(f"/video/{post.platform_post_id}", {"fields": FIELDS})
        body = decode_json(self.name, response)
        if response.status_code in (403, 404):
            kind, message = dailymotion_error(body)
            return Gone(self.name, post.platform_post_id, self.clock(), f"{kind}: {message}")
        if response.status_code == 400:
            # One video the API refuses is that video's error, not the batch's (issue 8).
            kind, message = dailymotion_error(body)
            message = f"dailymotion: /video refused the request ({kind}: {message})"
            return PostError(self.name, post.platform_post_id, self.clock(), message)
        expect(self.name, isinstance(body, dict) and bool(body.get("id")), "video without id")
        return self.observation_from_payload(body, self.clock())
