"""Telegram public channel previews (`t.me/s/<channel>`), rendered as HTML.

Paths: /s/<channel> (newest page), `?before=<id>` (older page: ids below it), `?after=<id>`
(newer page) and `?q=<text>` (in-channel search, same paging). Each page holds up to 20
messages, oldest first, inside `section.tgme_channel_history`; a `tme_messages_more` link with
`data-before` leads to older messages. A message is `div.tgme_widget_message[data-post=
"<channel>/<id>"]` with `.tgme_widget_message_text`, `.tgme_widget_message_views` (abbreviated:
"987", "12.3K", "1.2M", truncated, never rounded up), `time[datetime]` and, for forwards,
`a.tgme_widget_message_forwarded_from_name` linking the original message. No public recording
exists (see shared/fixtures/PLATFORMS.md); the markup is our own, in the structure the real
preview uses. Channels also carry older filler messages from before the footage, so pages and
searches behave like a busy channel's. An unknown channel redirects to `/<channel>` (a contact
page without message history), as t.me does.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from simulator.model import SimPost
from simulator.world import World

PAGE_SIZE = 20
FILLER_PER_CHANNEL = 25
_FILLER_TEXTS = [
    "Air raid alert lifted in the region. Stay safe.",
    "Evening summary of the day's events in the city.",
    "Volunteers collect warm clothes at the central station.",
    "Road closures for tomorrow morning, see the map.",
    "Power restored in most districts after repairs.",
]


@dataclass(frozen=True, slots=True)
class Message:
    """One message on a channel page (a model post or an older filler message)."""

    channel: str
    number: int
    text: str
    created_at: datetime
    views: int
    links: tuple[str, ...] = ()
    forwarded_from: str | None = None


def abbreviate(count: int) -> str:
    """A view count the way the preview prints it: 987, 12.3K, 125K, 2.4M (truncated)."""
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if count >= size:
            whole, rest = divmod(count, size)
            # Three digits drop the decimal (125K), and the tenth is cut, never rounded up: the
            # collector must treat "1.2K" as at least 1,200, not as 1,250.
            if whole >= 100:
                return f"{whole}{suffix}"
            tenth = rest * 10 // size
            return f"{whole}.{tenth}{suffix}" if tenth else f"{whole}{suffix}"
    return str(count)


def _channel_posts(world: World, channel: str) -> list[SimPost]:
    return [p for p in world.model.posts.get("telegram", []) if p.channel == channel]


def channel_messages(world: World, channel: str) -> list[Message]:
    """Every message the channel shows now, by id ascending (model posts plus filler)."""
    now = world.now()
    posts = _channel_posts(world, channel)
    messages = []
    for post in posts:
        if not post.is_visible(now):
            continue
        # Post ids are "<channel>/<message number>"; pages and paging work on the number.
        number = int(post.id.split("/", 1)[1])
        parent = post.parent_id if post.relation == "forward" else None
        messages.append(
            Message(
                channel=channel,
                number=number,
                text=post.text,
                created_at=post.created_at,
                views=post.counters(now).get("views", 0),
                links=tuple(post.links),
                forwarded_from=parent,
            )
        )
    # Filler sits below the footage's first message, every third number (the gaps are the
    # deleted and service messages real channels have), so paging back has pages to cross.
    lowest = min(int(p.id.split("/", 1)[1]) for p in posts)
    first = min(p.created_at for p in posts)
    for k in range(1, FILLER_PER_CHANNEL + 1):
        if lowest - 3 * k <= 0:
            break
        messages.append(
            Message(
                channel=channel,
                number=lowest - 3 * k,
                text=_FILLER_TEXTS[k % len(_FILLER_TEXTS)],
                created_at=first - timedelta(hours=2 * k),
                views=1000 + 137 * k,
            )
        )
    return sorted(messages, key=lambda m: m.number)


def _text_html(message: Message) -> str:
    parts = []
    for line in message.text.split("\n"):
        words = []
        for word in line.split(" "):
            # The preview turns bare URLs into links; the collector finds links only there.
            if word.startswith(("http://", "https://")):
                safe = html.escape(word)
                words.append(f'<a href="{safe}" target="_blank" rel="noopener">{safe}</a>')
            else:
                words.append(html.escape(word))
        parts.append(" ".join(words))
    return "<br/>".join(parts)


def render_message(message: Message, title: str) -> str:
    """One message widget, in the preview's structure."""
    post = f"{message.channel}/{message.number}"
    forwarded = ""
    if message.forwarded_from:
        origin = message.forwarded_from.split("/", 1)[0]
        forwarded = (
            '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from '
            f'<a class="tgme_widget_message_forwarded_from_name" '
            f'href="https://t.me/{html.escape(message.forwarded_from)}">'
            f'<span dir="auto">{html.escape(origin.replace("_", " ").title())}</span></a></div>'
        )
    # t.me writes "+00:00", not "Z", and no fractional seconds.
    stamp = message.created_at.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return (
        '<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        f'<div class="tgme_widget_message text_not_supported_wrap js-widget_message" '
        f'data-post="{html.escape(post)}" data-view="sim{message.number}">'
        '<div class="tgme_widget_message_user">'
        f'<a href="https://t.me/{message.channel}"><i class="tgme_widget_message_user_photo '
        'bgcolor2" style="width:45px;height:45px"></i></a></div>'
        '<div class="tgme_widget_message_bubble">'
        '<i class="tgme_widget_message_bubble_tail"></i>'
        '<div class="tgme_widget_message_author accent_color">'
        f'<a class="tgme_widget_message_owner_name" href="https://t.me/{message.channel}">'
        f'<span dir="auto">{html.escape(title)}</span></a></div>'
        f"{forwarded}"
        f'<a class="tgme_widget_message_video_player blured js-message_video_player" '
        f'href="https://t.me/{html.escape(post)}">'
        '<i class="tgme_widget_message_video_thumb"></i>'
        '<div class="message_video_play"></div></a>'
        '<div class="tgme_widget_message_text js-message_text" dir="auto">'
        f"{_text_html(message)}</div>"
        '<div class="tgme_widget_message_footer compact js-message_footer">'
        '<div class="tgme_widget_message_info short js-message_info">'
        f'<span class="tgme_widget_message_views">{abbreviate(message.views)}</span>'
        '<span class="copyonclick" data-copy="sim"></span>'
        '<span class="tgme_widget_message_meta">'
        f'<a class="tgme_widget_message_date" href="https://t.me/{html.escape(post)}">'
        f'<time datetime="{stamp}" class="time">{message.created_at.strftime("%H:%M")}</time>'
        "</a></span></div></div></div></div></div>"
    )


