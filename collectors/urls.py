"""The tip line: post URLs a person added by hand, read through yt-dlp's metadata extraction.

Posts arrive through `viralwatch posts add URL --video SLUG` or the dashboard (platform "urls",
the URL's canonical form as `platform_post_id`), so `discover` finds nothing by itself. A URL
of a platform whose own collector runs becomes that platform's post instead
(`collectors.base.manual_post`), so it is never counted twice. `refresh` reads each URL with
`yt_dlp.YoutubeDL(...).extract_info(url, download=False)` (no download, no playlist expansion,
a socket timeout from the HTTP client's timeout) in worker threads, `URLS_CONCURRENCY` at once.
Any site yt-dlp supports works: TikTok, X, Instagram, Facebook, Vimeo, Rumble, YouTube, and
pages carrying a schema.org VideoObject in JSON-LD (generic extractor).
Docs: https://github.com/yt-dlp/yt-dlp#output-template (info dict fields).
Counters: view_count -> views, like_count -> likes, repost_count -> shares, comment_count ->
comments; each may be missing per extractor (NULL then). The generic extractor maps JSON-LD
WatchAction/ViewAction -> views, LikeAction -> likes, CommentAction -> comments and ignores
ShareAction (so shares stay NULL for such pages); TikTok and X extractors fill repost_count.
Language and followers: `language` -> extra.language and `channel_follower_count` ->
extra.author_followers, where the extractor fills them (YouTube's does).
Limits: whatever each site enforces; yt-dlp does its own HTTP, outside `collectors.http`.
Errors: a URL yt-dlp cannot read never aborts the batch. A definitive message (private,
removed, deleted, terminated account, HTTP 410) makes the post Gone with that message as the
reason; anything else (404, login wall, geo block, unsupported site, timeout) returns no
observation, so the post stays listed and is retried next pass; the message is logged once per
URL and kept in `last_errors` (URL -> message) for whoever wants to show it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
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
    PostError,
    PostRef,
    RefreshItem,
    TrackedVideo,
    as_count,
    language_code,
    parses_payload,
    redact,
    without_none,
)
from collectors.http import gather_limited
from collectors.registry import register
from config.settings import CollectorSettings

logger = logging.getLogger("viralwatch.collectors.urls")

URLS_CONCURRENCY = 3
DEFAULT_TIMEOUT_SECONDS = 20.0
_DEFINITIVE = re.compile(
    r"private video|video is private|account is private|has been removed|been deleted"
    r"|was deleted|no longer available|removed by the uploader|account (?:has been )?"
    r"(?:terminated|suspended)|HTTP Error 410",
    re.IGNORECASE,
)


class _YtdlpLogger:
    """Routes yt-dlp's own output to logging at debug level; errors are handled by refresh."""

    def debug(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)

    def warning(self, message: str) -> None:
        logger.debug("yt-dlp warning: %s", message)

    def error(self, message: str) -> None:
        logger.debug("yt-dlp error: %s", message)


