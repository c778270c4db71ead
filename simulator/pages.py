"""Web pages of individual posts, as a tip line's URLs point to them (read by yt-dlp).

Paths: /<platform>/<post id> renders the model post as a video page with a schema.org
`VideoObject` in JSON-LD (name, description, uploadDate, author, contentUrl, and
`interactionStatistic` InteractionCounters for WatchAction, LikeAction, CommentAction and
ShareAction from the post's counters) plus `og:video` meta tags, which yt-dlp's generic
extractor reads; /media/<name>.mp4 serves a tiny placeholder body for `contentUrl`. A post that
is gone answers HTTP 410 with "This video has been removed"; an unknown post answers 404.
"""

from __future__ import annotations

import html
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from simulator.model import SimPost
from simulator.world import World

_ACTIONS = (
    ("views", "WatchAction"),
    ("likes", "LikeAction"),
    ("comments", "CommentAction"),
    ("shares", "ShareAction"),
)


def page_path(post: SimPost) -> str:
    """Where a post's page lives under the mount."""
    return f"/{post.platform}/{post.id}"


def video_object(post: SimPost, world: World, base: str) -> dict[str, Any]:
    """The JSON-LD VideoObject of a post's page (counters at the world's time)."""
    counters = post.counters(world.now())
    return {
        "@context": "https://schema.org",
        "@type": "VideoObject",
        "name": post.title or post.text[:90],
        "description": post.text,
        "uploadDate": post.created_at.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "thumbnailUrl": [f"{base}/media/{post.id}.jpg"],
        "contentUrl": f"{base}/media/{post.id}.mp4",
        "encodingFormat": "video/mp4",
        "duration": "PT1M12S",
        "author": {"@type": "Person", "name": post.author},
        "interactionStatistic": [
            {
                "@type": "InteractionCounter",
                "interactionType": {"@type": f"https://schema.org/{action}"},
                "userInteractionCount": counters[name],
            }
            for name, action in _ACTIONS
            if name in counters
        ],
    }


def render_page(post: SimPost, world: World, base: str) -> str:
    data = video_object(post, world, base)
    title = html.escape(data["name"])
    # "</" inside JSON would end the script element early.
    ld = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        f'<meta property="og:title" content="{title}">'
        f'<meta property="og:type" content="video.other">'
        f'<meta property="og:video" content="{html.escape(data["contentUrl"])}">'
        '<meta property="og:video:type" content="video/mp4">'
        f'<meta property="og:description" content="{html.escape(post.text)}">'
        f'<script type="application/ld+json">{ld}</script>'
        f"</head><body><h1>{title}</h1><p>{html.escape(post.text)}</p>"
        '<div class="player" data-player="sim"></div></body></html>'
    )


def app(world: World) -> Starlette:
    """Post pages under /<platform>/<id>, placeholder media under /media."""

    async def page(request: Request) -> Response:
        post = world.model.get(request.path_params["platform"], request.path_params["post_id"])
        if post is None or post.created_at > world.now():
            return HTMLResponse("<html><body><h1>Page not found</h1></body></html>", 404)
        if not post.is_visible(world.now()):
            return HTMLResponse(
                "<html><body><h1>This video has been removed</h1></body></html>", 410
            )
        base = str(request.base_url).rstrip("/") + request.scope.get("root_path", "")
        return HTMLResponse(render_page(post, world, base))

    async def media(request: Request) -> Response:
        return Response(b"\x00\x00\x00\x18ftypmp42", media_type="video/mp4")

    return Starlette(
        routes=[
            Route("/media/{name}", media),
            Route("/{platform}/{post_id:path}", page),
        ]
    )
