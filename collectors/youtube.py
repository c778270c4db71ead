"""YouTube through the Data API v3 (https://developers.google.com/youtube/v3/docs).

Auth: an API key (`key=`), enough for public videos; OAuth is not needed.
Endpoints, under `base_url` (https://www.googleapis.com):
- `GET /youtube/v3/search?part=snippet&type=video&order=date&publishedAfter=…&maxResults=50&q=…`
  discovers re-uploads. All keyword phrases and hashtags go into one query joined with the OR
  operator (`"a"|"b"`), so a pass costs one call per results page: it pages back (`pageToken`)
  to the query's high-water mark (collectors/sweep.py), at most MAX_SEARCH_PAGES pages a pass;
- `GET /youtube/v3/videos?part=snippet,statistics&id=a,b,…` (at most 50 ids) for the video's own
  URLs, for search hits whose (truncated) search snippet did not show the match, and to refresh;
- `GET /youtube/v3/videos:batchGetStats?part=statistics&id=…` refreshes statistics where it
  answers; on a 404 the collector falls back to `videos.list` for the rest of its life.
Quota (https://developers.google.com/youtube/v3/determine_quota_cost): 10,000 units per day for
everything but search (videos.list and batchGetStats cost 1 unit per call), and `search.list` has
its own bucket of 100 calls per day, 1 per call. Both reset at midnight Pacific time. The
collector counts its own search calls per Pacific day (injected clock) and stops searching at
`search_calls_per_day`; a `quotaExceeded` on search closes the search bucket until midnight
Pacific without failing the run, while one on any other call raises RateLimited until then.
Errors: Google's envelope `{"error": {"code", "message", "errors": [{"domain", "reason"}]}}`;
400 `keyInvalid` -> AuthFailed naming collectors.youtube.api_key (the key itself never appears);
403 `rateLimitExceeded` -> RateLimited for a minute; any other 403 -> AuthFailed.
Counters: statistics are strings. viewCount -> views, likeCount -> likes, commentCount -> comments;
likeCount and commentCount are omitted when the uploader hides them (stored as NULL). YouTube
exposes no share count. A video missing from the response was deleted or made private, or is
not served for now: a miss, gone after `daemon.misses_before_gone` answers in a row.
Language: videos.list's `snippet.defaultAudioLanguage` (the spoken language), else
`defaultLanguage` (of title and description) -> extra.language; search.list snippets carry
neither, so only the video's own URLs and re-checked search hits (read through videos.list)
get a language; a hit matched on its search snippet has none. Subscriber counts need a
channels.list call per channel, so no follower count is stored.
Quirks: search.list returns titles and descriptions HTML-escaped (`&amp;`, `&#39;`) and cuts the
description short; videos.list returns them as plain text.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any, ClassVar, cast
from zoneinfo import ZoneInfo

import httpx
from pydantic import Field, SecretStr

from collectors.base import (
    AuthFailed,
    Clock,
    CollectorSpec,
    KnownPost,
    Observation,
    PassHooks,
    PostRef,
    Quota,
    RateLimited,
    RefreshItem,
    SourceUnavailable,
    TrackedVideo,
    as_count,
    as_object,
    language_code,
    missing_from_answer,
    parse_timestamp,
    parses_payload,
    without_none,
)
from collectors.http import chunks, decode_json, expect, fetch
from collectors.identity import post_identity, urls_in_text
from collectors.matching import matches_video
from collectors.registry import register
from collectors.sweep import Page, sweep
from config.settings import CollectorSettings

logger = logging.getLogger("viralwatch.collectors.youtube")

PACIFIC = ZoneInfo("America/Los_Angeles")
SEARCH_PAGE_SIZE = 50
MAX_SEARCH_PAGES = 2
IDS_PER_CALL = 50  # videos.list and batchGetStats: at most 50 ids
SHORT_LIMIT_SECONDS = 60.0


def video_id_from_url(url: str) -> str | None:
    """The 11-character id of any YouTube video URL (rules in `collectors.identity`)."""
    identity = post_identity(url)
    return identity.platform_post_id if identity and identity.platform == "youtube" else None


def seconds_until_pacific_midnight(now: datetime) -> float:
    """Seconds from `now` to the next midnight in America/Los_Angeles (quota reset)."""
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
    return max(1.0, (midnight - now).total_seconds())


def error_reasons(body: Any) -> list[str]:
    """The `reason`s of Google's error envelope (empty when the body is not one)."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return []
    errors = body["error"].get("errors") or []
    reasons = [e.get("reason") for e in errors if isinstance(e, dict)]
    status = body["error"].get("status")
    return [r for r in [*reasons, status] if isinstance(r, str) and r]