def describe_error(err: BaseException) -> str:
    """One readable line for a yt-dlp failure (no 'ERROR:' prefix, secrets redacted)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return redact(re.sub(r"^ERROR:\s*", "", text))


def is_definitive(message: str) -> bool:
    """Whether a yt-dlp error says the post itself is gone (not a transient or access issue)."""
    return bool(_DEFINITIVE.search(message))


class UrlsSettings(CollectorSettings):
    base_url: str = Field("", description="Unused: each post URL is read directly by yt-dlp")


@register
class UrlsCollector(PassHooks):
    """Refreshes hand-added post URLs through yt-dlp; discovers nothing by itself."""

    name: ClassVar[str] = "urls"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="Added by hand",
        colour="#90C987",
        settings_model=UrlsSettings,
        counters=("views", "likes", "shares", "comments"),
        # yt-dlp reads a whole page per post, outside our budgets: gentler than the APIs.
        default_refresh_interval=timedelta(minutes=30),
        batch_size=1,
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: UrlsSettings) -> None:
        self.client = client
        self.clock = clock
        self.timeout_seconds = client.timeout.read or DEFAULT_TIMEOUT_SECONDS
        self.last_errors: dict[str, str] = {}

    @classmethod
    @parses_payload
    def from_payload(cls, info: dict[str, Any], url: str) -> PostRef:
        """A PostRef for `url` from a yt-dlp info dict (uploader, title, upload time)."""
        published = None
        if isinstance(info.get("timestamp"), int | float):
            published = datetime.fromtimestamp(info["timestamp"], tz=UTC)
        elif isinstance(info.get("upload_date"), str) and len(info["upload_date"]) == 8:
            published = datetime.strptime(info["upload_date"], "%Y%m%d").replace(tzinfo=UTC)
        return PostRef(
            platform=cls.name,
            platform_post_id=url,
            url=url,
            author=info.get("uploader") or info.get("channel") or info.get("uploader_id"),
            text=info.get("title") or info.get("description"),
            published_at=published,
            matched_by="manual",
            extra=without_none(
                extractor=info.get("extractor_key") or info.get("extractor"),
                language=language_code(info.get("language")),
                author_followers=as_count(info.get("channel_follower_count")),
            ),
        )

    @classmethod
    @parses_payload
    def observation_from_payload(
        cls, info: dict[str, Any], platform_post_id: str, observed_at: datetime
    ) -> Observation:
        """Counters from a yt-dlp info dict; a field the extractor did not fill stays None."""
        return Observation(
            platform=cls.name,
            platform_post_id=platform_post_id,
            observed_at=observed_at,
            views=as_count(info.get("view_count")),
            likes=as_count(info.get("like_count")),
            shares=as_count(info.get("repost_count")),
            comments=as_count(info.get("comment_count")),
        )

    def _options(self) -> dict[str, Any]:
        return {
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "skip_download": True,
            "noplaylist": True,
            "socket_timeout": self.timeout_seconds,
            "retries": 1,
            "extractor_retries": 1,
            "cachedir": False,
            "ignore_no_formats_error": True,
            "logger": _YtdlpLogger(),
        }

    def _extract(self, url: str) -> dict[str, Any]:
        # Imported on first use: yt-dlp takes ~0.3 s to import, which every command that lists
        # the collectors would otherwise pay (issue 14).
        import yt_dlp

        with yt_dlp.YoutubeDL(self._options()) as ydl:
            info = ydl.extract_info(url, download=False)
        if not isinstance(info, dict):
            raise yt_dlp.utils.DownloadError(f"no metadata for {url}")
        if info.get("_type") == "playlist" and info.get("view_count") is None:
            entries = [e for e in info.get("entries") or [] if isinstance(e, dict)]
            if entries:
                return entries[0]
        return info

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Nothing: tip-line URLs are added by people, not found."""
        return []

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Counters of each URL; unreadable URLs yield nothing (or Gone when definitive)."""
        results = await gather_limited(
            (self._refresh_one(post) for post in posts), URLS_CONCURRENCY
        )
        return [item for item in results if item is not None]

    async def _refresh_one(self, post: KnownPost) -> RefreshItem | None:
        url = post.url or post.platform_post_id
        try:
            info = await asyncio.to_thread(self._extract, url)
        except Exception as err:  # yt-dlp extractors are third-party code for arbitrary sites
            message = describe_error(err)
            if self.last_errors.get(url) != message:
                logger.warning("urls: cannot read %s: %s", redact(url), message)
            self.last_errors[url] = message
            if is_definitive(message):
                return Gone(self.name, post.platform_post_id, self.clock(), message)
            return PostError(self.name, post.platform_post_id, self.clock(), message)
        if self.last_errors.pop(url, None) is not None:
            logger.info("urls: %s readable again", redact(url))
        return self.observation_from_payload(info, post.platform_post_id, self.clock())
