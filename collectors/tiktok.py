"""TikTok Research API (https://developers.tiktok.com/doc/research-api-specs-query-videos).

Endpoints:
- `POST /v2/oauth/token/` (form: client_key, client_secret, grant_type=client_credentials) gives a
  client access token valid 2 hours (`expires_in`); it is cached and renewed a minute early, and
  once more when a query answers `access_token_invalid`;
- `POST /v2/research/video/query/?fields=id,video_description,create_time,username,view_count,
  like_count,share_count,comment_count,hashtag_names` with a JSON body
  {query: {and|or|not: [{operation, field_name, field_values}]}, start_date, end_date (YYYYMMDD,
  UTC, at most 30 days apart), max_count (≤ 100), cursor, search_id}.
Discovery: one OR query (keyword EQ per phrase, hashtag_name IN the hashtags) per 30-day window.
The windows cover the first 90 days after the video started (when spread happens) plus the
latest 30 days, newest first; pages follow `cursor` + `search_id` while `has_more`.
Refresh: `video_id IN [...]` (100 ids per query), grouped into 30-day windows by each video's
stored create date, because start_date/end_date are required and must contain the videos.
Auth: the project's approved client key and secret; without them the daemon disables the
collector (`TikTokSettings.required_credentials`); `invalid_client` -> AuthFailed.
Quotas (https://developers.tiktok.com/doc/research-api-faq): 1,000 requests and 100,000 records
per day, reset at 12 AM UTC; rate limit 600 requests per minute (sliding window), HTTP 429
`rate_limit_exceeded`. A 429 that names the daily quota waits until UTC midnight.
Counters: view_count -> views, like_count -> likes, share_count -> shares, comment_count ->
comments (no quotes: NULL).
Quirks: every body carries `error` {code, message, log_id}; `code` is "ok" on success. The API
returns fewer videos than asked when some were deleted or made private, so a video missing
from a refresh answer is a miss, gone after `daemon.misses_before_gone` answers in a row
(storage/post_events.py). Discovery keeps no high-water mark: results come in no documented
order, so no publication time bounds what is left to read, and a `cursor` lives only with
its `search_id`; each pass reads its windows afresh within MAX_PAGES. No cascade edges: the
Research API exposes no duets or stitches.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, cast

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
    missing_from_answer,
    parse_retry_after,
    parse_timestamp,
    parses_payload,
)
from collectors.http import capped_wait, chunks, decode_json, expect, fetch, policy_of
from collectors.matching import matches_video
from collectors.registry import register
from config.settings import CollectorSettings

logger = logging.getLogger("viralwatch.collectors.tiktok")

FIELDS = (
    "id,video_description,create_time,username,view_count,like_count,share_count,"
    "comment_count,hashtag_names"
)
MAX_COUNT = 100
MAX_PAGES = 5
WINDOW_DAYS = 30
SPREAD_DAYS = 90
TOKEN_MARGIN = timedelta(minutes=1)


def tiktok_error(body: Any) -> tuple[str, str, str]:
    """(code, message, log_id) of a Research API body; ("ok", "", "") when it has none."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return (
            str(error.get("code") or "ok"),
            str(error.get("message") or ""),
            str(error.get("log_id") or ""),
        )
    return "ok", "", ""


def _lenient(response: httpx.Response) -> Any:
    """An error body as JSON when it is JSON (a 429 from a proxy may be plain text)."""
    try:
        return response.json()
    except ValueError:
        return None


def day(moment: datetime | date) -> str:
    return moment.strftime("%Y%m%d")


def date_windows(started: date, today: date) -> list[tuple[date, date]]:
    """Windows of at most 30 days: the first 90 days of spread and the latest 30, newest first."""
    spans = []
    spread_end = min(today, started + timedelta(days=SPREAD_DAYS - 1))
    start = started
    while start <= spread_end:
        end = min(spread_end, start + timedelta(days=WINDOW_DAYS - 1))
        spans.append((start, end))
        start = end + timedelta(days=1)
    if today > spread_end:
        latest = max(spread_end + timedelta(days=1), today - timedelta(days=WINDOW_DAYS - 1))
        spans.append((latest, today))
    return list(reversed(spans))


def seconds_to_utc_midnight(now: datetime) -> float:
    tomorrow = (now.astimezone(UTC) + timedelta(days=1)).date()
    return (datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC) - now).total_seconds()


