"""News feeds: outlet RSS 2.0 / Atom feeds and Google News search RSS, from the model's rss posts.

Paths: /feeds/<outlet>.xml (one per outlet of the model; even-numbered outlets publish RSS 2.0
with `dc:creator` and `media:content` like the Guardian recording, odd-numbered ones Atom 1.0
like the heise recording), and /rss/search?q=…&hl=…&gl=…&ceid=… (Google News search RSS: item
links and guids are opaque news.google.com article tokens, `<source url=…>` names the outlet,
the description is the anchor-plus-outlet HTML Google sends). Mounted at /rss, so
`google_news_url` is the mount's base URL. Each outlet feed also carries unrelated stories.
"""

from __future__ import annotations

import base64
import html
import zlib
from datetime import datetime, timedelta
from email.utils import format_datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.model import SCENARIO_START, SimPost
from simulator.world import World

MAX_SEARCH_ITEMS = 100  # Google News search RSS returns at most 100 items
_NOISE_TITLES = [
    "City council approves new tram line to the airport",
    "Storm warning for the coast as temperatures drop",
    "Central bank leaves interest rates unchanged",
]


def one_item_rss(tag: str, value: str) -> bytes:
    """An RSS 2.0 feed of one item whose `<tag>` element holds `value` as given (raw XML: a
    hostile field, a CDATA section), for parser tests and benchmarks."""
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<channel><title>t</title>"
        f"<item><title>x</title><link>https://e.example/1</link><{tag}>{value}</{tag}>"
        "<guid>1</guid></item></channel></rss>"
    ).encode()


def slug(outlet: str) -> str:
    return outlet.lower().replace(" ", "-")


def outlets(world: World) -> list[str]:
    """Outlet names in the order the model lists them."""
    names: list[str] = []
    for post in world.model.posts.get("rss", []):
        if post.channel and post.channel not in names:
            names.append(post.channel)
    return names


def feed_path(outlet: str) -> str:
    """Where an outlet's feed lives under the mount."""
    return f"/feeds/{slug(outlet)}.xml"


def is_atom(world: World, outlet: str) -> bool:
    return outlets(world).index(outlet) % 2 == 1


def _homepage(outlet: str) -> str:
    return f"https://www.{slug(outlet)}.example"


def _rfc822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _description(post: SimPost) -> str:
    words = []
    for word in post.text.split(" "):
        safe = html.escape(word)
        words.append(f'<a href="{safe}">{safe}</a>' if word.startswith("https://") else safe)
    return f"<p>{' '.join(words)}</p>"


def _stories(world: World, outlet: str) -> list[tuple[str, str, datetime, str, str]]:
    """(id, title, published, description html, byline) of the outlet's stories, newest first."""
    now = world.now()
    stories = [
        (post.id, post.title or "", post.created_at, _description(post), f"{outlet} staff")
        for post in world.model.posts.get("rss", [])
        if post.channel == outlet and post.created_at <= now
    ]
    for k, title in enumerate(_NOISE_TITLES):
        published = SCENARIO_START + timedelta(hours=5 + 9 * k)
        if published <= now:
            link = f"{_homepage(outlet)}/local/{k}-{slug(title)}"
            stories.append((link, title, published, f"<p>{html.escape(title)}.</p>", "Desk"))
    return sorted(stories, key=lambda s: s[2], reverse=True)


def render_rss(world: World, outlet: str) -> str:
    items = "".join(
        "<item>"
        f"<title>{html.escape(title)}</title>"
        f"<link>{html.escape(link)}</link>"
        f'<guid isPermaLink="true">{html.escape(link)}</guid>'
        f"<pubDate>{_rfc822(published)}</pubDate>"
        f"<description>{html.escape(description)}</description>"
        f"<dc:creator>{html.escape(byline)}</dc:creator>"
        f'<media:content url="{_homepage(outlet)}/img/{zlib.crc32(link.encode()) % 10**6}.jpg" '
        'width="140" medium="image"/>'
        "</item>"
        for link, title, published, description, byline in _stories(world, outlet)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel><title>{html.escape(outlet)}</title><link>{_homepage(outlet)}</link>"
        f"<description>Latest news from {html.escape(outlet)}</description>"
        f"<language>en-gb</language><lastBuildDate>{_rfc822(world.now())}</lastBuildDate>"
        f"{items}</channel></rss>"
    )


