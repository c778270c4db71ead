"""YouTube: Data API v3 (https://developers.google.com/youtube/v3) and channel RSS feeds.

Paths under /youtube: GET /youtube/v3/search, /youtube/v3/videos, /youtube/v3/videos:batchGetStats
(all with `key=`) and the keyless GET /feeds/videos.xml?channel_id=…. Shapes follow
shared/fixtures/youtube_data_api and youtube_rss: search results without statistics and with
HTML-escaped titles, statistics as strings with `likeCount`/`commentCount` left out where the
uploader hides them, deleted or private videos missing from `items`, Google's error envelope, and
the 2026 Atom feed (feed-level channel id without "UC", /shorts/ links, 15 newest uploads,
`media:starRating count` = likes, `media:statistics views`). Unknown channels get a 404 HTML page.
"""

from __future__ import annotations

import base64
import html
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from simulator.model import Curve, SimPost
from simulator.world import World

MAX_RESULTS = 50
FEED_ENTRIES = 15
SEARCH_DESCRIPTION_CHARS = 160

# Uploaders who hide a counter: the API then omits the field (never sends "0").
HIDDEN_COUNTERS = {
    "UCsmallRepost0000000002": {"likes"},
    "UCnewsChannel0000000003": {"comments"},
}

_ROUTINE_TITLES = [
    "Weather for the week ahead",
    "Morning headlines in 90 seconds",
    "The tram network at 100: a short history",
]

_NOT_FOUND_PAGE = """<!DOCTYPE html>
<html lang=en><meta charset=utf-8><title>Error 404 (Not Found)</title>
<p><b>404.</b> The requested URL <code>{path}</code> was not found on this server.</p>
"""


def hidden_counters(post: SimPost) -> set[str]:
    """Counters this video's uploader hides (absent from statistics and the feed)."""
    return HIDDEN_COUNTERS.get(post.channel or "", set())


def channels(world: World) -> dict[str, str]:
    """Channel id -> channel title, for every channel the model uploads to."""
    return {p.channel: p.author for p in world.model.posts.get("youtube", []) if p.channel}


def noise_videos(world: World) -> list[SimPost]:
    """Each channel's routine uploads, plus one explainer that shares the keywords' words."""
    model = world.model
    videos: list[SimPost] = []
    for n, (channel_id, title) in enumerate(sorted(channels(world).items())):
        for k, routine in enumerate(_ROUTINE_TITLES):
            videos.append(
                SimPost(
                    platform="youtube",
                    id=f"nz{n}{k}routine"[:11].ljust(11, "x"),
                    author=title,
                    channel=channel_id,
                    title=routine,
                    text=f"{routine}. Subscribe for more." + (" #shorts" if k == 1 else ""),
                    created_at=model.at(-20 + 9 * k + n),
                    curves={
                        "views": [Curve(20_000, 6, 2)],
                        "likes": [Curve(400, 6, 2)],
                        "comments": [Curve(30, 6, 2)],
                    },
                    is_noise=True,
                )
            )
    videos.append(
        SimPost(
            platform="youtube",
            id="nzExplain01",
            author="Global Report",
            channel="UCnewsChannel0000000002",
            title="How many Russian soldiers have been captured so far? Explainer",
            text="Numbers from both sides, and why they differ.",
            created_at=model.at(11),
            curves={
                "views": [Curve(80_000, 8, 2)],
                "likes": [Curve(1_500, 8, 2)],
                "comments": [Curve(200, 8, 2)],
            },
            is_noise=True,
        )
    )
    return videos


def _is_short(post: SimPost) -> bool:
    return "#shorts" in post.text


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _statistics(post: SimPost, now: datetime) -> dict[str, str]:
    counters = post.counters(now)
    hidden = hidden_counters(post)
    # Counts are decimal strings, not numbers; a hidden count is a missing key, never "0".
    stats = {"viewCount": str(counters.get("views", 0))}
    if "likes" not in hidden:
        stats["likeCount"] = str(counters.get("likes", 0))
    stats["favoriteCount"] = "0"  # deprecated, always "0" in the recordings
    if "comments" not in hidden:
        stats["commentCount"] = str(counters.get("comments", 0))
    return stats


def _thumbnails(video_id: str) -> dict[str, Any]:
    return {
        size: {"url": f"https://i.ytimg.com/vi/{video_id}/{name}.jpg", "width": w, "height": h}
        for size, name, w, h in (
            ("default", "default", 120, 90),
            ("medium", "mqdefault", 320, 180),
            ("high", "hqdefault", 480, 360),
        )
    }