class QuotaExceeded(RateLimited):
    """The daily quota is spent; `retry_after_seconds` runs to midnight Pacific."""


class YouTubeSettings(CollectorSettings):
    required_credentials: ClassVar[tuple[str, ...]] = ("api_key",)
    base_url: str = Field("https://www.googleapis.com", description="Data API v3 root")
    api_key: SecretStr = Field(SecretStr(""), description="YouTube Data API v3 key")
    search_calls_per_day: int = Field(
        90, ge=0, le=100, description="search.list calls allowed per Pacific day (bucket of 100)"
    )


def _pacific_day(units: int, what: str, path: str, *, refresh: bool = True) -> Quota:
    # YouTube's quota day resets at midnight Pacific time, not UTC: a budget counted in UTC days
    # would grant a fresh 10,000 units eight hours early.
    return Quota(units, timedelta(days=1), what, path, reset_timezone=PACIFIC.key, refresh=refresh)


@register
class YouTubeCollector(PassHooks):
    """Searches YouTube for re-uploads within the search bucket; refreshes 50 videos per call."""

    name: ClassVar[str] = "youtube"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="YouTube",
        colour="#DC050C",
        settings_model=YouTubeSettings,
        counters=("views", "likes", "comments"),
        # Hourly discovery: 100 search.list calls a day are about 4 a pass; refreshing costs 1
        # unit per 50 videos, so it keeps the common 10 minutes.
        default_interval=timedelta(hours=1),
        quotas=(
            _pacific_day(10_000, "API units (all calls but search)", r"/youtube/v3/(?!search)"),
            _pacific_day(100, "search.list calls", r"/youtube/v3/search", refresh=False),
        ),
        batch_size=IDS_PER_CALL,
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: YouTubeSettings) -> None:
        self.client = client
        self.clock = clock
        self.base_url = config.base_url
        self._key = config.api_key.get_secret_value()
        self.search_calls_per_day = config.search_calls_per_day
        self._search_day: date | None = None
        self._search_calls = 0
        self.has_batch_stats: bool | None = None
        """None until tried; False once the server answered 404 to videos:batchGetStats."""

    # --- pure mapping -------------------------------------------------------------------

    @classmethod
    @parses_payload
    def from_payload(
        cls, item: dict[str, Any], video: TrackedVideo | None = None
    ) -> PostRef | None:
        """A PostRef from a videos.list item or a search.list result; None if it doesn't match.

        Search results carry HTML-escaped, shortened text; both are unescaped here.
        """
        raw_id = item.get("id")
        video_id = raw_id.get("videoId") if isinstance(raw_id, dict) else raw_id
        snippet = item.get("snippet")
        if not isinstance(video_id, str) or not video_id or not isinstance(snippet, dict):
            return None
        is_search = item.get("kind") == "youtube#searchResult"
        title = snippet.get("title") or ""
        description = snippet.get("description") or ""
        if is_search:
            title, description = html.unescape(title), html.unescape(description)
        text = "\n\n".join(part for part in (title, description) if part)
        links = urls_in_text(description)
        matched = "" if video is None else matches_video(text, links, video)
        if matched is None:
            return None
        return PostRef(
            platform=cls.name,
            platform_post_id=video_id,
            url=f"https://www.youtube.com/watch?v={video_id}",
            author=snippet.get("channelTitle") or None,
            text=text,
            published_at=parse_timestamp(snippet.get("publishedAt")),
            matched_by=matched,
            extra=without_none(
                channel_id=snippet.get("channelId"),
                language=language_code(
                    snippet.get("defaultAudioLanguage") or snippet.get("defaultLanguage")
                ),
            ),
        )

    @classmethod
    @parses_payload
    def observation_from_payload(cls, item: dict[str, Any], observed_at: datetime) -> Observation:
        """Counters of a videos.list or batchGetStats item; hidden counters stay None."""
        statistics = item.get("statistics")
        stats = statistics if isinstance(statistics, dict) else {}
        return Observation(
            platform=cls.name,
            platform_post_id=str(item["id"]),
            observed_at=observed_at,
            views=as_count(stats.get("viewCount")),
            likes=as_count(stats.get("likeCount")),
            comments=as_count(stats.get("commentCount")),
        )

    # --- HTTP ---------------------------------------------------------------------------

    async def _call(self, method: str, params: dict[str, Any]) -> httpx.Response:
        """One Data API call; 404 is returned to the caller, other errors are translated."""
        response = await fetch(
            self.client,
            self.name,
            f"{self.base_url}/youtube/v3/{method}",
            clock=self.clock,
            params={**params, "key": self._key},
            allow_statuses=(400, 403, 404),
        )
        status = response.status_code
        if status in (400, 403):
            try:
                reasons = error_reasons(response.json())
            except ValueError:
                reasons = []
            self._raise_for(status, reasons)
        return response

    def _raise_for(self, status: int, reasons: list[str]) -> None:
        shown = ", ".join(reasons) or "no reason given"
        if "keyInvalid" in reasons:
            raise AuthFailed(
                "youtube: API key rejected (keyInvalid); set collectors.youtube.api_key"
            )
        if status == 403 and ("quotaExceeded" in reasons or "dailyLimitExceeded" in reasons):
            wait = seconds_until_pacific_midnight(self.clock())
            raise QuotaExceeded(
                f"youtube: daily quota used up (quotaExceeded); resuming after midnight Pacific, "
                f"in {wait:.0f}s",
                wait,
            )
        if status == 403 and any(r.lower().endswith("ratelimitexceeded") for r in reasons):
            raise RateLimited(
                f"youtube: requests too fast ({shown}); retrying in {SHORT_LIMIT_SECONDS:.0f}s",
                SHORT_LIMIT_SECONDS,
            )
        if status == 403:
            raise AuthFailed(
                f"youtube: access denied (HTTP 403: {shown}); check collectors.youtube.api_key "
                "and that the YouTube Data API v3 is enabled for its project"
            )
        raise SourceUnavailable(f"youtube: request refused (HTTP 400: {shown})")

    async def _json(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        response = await self._call(method, params)
        if response.status_code == 404:
            raise SourceUnavailable(f"youtube: {method} not found (HTTP 404)")
        body = decode_json(self.name, response)
        expect(
            self.name,
            isinstance(body, dict) and isinstance(body.get("items"), list),
            f"{method} returned no items list",
        )
        return cast(dict[str, Any], body)

    # --- search bucket ------------------------------------------------------------------

    def search_calls_left(self) -> int:
        """search.list calls this collector may still make today (Pacific day)."""
        today = self.clock().astimezone(PACIFIC).date()
        if today != self._search_day:
            self._search_day, self._search_calls = today, 0
        return max(0, self.search_calls_per_day - self._search_calls)

    async def _search_page(self, params: dict[str, Any], cursor: str | None) -> Page[Any] | None:
        """One search.list page, newest first (the cursor is its pageToken), or None once
        today's search bucket is spent."""
        if self.search_calls_left() <= 0:
            logger.debug("youtube: search bucket for today is used up; searching tomorrow")
            return None
        self._search_calls += 1  # every call costs, failed ones included
        try:
            body = await self._json("search", {**params, "pageToken": cursor} if cursor else params)
        except QuotaExceeded:
            # search.list has its own bucket: refreshing counters can go on.
            self._search_calls = self.search_calls_per_day
            logger.info("youtube: search quota exceeded; searching again after midnight PT")
            return None
        items = [i for i in body["items"] if isinstance(i, dict)]
        times = [parse_timestamp(as_object(i.get("snippet")).get("publishedAt")) for i in items]
        following = body.get("nextPageToken")
        return Page(items, times, str(following) if following and items else None)

    async def _search(self, query: str, video: TrackedVideo) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "part": "snippet",
            "type": "video",
            "order": "date",
            "maxResults": SEARCH_PAGE_SIZE,
            "q": query,
        }
        if video.started_at:
            params["publishedAfter"] = video.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return await sweep(video, query, partial(self._search_page, params), MAX_SEARCH_PAGES)

    async def _videos(self, ids: Sequence[str], part: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for batch in chunks(list(ids), IDS_PER_CALL):
            body = await self._json("videos", {"part": part, "id": ",".join(batch)})
            items += [i for i in body["items"] if isinstance(i, dict) and i.get("id")]
        return items

    # --- collector ----------------------------------------------------------------------

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """The video's own YouTube URLs, plus search hits that carry its phrases or links."""
        found: dict[str, PostRef] = {}
        own = {vid: url for url in video.urls if (vid := video_id_from_url(url))}
        for item in await self._videos(list(own), "snippet"):
            ref = self.from_payload(item)
            if ref is not None:
                found[ref.platform_post_id] = replace(
                    ref, matched_by=f"url:{own[ref.platform_post_id]}"
                )
        terms = [f'"{phrase}"' for phrase in video.keywords]
        terms += [f"#{tag}" for tag in video.hashtags]
        if terms:
            unmatched: list[str] = []
            for result in await self._search("|".join(terms), video):
                ref = self.from_payload(result, video)
                if ref is not None:
                    found.setdefault(ref.platform_post_id, ref)
                elif isinstance(result.get("id"), dict) and result["id"].get("videoId"):
                    unmatched.append(str(result["id"]["videoId"]))
            # The search snippet's description is cut short; the full one may hold the link.
            recheck = [vid for vid in dict.fromkeys(unmatched) if vid not in found]
            for item in await self._videos(recheck, "snippet"):
                ref = self.from_payload(item, video)
                if ref is not None:
                    found.setdefault(ref.platform_post_id, ref)
        return list(found.values())

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Statistics for 50 videos per call; videos missing from the answer are misses."""
        items: list[RefreshItem] = []
        for batch in chunks(list(posts), IDS_PER_CALL):
            ids = [p.platform_post_id for p in batch]
            returned = {str(i["id"]): i for i in await self._statistics(ids)}
            now = self.clock()
            items += [self.observation_from_payload(returned[i], now) for i in ids if i in returned]
            # Deleted and private videos are left out, but so are ones a hiccup drops: a miss.
            items += missing_from_answer(self.name, ids, set(returned), now, "videos.list")
        return items

    async def _statistics(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        if self.has_batch_stats is not False:
            params = {"part": "statistics", "id": ",".join(ids)}
            response = await self._call("videos:batchGetStats", params)
            if response.status_code != 404:
                self.has_batch_stats = True
                body = decode_json(self.name, response)
                expect(
                    self.name,
                    isinstance(body, dict) and isinstance(body.get("items"), list),
                    "videos:batchGetStats returned no items list",
                )
                return [i for i in body["items"] if isinstance(i, dict) and i.get("id")]
            logger.info("youtube: videos:batchGetStats not available; using videos.list")
            self.has_batch_stats = False
        return await self._videos(ids, "snippet,statistics")
