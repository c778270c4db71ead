"""Telegram public channels through their keyless web previews (`https://t.me/s/<channel>`).

Endpoints (HTML, no API, no auth), for each configured public channel:
- `GET /s/<channel>`: the newest ~20 messages, oldest first; `?before=<id>` gives the ~20
  messages with smaller ids (older), `?q=<text>` searches inside the channel (same paging).
Discovery reads the newest pages back to what an earlier pass read (the channel's high-water
mark, collectors/sweep.py) or the video's start, at most `MAX_TIMELINE_PAGES` a pass (the next
pass resumes at its `before=`), and one in-channel search per keyword phrase (at most
`MAX_SEARCH_PAGES` each, marked the same way). A message matches
by its text, its links or the message it was forwarded from (`t.me/<channel>/<id>` links are
compared with the video's URLs). The message a match was forwarded from is read from its own
channel page and stored as its cascade parent (relation "forward").
Parsing: `div.tgme_widget_message[data-post="<channel>/<id>"]`, `.js-message_text` (reply
quotes carry `.js-message_reply_text` and are skipped), `span.tgme_widget_message_views`
("987", "12.3K", "1.2M": the preview truncates, so a count is exact only below 1,000),
`time[datetime]`, `a.tgme_widget_message_forwarded_from_name[href]` and the text's `a[href]`.
Language and followers: the channel preview shows neither a message language nor (reliably)
a subscriber count, so neither is stored.
Counters: views only; likes, shares and comments are NULL (the preview shows no counts for them).
Refresh: messages of a channel are re-read around each known id (`?before=<id+1>`, newest known
id first); one page covers every known id between its lowest id and the id asked for.
Missing messages: a known message absent from a page that covers its id (it lies between that page's
lowest id and the page's upper bound) is a miss (storage marks it gone after repeated misses); so is
each pending message of an empty page, never evidence on its own. A channel whose preview shows no
message history (renamed, made private, previews disabled, or a changed layout) proves nothing: its
posts are skipped and logged, never marked.
Limits: none published; t.me answers floods with HTTP 429 (Retry-After honoured). We send one
request at a time and read at most `MAX_REFRESH_PAGES` pages per channel per refresh pass
(posts left over are refreshed next pass). A discovery pass costs, per channel, up to
`MAX_TIMELINE_PAGES` pages plus one search page per phrase (more only while results stay newer
than the video's start), plus one page per forward source outside the list.
Docs: none official for /s/ previews; see https://core.telegram.org/widgets/post for widgets.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, ClassVar

import httpx
from pydantic import Field
from selectolax.lexbor import LexborHTMLParser, LexborNode

from collectors.base import (
    Clock,
    CollectorSpec,
    KnownPost,
    Observation,
    PassHooks,
    PostError,
    PostRef,
    RefreshItem,
    SourceUnavailable,
    TrackedVideo,
    parse_timestamp,
    parses_payload,
)
from collectors.http import fetch
from collectors.matching import matches_video
from collectors.registry import register
from collectors.sweep import Page, sweep
from collectors.text import html_to_text
from config.settings import CollectorSettings

logger = logging.getLogger("viralwatch.collectors.telegram")

MAX_TIMELINE_PAGES = 3
MAX_SEARCH_PAGES = 2
MAX_REFRESH_PAGES = 25
_VIEWS = re.compile(r"^([\d.,]+)\s*([KMB]?)$", re.IGNORECASE)
_MULTIPLIERS = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
_MESSAGE_LINK = re.compile(r"^https?://(?:www\.)?t\.me/(?:s/)?([A-Za-z0-9_]{3,})/(\d+)")
_CHANNEL_NAME = re.compile(r"^(?:https?://(?:www\.)?t\.me/(?:s/)?|@)?([A-Za-z0-9_]+)/?$")


def parse_views(text: str | None) -> int | None:
    """An abbreviated view count ("987", "12.3K", "1.2M") as an int; None when unreadable."""
    if not text:
        return None
    found = _VIEWS.match(text.strip())
    if not found:
        return None
    try:
        number = Decimal(found.group(1).replace(",", ""))
    except InvalidOperation:
        return None
    return int(number * _MULTIPLIERS[found.group(2).upper()])


def channel_name(value: str) -> str:
    """A configured channel ("name", "@name", "https://t.me/name") as its bare name."""
    found = _CHANNEL_NAME.match(value.strip())
    return found.group(1) if found else value.strip()


@dataclass(frozen=True, slots=True)
class TelegramMessage:
    """One message as a channel preview shows it."""

    channel: str
    number: int
    text: str
    published_at: datetime | None
    views: int | None
    author: str | None = None
    links: tuple[str, ...] = ()
    forwarded_from: str | None = None
    """`<channel>/<id>` of the original message, when it was forwarded from a public channel."""

    @property
    def post(self) -> str:
        return f"{self.channel}/{self.number}"

    @property
    def url(self) -> str:
        return f"https://t.me/{self.post}"


@dataclass(slots=True)
class ChannelPage:
    """The messages of one preview page; `has_history` False when it is no channel preview."""

    messages: list[TelegramMessage] = field(default_factory=list)
    has_history: bool = True
    older_before: int | None = None
    """The `before=` value of the page's "older messages" link, if it has one."""