def _error(status: int, reason: str, message: str, domain: str = "global") -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        },
        status_code=status,
    )


def _words(query: str) -> list[list[str]]:
    """OR-alternatives of a search query, each a list of words (quotes are loose on YouTube)."""
    alternatives = [a.strip() for a in query.split("|")]
    return [a.replace('"', " ").casefold().split() for a in alternatives if a.strip()]


def app(world: World) -> Starlette:
    """The Data API v3 and the channel feeds over the shared world."""

    def everything() -> dict[str, SimPost]:
        return {p.id: p for p in [*world.model.posts.get("youtube", []), *noise_videos(world)]}

    def key_error(request: Request) -> JSONResponse | None:
        if not request.query_params.get("key"):
            return _error(
                403,
                "forbidden",
                "The request is missing a valid API key.",
            )
        return None

    def search_text(post: SimPost) -> str:
        return f"{post.title or ''} {post.text}".casefold()

    async def search(request: Request) -> JSONResponse:
        if (problem := key_error(request)) is not None:
            return problem
        params = request.query_params
        if params.get("type", "video") != "video":
            return _error(400, "invalidSearchFilter", "Only type=video is simulated.")
        now = world.now()
        limit = max(0, min(int(params.get("maxResults", 5)), MAX_RESULTS))
        after = params.get("publishedAfter")
        since = datetime.fromisoformat(after.replace("Z", "+00:00")) if after else None
        alternatives = _words(params.get("q", ""))
        hits = [
            p
            for p in everything().values()
            if p.is_visible(now)
            and (since is None or p.created_at > since)
            and (
                not alternatives
                or any(all(w in search_text(p) for w in alt) for alt in alternatives)
            )
        ]
        hits.sort(key=lambda p: p.created_at, reverse=True)  # order=date: newest first
        # Page tokens are opaque strings to clients; base64 of an offset keeps them so.
        token = params.get("pageToken")
        offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        page = hits[offset : offset + limit]
        body: dict[str, Any] = {
            "kind": "youtube#searchListResponse",
            "etag": f"sim-search-{offset}",
            "regionCode": "US",
            "pageInfo": {"totalResults": len(hits), "resultsPerPage": limit},
            "items": [
                {
                    "kind": "youtube#searchResult",
                    "etag": f"sim-{p.id}",
                    "id": {"kind": "youtube#video", "videoId": p.id},
                    "snippet": {
                        "publishedAt": _rfc3339(p.created_at),
                        "channelId": p.channel,
                        # search.list escapes HTML in titles and descriptions (fixtures: &amp;).
                        "title": html.escape(p.title or "").replace("&#x27;", "&#39;"),
                        "description": html.escape(p.text[:SEARCH_DESCRIPTION_CHARS]).replace(
                            "&#x27;", "&#39;"
                        ),
                        "thumbnails": _thumbnails(p.id),
                        "channelTitle": p.author,
                        "liveBroadcastContent": "none",
                        "publishTime": _rfc3339(p.created_at),
                    },
                }
                for p in page
            ],
        }
        if offset + limit < len(hits) and limit:
            body["nextPageToken"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
        if offset:
            body["prevPageToken"] = base64.urlsafe_b64encode(
                str(max(0, offset - limit)).encode()
            ).decode()
        return JSONResponse(body)

    def requested(request: Request) -> list[SimPost] | JSONResponse:
        ids = [i for i in request.query_params.get("id", "").split(",") if i]
        if len(ids) > MAX_RESULTS:
            return _error(
                400, "invalidFilters", "The request specifies more than 50 video ids.", "youtube"
            )
        now = world.now()
        videos = everything()
        # Unknown, deleted and private ids are left out of `items` without an error.
        return [videos[i] for i in ids if i in videos and videos[i].is_visible(now)]

    async def videos_list(request: Request) -> JSONResponse:
        if (problem := key_error(request)) is not None:
            return problem
        found = requested(request)
        if isinstance(found, JSONResponse):
            return found
        parts = set(request.query_params.get("part", "").split(","))
        now = world.now()
        items = []
        for p in found:
            item: dict[str, Any] = {"kind": "youtube#video", "etag": f"sim-{p.id}", "id": p.id}
            if "snippet" in parts:
                item["snippet"] = {
                    "publishedAt": _rfc3339(p.created_at),
                    "channelId": p.channel,
                    "title": p.title or "",
                    "description": p.text,
                    "thumbnails": _thumbnails(p.id),
                    "channelTitle": p.author,
                    "categoryId": "25",
                    "liveBroadcastContent": "none",
                    "defaultAudioLanguage": p.language,
                    "localized": {"title": p.title or "", "description": p.text},
                }
            if "statistics" in parts:
                item["statistics"] = _statistics(p, now)
            items.append(item)
        return JSONResponse(
            {
                "kind": "youtube#videoListResponse",
                "etag": "sim-videos",
                "items": items,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
            }
        )

    async def batch_get_stats(request: Request) -> JSONResponse:
        if (problem := key_error(request)) is not None:
            return problem
        found = requested(request)
        if isinstance(found, JSONResponse):
            return found
        now = world.now()
        return JSONResponse(
            {
                "kind": "youtube#batchGetStatsResponse",
                "etag": "sim-stats",
                "items": [
                    {
                        "kind": "youtube#videoStats",
                        "etag": f"sim-{p.id}",
                        "id": p.id,
                        "snippet": {"publishTime": _rfc3339(p.created_at)},
                        "statistics": {
                            # batchGetStats never sends the deprecated favoriteCount.
                            k: v
                            for k, v in _statistics(p, now).items()
                            if k != "favoriteCount"
                        },
                    }
                    for p in found
                ],
            }
        )

    async def feed(request: Request) -> Response:
        channel_id = request.query_params.get("channel_id", "")
        names = channels(world)
        if channel_id not in names:
            # An unknown channel's feed is YouTube's HTML 404 page, not XML.
            path = f"/feeds/videos.xml?channel_id={channel_id}"
            return HTMLResponse(_NOT_FOUND_PAGE.format(path=escape(path)), status_code=404)
        now = world.now()
        uploads = sorted(
            (p for p in everything().values() if p.channel == channel_id and p.is_visible(now)),
            key=lambda p: p.created_at,
            reverse=True,
        )[:FEED_ENTRIES]
        body = render_feed(channel_id, names[channel_id], uploads, now, world.model.at(-24 * 400))
        return Response(
            body,
            media_type="text/xml; charset=UTF-8",
            headers={"cache-control": "public, max-age=900"},
        )

    return Starlette(
        routes=[
            Route("/youtube/v3/search", search),
            Route("/youtube/v3/videos", videos_list),
            Route("/youtube/v3/videos:batchGetStats", batch_get_stats),
            Route("/feeds/videos.xml", feed),
        ]
    )


def render_feed(
    channel_id: str, title: str, uploads: list[SimPost], now: datetime, created: datetime
) -> str:
    """The 2026 Atom feed of a channel (feed-level channel id without its "UC" prefix)."""
    channel_url = f"https://www.youtube.com/channel/{channel_id}"
    entries = []
    for p in uploads:
        counters = p.counters(now)
        link = (
            f"https://www.youtube.com/shorts/{p.id}"
            if _is_short(p)
            else f"https://www.youtube.com/watch?v={p.id}"
        )
        rating = (
            ""
            if "likes" in hidden_counters(p)
            else (
                f'    <media:starRating count="{counters.get("likes", 0)}" '
                f'average="{"5.00" if counters.get("likes", 0) else "0.00"}" min="1" max="5"/>\n'
            )
        )
        entries.append(
            f""" <entry>
  <id>yt:video:{p.id}</id>
  <yt:videoId>{p.id}</yt:videoId>
  <yt:channelId>{channel_id}</yt:channelId>
  <title>{escape(p.title or "")}</title>
  <link rel="alternate" href={quoteattr(link)}/>
  <author>
   <name>{escape(title)}</name>
   <uri>{channel_url}</uri>
  </author>
  <published>{p.created_at.isoformat()}</published>
  <updated>{p.created_at.isoformat()}</updated>
  <media:group>
   <media:title>{escape(p.title or "")}</media:title>
   <media:content url="https://www.youtube.com/v/{p.id}?version=3" type="application/x-shockwave-flash" width="640" height="390"/>
   <media:thumbnail url="https://i1.ytimg.com/vi/{p.id}/hqdefault.jpg" width="480" height="360"/>
   <media:description>{escape(p.text)}</media:description>
   <media:community>
{rating}    <media:statistics views="{counters.get("views", 0)}"/>
   </media:community>
  </media:group>
 </entry>
"""
        )
    short_id = channel_id.removeprefix("UC")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
 <link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id={channel_id}"/>
 <id>yt:channel:{short_id}</id>
 <yt:channelId>{short_id}</yt:channelId>
 <title>{escape(title)}</title>
 <link rel="alternate" href="{channel_url}"/>
 <author>
  <name>{escape(title)}</name>
  <uri>{channel_url}</uri>
 </author>
 <published>{created.isoformat()}</published>
{"".join(entries)}</feed>
"""