def render_atom(world: World, outlet: str) -> str:
    domain = f"{slug(outlet)}.example"
    entries = "".join(
        "<entry>"
        f"<title>{html.escape(title)}</title>"
        f'<link rel="alternate" type="text/html" href="{html.escape(link)}"/>'
        f"<id>tag:{domain},2022:{html.escape(link.rsplit('/', 1)[-1])}</id>"
        f"<published>{_rfc3339(published)}</published>"
        f"<updated>{_rfc3339(published)}</updated>"
        f'<summary type="html">{html.escape(description)}</summary>'
        f"<author><name>{html.escape(byline)}</name></author>"
        "</entry>"
        for link, title, published, description, byline in _stories(world, outlet)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{html.escape(outlet)}</title>"
        f'<link rel="alternate" href="{_homepage(outlet)}/"/>'
        f'<link rel="self" href="{_homepage(outlet)}/news-atom.xml"/>'
        f"<id>{_homepage(outlet)}/</id><updated>{_rfc3339(world.now())}</updated>"
        f"{entries}</feed>"
    )


def article_token(post_id: str) -> str:
    """An opaque Google News article token for a story (stable per story)."""
    return "CBMi" + base64.urlsafe_b64encode(post_id.encode()).decode().rstrip("=")


def render_search(world: World, query: str) -> str:
    needle = query.strip().casefold()
    now = world.now()
    hits = [
        p
        for p in world.model.visible("rss", now)
        if needle and needle in f"{p.title or ''} {p.text}".casefold()
    ][:MAX_SEARCH_ITEMS]
    items = []
    for post in hits:
        outlet = post.channel or "News"
        token = article_token(post.id)
        link = f"https://news.google.com/rss/articles/{token}?oc=5"
        description = (
            f'<a href="{link}" target="_blank">{html.escape(post.title or "")}</a>'
            f'&nbsp;&nbsp;<font color="#6f6f6f">{html.escape(outlet)}</font>'
        )
        items.append(
            "<item>"
            f"<title>{html.escape(f'{post.title} - {outlet}')}</title>"
            f"<link>{link}</link>"
            f'<guid isPermaLink="false">{token}</guid>'
            f"<pubDate>{_rfc822(post.created_at)}</pubDate>"
            f"<description>{html.escape(description)}</description>"
            f'<source url="{_homepage(outlet)}">{html.escape(outlet)}</source>'
            "</item>"
        )
    title = html.escape(f'"{query}" - Google News')
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<rss xmlns:media="http://search.yahoo.com/mrss/" version="2.0"><channel>'
        "<generator>NFE/5.0</generator>"
        f"<title>{title}</title><link>https://news.google.com/search?q={html.escape(query)}</link>"
        "<language>en-US</language><webMaster>news-webmaster@google.com</webMaster>"
        "<copyright>Copyright 2022 Google. All rights reserved.</copyright>"
        f"<lastBuildDate>{_rfc822(now)}</lastBuildDate>"
        f"<description>Google News</description>{''.join(items)}</channel></rss>"
    )


def app(world: World) -> Starlette:
    """Outlet feeds under /feeds and Google News search under /rss/search."""

    async def feed(request: Request) -> Response:
        wanted = request.path_params["name"]
        outlet = next((o for o in outlets(world) if slug(o) == wanted), None)
        if outlet is None:
            return Response("<html><body>Not found</body></html>", 404, media_type="text/html")
        if is_atom(world, outlet):
            return Response(render_atom(world, outlet), media_type="application/atom+xml")
        return Response(render_rss(world, outlet), media_type="application/rss+xml")

    async def search(request: Request) -> Response:
        body = render_search(world, request.query_params.get("q", ""))
        return Response(body, media_type="application/xml; charset=utf-8")

    return Starlette(
        routes=[
            Route("/feeds/{name}.xml", feed),
            Route("/rss/search", search),
        ]
    )