def _message_text(node: LexborNode) -> tuple[str, list[str]]:
    candidates = [
        n
        for n in node.css(".tgme_widget_message_text")
        if "js-message_reply_text" not in (n.attributes.get("class") or "")
    ]
    if not candidates:
        return "", []
    return html_to_text(candidates[-1].html or "")


def parse_page(page_html: str) -> ChannelPage:
    """Messages of a `t.me/s/<channel>` page, in page order (oldest first). Pure."""
    tree = LexborHTMLParser(page_html)
    if tree.css_first(".tgme_channel_history") is None:
        return ChannelPage(has_history=False)
    page = ChannelPage()
    more = tree.css_first(".tme_messages_more[data-before]")
    if more is not None:
        try:
            page.older_before = int(more.attributes.get("data-before") or "")
        except ValueError:
            page.older_before = None
    for node in tree.css(".tgme_widget_message[data-post]"):
        channel, _, number = (node.attributes.get("data-post") or "").partition("/")
        if not channel or not number.isdigit():
            continue
        text, links = _message_text(node)
        views = node.css_first(".tgme_widget_message_views")
        stamp = node.css_first("time[datetime]")
        owner = node.css_first(".tgme_widget_message_owner_name")
        forwarded = None
        origin = node.css_first("a.tgme_widget_message_forwarded_from_name")
        if origin is not None:
            href = origin.attributes.get("href") or ""
            found = _MESSAGE_LINK.match(href)
            if found:
                forwarded = f"{found.group(1)}/{found.group(2)}"
                links.append(href)
        page.messages.append(
            TelegramMessage(
                channel=channel,
                number=int(number),
                text=text,
                published_at=parse_timestamp(stamp.attributes.get("datetime") if stamp else None),
                views=parse_views(views.text() if views is not None else None),
                author=owner.text(strip=True) if owner is not None else None,
                links=tuple(links),
                forwarded_from=forwarded,
            )
        )
    return page


class TelegramSettings(CollectorSettings):
    base_url: str = Field("https://t.me", description="Public channel preview host")
    channels: list[str] = Field(default_factory=list, description="Public channel names")

    def idle_reason(self) -> str | None:
        return None if self.channels else "no channels configured"