def render_page(channel: str, messages: list[Message], has_older: bool) -> str:
    """A whole /s/<channel> page with `messages` (oldest first)."""
    title = channel.replace("_", " ").title()
    more = ""
    # Only the "more" link tells a reader that older messages exist; the last page has none.
    if has_older and messages:
        oldest = messages[0].number
        more = (
            '<div class="tgme_widget_message_centered js-messages_more_wrap">'
            f'<a href="/s/{channel}?before={oldest}" data-before="{oldest}" '
            'class="tme_messages_more js-messages_more"></a></div>'
        )
    body = "".join(render_message(m, title) for m in messages)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} – Telegram</title>"
        f'<meta property="og:title" content="{html.escape(title)}">'
        f'<link rel="canonical" href="https://t.me/s/{channel}"></head>'
        '<body class="widget_frame_base tgme_webpreview_channel">'
        '<header class="tgme_header"><div class="tgme_header_info">'
        f'<div class="tgme_channel_info_header_title"><span dir="auto">{html.escape(title)}'
        "</span></div></div></header>"
        '<main class="tgme_main"><section class="tgme_channel_history js-message_history">'
        f"{more}{body}</section></main></body></html>"
    )


def app(world: World) -> Starlette:
    """t.me: channel previews under /s/<channel>."""

    async def preview(request: Request) -> Response:
        channel = request.path_params["channel"]
        # t.me redirects an unknown channel to its contact page rather than answering 404.
        if not _channel_posts(world, channel):
            root = request.scope.get("root_path", "")
            return RedirectResponse(f"{root}/{channel}", status_code=302)
        params = request.query_params
        messages = channel_messages(world, channel)
        query = params.get("q", "").strip().casefold()
        if query:
            messages = [m for m in messages if query in m.text.casefold()]
        try:
            if "before" in params:
                messages = [m for m in messages if m.number < int(params["before"])]
            # ?after= pages forward from a message: the oldest 20 after it, not the newest.
            if "after" in params:
                after = [m for m in messages if m.number > int(params["after"])]
                page = after[:PAGE_SIZE]
                has_older = len(messages) > len(after)
                return HTMLResponse(render_page(channel, page, has_older))
        except ValueError:
            return HTMLResponse("Bad request", status_code=400)
        page = messages[-PAGE_SIZE:]  # the newest 20, still printed oldest first
        return HTMLResponse(render_page(channel, page, len(messages) > len(page)))

    async def contact(request: Request) -> Response:
        name = html.escape(request.path_params["channel"])
        return HTMLResponse(
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Telegram: Contact @'
            f'{name}</title></head><body class="tgme_page_body"><div class="tgme_page">'
            f'<div class="tgme_page_title">@{name}</div><div class="tgme_page_description">If '
            "you have Telegram, you can contact them right away.</div></div></body></html>"
        )

    return Starlette(
        routes=[
            Route("/s/{channel}", preview),
            Route("/{channel}", contact),
        ]
    )