class TikTokSettings(CollectorSettings):
    required_credentials: ClassVar[tuple[str, ...]] = ("client_key", "client_secret")
    base_url: str = Field("https://open.tiktokapis.com", description="Research API root")
    client_key: str = Field("", description="Research API client key")
    client_secret: SecretStr = Field(SecretStr(""), description="Research API client secret")


@register
class TikTokCollector(PassHooks):
    """Research API keyword/hashtag queries for discovery, video_id queries for counters."""

    name: ClassVar[str] = "tiktok"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="TikTok",
        colour="#AA4499",
        settings_model=TikTokSettings,
        counters=("views", "likes", "shares", "comments"),
        # Hourly: 1,000 requests a day are about 40 an hour for discovery and refresh together.
        default_interval=timedelta(hours=1),
        default_refresh_interval=timedelta(hours=1),
        quotas=(
            Quota(1_000, timedelta(days=1), "requests"),
            Quota(100_000, timedelta(days=1), "records", path="/research/", cost=MAX_COUNT),
            Quota(600, timedelta(minutes=1), "requests"),
        ),
        batch_size=MAX_COUNT,
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: TikTokSettings) -> None:
        self.client = client
        self.clock = clock
        self.base_url = config.base_url.rstrip("/")
        self.client_key = config.client_key
        self._client_secret = config.client_secret.get_secret_value()
        self._token: str | None = None
        self._token_expires: datetime | None = None

    @classmethod
    @parses_payload
    def from_payload(
        cls, video: dict[str, Any], tracked: TrackedVideo | None = None
    ) -> PostRef | None:
        """A PostRef from a Video object; None when it has no id or does not match `tracked`."""
        video_id = video.get("id")
        if not video_id:
            return None
        text = str(video.get("video_description") or "")
        tags = " ".join(f"#{t}" for t in video.get("hashtag_names") or [] if isinstance(t, str))
        matched = "" if tracked is None else matches_video(f"{text} {tags}", [], tracked)
        if matched is None:
            return None
        username = video.get("username")
        created = parse_timestamp(video.get("create_time"))
        return PostRef(
            platform=cls.name,
            platform_post_id=str(video_id),
            url=f"https://www.tiktok.com/@{username or '_'}/video/{video_id}",
            author=username,
            text=text,
            published_at=created,
            matched_by=matched,
            extra={"create_date": day(created)} if created else {},
        )

    @classmethod
    @parses_payload
    def observation_from_payload(cls, video: dict[str, Any], observed_at: Any) -> Observation:
        return Observation(
            platform=cls.name,
            platform_post_id=str(video["id"]),
            observed_at=observed_at,
            views=as_count(video.get("view_count")),
            likes=as_count(video.get("like_count")),
            shares=as_count(video.get("share_count")),
            comments=as_count(video.get("comment_count")),
        )

    async def _access_token(self, renew: bool = False) -> str:
        now = self.clock()
        if not renew and self._token and self._token_expires and now < self._token_expires:
            return self._token
        response = await fetch(
            self.client,
            self.name,
            f"{self.base_url}/v2/oauth/token/",
            clock=self.clock,
            method="POST",
            data={
                "client_key": self.client_key,
                "client_secret": self._client_secret,
                "grant_type": "client_credentials",
            },
            allow_statuses=(400, 401),
        )
        body = decode_json(self.name, response)
        if not response.is_success or not isinstance(body, dict) or not body.get("access_token"):
            reason = body.get("error") if isinstance(body, dict) else None
            raise AuthFailed(
                f"tiktok: client credentials rejected ({reason or response.status_code}); check "
                "collectors.tiktok.client_key and client_secret"
            )
        lifetime = timedelta(seconds=float(body.get("expires_in") or 7200))
        self._token = str(body["access_token"])
        self._token_expires = now + lifetime - TOKEN_MARGIN
        return self._token

    async def _query(self, body: dict[str, Any]) -> dict[str, Any]:
        """One video query page; translates the Research API error codes."""
        for attempt in range(2):
            token = await self._access_token(renew=attempt > 0)
            response = await fetch(
                self.client,
                self.name,
                f"{self.base_url}/v2/research/video/query/",
                clock=self.clock,
                method="POST",
                params={"fields": FIELDS},
                headers={"Authorization": f"Bearer {token}"},
                json_body=body,
                allow_statuses=(400, 401, 403, 429),
            )
            payload = (
                decode_json(self.name, response) if response.is_success else _lenient(response)
            )
            code, message, log_id = tiktok_error(payload)
            if not response.is_success and code == "ok":
                code = f"HTTP {response.status_code}"
            if response.is_success and code == "ok":
                data = payload.get("data") if isinstance(payload, dict) else None
                expect(self.name, isinstance(data, dict), "query answer without data")
                return cast(dict[str, Any], data)
            if code == "access_token_invalid" and attempt == 0:
                continue
            raise self._error(response, code, message, log_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, response: httpx.Response, code: str, message: str, log_id: str) -> Exception:
        where = (
            f"tiktok: {code}: {message} (log_id {log_id})"
            if log_id
            else f"tiktok: {code}: {message}"
        )
        if response.status_code == 429 or code == "rate_limit_exceeded":
            now = self.clock()
            if "daily" in message.casefold() or "quota" in code:
                wait = seconds_to_utc_midnight(now)
            else:
                wait = parse_retry_after(response.headers.get("retry-after"), now, default=60.0)
                wait = capped_wait(self.name, wait, policy_of(self.client).max_wait_seconds)
            return RateLimited(f"{where}; retrying in {wait:.0f}s", wait)
        if response.status_code in (401, 403) or code in (
            "access_token_invalid",
            "scope_not_authorized",
            "scope_permission_missed",
        ):
            return AuthFailed(f"{where}; check the Research API access of collectors.tiktok")
        return SourceUnavailable(where)

    async def _videos(self, query: dict[str, Any], start: date, end: date, limit: int) -> list[Any]:
        videos: list[Any] = []
        body: dict[str, Any] = {
            "query": query,
            "start_date": day(start),
            "end_date": day(end),
            "max_count": MAX_COUNT,
        }
        for _ in range(limit):
            data = await self._query(body)
            videos.extend(v for v in data.get("videos") or [] if isinstance(v, dict))
            if not data.get("has_more"):
                break
            body = {**body, "cursor": data.get("cursor"), "search_id": data.get("search_id")}
        return videos

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Videos whose description carries a phrase or hashtag of `video`."""
        conditions: list[dict[str, Any]] = [
            {"operation": "EQ", "field_name": "keyword", "field_values": [phrase]}
            for phrase in video.keywords
        ]
        if video.hashtags:
            conditions.append(
                {
                    "operation": "IN",
                    "field_name": "hashtag_name",
                    "field_values": [t.lower() for t in video.hashtags],
                }
            )
        if not conditions:
            return []
        today = self.clock().astimezone(UTC).date()
        started = video.started_at.astimezone(UTC).date() if video.started_at else today
        found: dict[str, PostRef] = {}
        for start, end in date_windows(min(started, today), today):
            for item in await self._videos({"or": conditions}, start, end, MAX_PAGES):
                ref = self.from_payload(item, video)
                if ref is not None:
                    found.setdefault(ref.platform_post_id, ref)
        return list(found.values())

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Counters through `video_id IN [...]` queries; videos not returned are misses."""
        by_window: dict[date, list[KnownPost]] = defaultdict(list)
        for post in posts:
            created = post.extra.get("create_date")
            when = (
                datetime.strptime(created, "%Y%m%d").replace(tzinfo=UTC).date()
                if created
                else self.clock().astimezone(UTC).date()
            )
            # Align windows on a fixed 30-day grid so one query covers neighbouring videos.
            by_window[date.fromordinal(when.toordinal() - when.toordinal() % WINDOW_DAYS)].append(
                post
            )
        items: list[RefreshItem] = []
        for start, group in sorted(by_window.items()):
            end = start + timedelta(days=WINDOW_DAYS - 1)
            for batch in chunks(group, MAX_COUNT):
                query = {
                    "and": [
                        {
                            "operation": "IN",
                            "field_name": "video_id",
                            "field_values": [p.platform_post_id for p in batch],
                        }
                    ]
                }
                videos = await self._videos(query, start, end, 2)
                now = self.clock()
                seen = set()
                for video in videos:
                    if video.get("id") is not None:
                        items.append(self.observation_from_payload(video, now))
                        seen.add(str(video["id"]))
                ids = [p.platform_post_id for p in batch]
                items += missing_from_answer(self.name, ids, seen, now, "video query")
        return items