@register
class TelegramCollector(PassHooks):
    """Reads the public previews of configured channels: footage messages, forwards, views."""

    name: ClassVar[str] = "telegram"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="Telegram",
        colour="#56B4E9",
        settings_model=TelegramSettings,
        counters=("views",),
        default_interval=timedelta(minutes=10),
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: TelegramSettings) -> None:
        self.client = client
        self.clock = clock
        self.base_url = config.base_url
        self.channels = [channel_name(c) for c in config.channels]
        self._reported: set[str] = set()

    @classmethod
    @parses_payload
    def from_payload(
        cls, message: TelegramMessage, video: TrackedVideo | None = None
    ) -> PostRef | None:
        """A PostRef from a parsed message; None when it does not match `video`."""
        links = [*message.links, message.url]
        matched = "" if video is None else matches_video(message.text, links, video)
        if matched is None:
            return None
        parent = message.forwarded_from
        return PostRef(
            platform=cls.name,
            platform_post_id=message.post,
            url=message.url,
            author=message.channel,
            text=message.text,
            published_at=message.published_at,
            matched_by=matched or "cascade",
            parent_platform=cls.name if parent else None,
            parent_platform_post_id=parent,
            relation="forward" if parent else None,
            extra={"channel": message.channel, "title": message.author},
        )

    @classmethod
    @parses_payload
    def observation_from_payload(cls, message: TelegramMessage, observed_at: Any) -> Observation:
        """Views of a message; the preview exposes no other counter."""
        return Observation(
            platform=cls.name,
            platform_post_id=message.post,
            observed_at=observed_at,
            views=message.views,
        )

    async def _page(self, channel: str, params: dict[str, Any]) -> ChannelPage:
        response = await fetch(
            self.client,
            self.name,
            f"{self.base_url}/s/{channel}",
            clock=self.clock,
            params=params,
            allow_statuses=(301, 302, 303, 307, 308),
        )
        if response.is_redirect:
            return ChannelPage(has_history=False)
        return parse_page(response.text)

    def _report_no_history(self, channel: str) -> None:
        if channel not in self._reported:
            self._reported.add(channel)
            logger.warning(
                "telegram: t.me/s/%s shows no public message history (renamed, private or "
                "previews disabled); check collectors.telegram.channels",
                channel,
            )

    async def _timeline_page(
        self, channel: str, params: dict[str, Any], cursor: str | None
    ) -> Page[TelegramMessage]:
        """One preview page (its ~20 messages come oldest first); the cursor is `before=`."""
        page = await self._page(channel, {**params, "before": cursor} if cursor else params)
        if not page.has_history:
            self._report_no_history(channel)
            return Page([])
        self._reported.discard(channel)
        older = str(page.older_before) if page.older_before is not None else None
        times = [m.published_at for m in page.messages]
        return Page(page.messages, times, older if page.messages else None)

    async def _discover_channel(self, channel: str, video: TrackedVideo) -> list[TelegramMessage]:
        read = partial(self._timeline_page, channel, {})
        messages = await sweep(video, channel, read, MAX_TIMELINE_PAGES)
        if channel in self._reported:
            return messages  # no preview: no search inside it either
        for phrase in video.keywords:
            read = partial(self._timeline_page, channel, {"q": phrase})
            messages += await sweep(video, f"{channel} {phrase}", read, MAX_SEARCH_PAGES)
        return messages

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Messages of the configured channels carrying the video, with their forward sources."""
        pages = [await self._discover_channel(channel, video) for channel in self.channels]
        if self.channels and all(channel in self._reported for channel in self.channels):
            # Not one channel page was a preview: t.me answered something else (a block page,
            # a changed layout). The run fails visibly instead of finding nothing (issue 13).
            raise SourceUnavailable(
                "telegram: no configured channel shows a public message history (renamed or "
                "private channels, a block page or a changed layout); check "
                "collectors.telegram.channels"
            )
        found: dict[str, PostRef] = {}
        for messages in pages:
            for message in messages:
                ref = self.from_payload(message, video)
                if ref is not None:
                    found.setdefault(ref.platform_post_id, ref)
        origins = {
            ref.parent_platform_post_id
            for ref in found.values()
            if ref.parent_platform_post_id and ref.parent_platform_post_id not in found
        }
        for origin in sorted(o for o in origins if o):
            parent = await self._read_message(origin)
            if parent is not None:
                ref = self.from_payload(parent, video) or self.from_payload(parent)
                if ref is not None:
                    found.setdefault(ref.platform_post_id, ref)
        return list(found.values())

    async def _read_message(self, post: str) -> TelegramMessage | None:
        channel, _, number = post.partition("/")
        page = await self._page(channel, {"before": int(number) + 1})
        if not page.has_history:
            self._report_no_history(channel)
            return None
        return next((m for m in page.messages if m.post == post), None)

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Views of known messages, re-read from their channel pages; vanished ones are misses."""
        by_channel: dict[str, dict[int, KnownPost]] = defaultdict(dict)
        for post in posts:
            channel, _, number = post.platform_post_id.partition("/")
            if number.isdigit():
                by_channel[channel][int(number)] = post
        results = [await self._refresh_channel(c, wanted) for c, wanted in by_channel.items()]
        return [item for items in results for item in items]

    async def _refresh_channel(
        self, channel: str, wanted: dict[int, KnownPost]
    ) -> list[RefreshItem]:
        items: list[RefreshItem] = []
        pending = sorted(wanted, reverse=True)
        for _ in range(MAX_REFRESH_PAGES):
            if not pending:
                break
            top = pending[0]
            page = await self._page(channel, {"before": top + 1})
            if not page.has_history:
                self._report_no_history(channel)
                return items
            now = self.clock()
            shown = {
                m.number: m for m in page.messages if m.channel.casefold() == channel.casefold()
            }
            if not shown:
                # An odd page (no message of the channel at all) says nothing about the posts:
                # one such page once marked a whole channel gone (issue 8).
                reason = f"telegram: the preview page of {channel} showed no messages"
                return items + [
                    PostError(self.name, wanted[n].platform_post_id, now, reason, is_miss=True)
                    for n in pending
                ]
            lowest = min(shown)
            still: list[int] = []
            for number in pending:
                if number in shown:
                    observation = self.observation_from_payload(shown[number], now)
                    key = wanted[number].platform_post_id
                    items.append(replace(observation, platform_post_id=key))
                elif number > lowest:
                    # The page covers every id from its lowest up to `top`: a miss (storage
                    # marks it gone after repeated misses).
                    reason = "not in the channel preview"
                    key = wanted[number].platform_post_id
                    items.append(PostError(self.name, key, now, reason, is_miss=True))
                else:
                    still.append(number)
            pending = still
        return items
