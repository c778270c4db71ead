"""Reddit's OAuth API (https://www.reddit.com/dev/api), token endpoint and API root in one app.

Paths (both under /reddit, so `auth_url` and `base_url` can be the same prefix):
POST /api/v1/access_token (client_credentials, HTTP Basic), and with a bearer token
GET /search, /api/info?id=… or ?url=…, /duplicates/:id. Shapes follow shared/fixtures/reddit:
Listing envelopes, `t3` things with fullnames, crossposts carrying `crosspost_parent` and
`crosspost_parent_list`, `/duplicates` as an array of two Listings, deleted posts still answered
by `/api/info` with `removed_by_category`, unknown ids silently omitted, an HTML 401 page for a
bad token, and `x-ratelimit-used/remaining/reset` headers over a 10-minute window of 1000.
"""

from __future__ import annotations

import base64
import re
import secrets
import zlib
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from simulator.model import Curve, SimPost
from simulator.world import World

WINDOW_SECONDS = 600
WINDOW_REQUESTS = 1000  # 100 queries per minute per OAuth client, counted per 10 minutes
TOKEN_SECONDS = 86400
MAX_LIMIT = 100

_UNAUTHORIZED_PAGE = """<!doctype html>
<html><head><title>Unauthorized</title></head>
<body><h1>401 Unauthorized</h1><p>the bearer token is missing, expired or invalid.</p></body>
</html>
"""


def noise_posts(world: World) -> list[SimPost]:
    """Posts that share words with the footage's keywords but are not about it."""
    model = world.model
    return [
        SimPost(
            platform="reddit",
            id="zz0n01",
            author="tram_fan_7",
            channel="europe",
            title="Soldier's mother calls Russian embassy after her son was captured, paper says",
            text="",
            created_at=model.at(6),
            links=["https://news.example-outlet.com/world/embassy-call"],
            curves={"likes": [Curve(900, 5, 2)], "comments": [Curve(120, 5, 2)], "shares": []},
            is_noise=True,
        ),
        SimPost(
            platform="reddit",
            id="zz0n02",
            author="kyiv_commuter",
            channel="kyiv",
            title="Metro line 2 reopens on Saturday",
            text="Trains every 4 minutes from 6am.",
            created_at=model.at(8),
            curves={"likes": [Curve(300, 4, 1)], "comments": [Curve(40, 4, 1)], "shares": []},
            is_noise=True,
        ),
    ]


def _norm_url(url: str) -> str:
    url = re.sub(r"^https?://(www\.|m\.)?", "", url.strip(), flags=re.I)
    return url.rstrip("/").casefold()


def _domain(post: SimPost) -> str:
    if not post.links:
        return f"self.{post.channel}"
    host = urlsplit(post.links[0]).hostname or ""
    return host.removeprefix("www.")


def render_thing(post: SimPost, now: datetime, all_posts: dict[str, SimPost], depth: int = 0):
    """A `t3` thing as /api/info, /search and /duplicates return it (raw_json=1)."""
    counters = post.counters(now)
    is_gone = post.gone_at is not None and now >= post.gone_at
    permalink = f"/r/{post.channel}/comments/{post.id}/{_slug(post.title or '')}/"
    parent = all_posts.get(post.parent_id or "") if post.relation == "crosspost" else None
    if parent is not None:
        url = parent.links[0] if parent.links else f"https://www.reddit.com/r/{parent.channel}/"
    elif post.links:
        url = post.links[0]
    else:
        url = f"https://www.reddit.com{permalink}"
    # Reddit has no like count: the score (ups minus downs, fuzzed) stands for it, and `downs`
    # is always 0 in the recordings.
    score = counters.get("likes", 0)
    data: dict[str, Any] = {
        "approved_at_utc": None,
        "subreddit": post.channel,
        # A deleted post stays readable, its text and author replaced by "[deleted]".
        "selftext": "[deleted]" if is_gone else post.text,
        "author_fullname": f"t2_{zlib.crc32(post.author.encode()):x}",
        "title": post.title or "",
        "subreddit_name_prefixed": f"r/{post.channel}",
        "hidden": False,
        "downs": 0,
        "hide_score": False,
        "name": f"t3_{post.id}",
        "quarantine": False,
        "upvote_ratio": 0.97,
        "subreddit_type": "public",
        "ups": score,
        "total_awards_received": 0,
        "media_embed": {},
        "is_original_content": False,
        "secure_media": None,
        "is_reddit_media_domain": "redd.it" in url,
        "is_meta": False,
        "category": None,
        "score": score,
        "thumbnail": "self" if not post.links else "default",
        "edited": False,
        "is_self": not post.links and parent is None,
        "created": post.created_at.timestamp(),
        "removed_by_category": "deleted" if is_gone else None,
        "domain": _domain(parent or post),
        "selftext_html": None,
        "likes": None,
        "view_count": None,  # always null in the public API, whatever the post has
        "archived": False,
        "over_18": False,
        "spoiler": False,
        "locked": False,
        "removed_by": None,
        "distinguished": None,
        "subreddit_id": f"t5_{zlib.crc32((post.channel or '').encode()) % 10**6:x}",
        "id": post.id,
        "author": "[deleted]" if is_gone else post.author,
        "num_comments": counters.get("comments", 0),
        "send_replies": True,
        "permalink": permalink,
        "stickied": False,
        "url": url,
        "subreddit_subscribers": 250_000,
        "created_utc": post.created_at.timestamp(),
        "num_crossposts": counters.get("shares", 0),  # the closest thing to shares
        "media": None,
        "is_video": "v.redd.it" in url,
    }
    if post.links or parent is not None:
        data["url_overridden_by_dest"] = url
    if parent is not None:
        data["crosspost_parent"] = f"t3_{parent.id}"
        data["crosspost_parent_list"] = (
            [render_thing(parent, now, all_posts, depth + 1)["data"]] if depth == 0 else []
        )
    return {"kind": "t3", "data": data}


def _slug(title: str) -> str:
    words = re.findall(r"\w+", title.casefold())
    return "_".join(words)[:50] or "post"


def listing(children: list[dict[str, Any]], after: str | None = None) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": len(children),
            "modhash": None,
            "geo_filter": "",
            "children": children,
            "before": None,
        },
    }


def _matches_search(post: SimPost, query: str) -> bool:
    """Reddit-style loose search: `a OR b` alternatives; every word of one must appear.

    Like the real search, quotes do not force an exact phrase, and `url:` matches link parts.
    """
    haystack = f"{post.title or ''} {post.text}".casefold()
    for alternative in re.split(r"\s+OR\s+", query.strip()):
        alternative = alternative.strip()
        if alternative.casefold().startswith("url:"):
            wanted = _norm_url(alternative[4:].strip().strip('"'))
            if wanted and any(wanted in _norm_url(link) for link in post.links):
                return True
            continue
        words = alternative.replace('"', " ").casefold().split()
        if words and all(w in haystack for w in words):
            return True
    return False


def app(world: World) -> Starlette:
    """Reddit's token endpoint and OAuth API over the shared world."""
    tokens: dict[str, datetime] = {}
    window = {"start": world.now(), "used": 0}

    def posts() -> dict[str, SimPost]:
        return {p.id: p for p in [*world.model.posts.get("reddit", []), *noise_posts(world)]}

    def rate_headers() -> dict[str, str]:
        now = world.now()
        if now >= window["start"] + timedelta(seconds=WINDOW_SECONDS):
            window["start"], window["used"] = now, 0
        window["used"] += 1
        reset = WINDOW_SECONDS - int((now - window["start"]).total_seconds())
        return {
            "x-ratelimit-used": str(window["used"]),
            # Reddit sends remaining as a float ("99.0") and reset in seconds from now, not an
            # epoch: both trip a parser written for the X or Bluesky headers.
            "x-ratelimit-remaining": f"{max(0, WINDOW_REQUESTS - window['used']):.1f}",
            "x-ratelimit-reset": str(max(0, reset)),
        }

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        # OAuth lets clients spell the scheme either way; PRAW sends "bearer".
        token = header.removeprefix("bearer ").removeprefix("Bearer ").strip()
        expires = tokens.get(token)
        return expires is not None and world.now() < expires

    def unauthorized() -> Response:
        # An expired token gets an HTML page, not JSON: the collector must not parse the body.
        return HTMLResponse(
            _UNAUTHORIZED_PAGE,
            status_code=401,
            headers={"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
        )

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"message": message, "error": status}, status_code=status)

    async def access_token(request: Request) -> JSONResponse:
        header = request.headers.get("authorization", "")
        client_id = secret = ""
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode()
            except ValueError:
                decoded = ""
            client_id, _, secret = decoded.partition(":")
        if not client_id or not secret:
            return error(401, "Unauthorized")
        form = await request.form()
        # A bad grant is a 200 with an error body, as Reddit answers it.
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"})
        token = f"sim-{secrets.token_hex(8)}"
        tokens[token] = world.now() + timedelta(seconds=TOKEN_SECONDS)
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": TOKEN_SECONDS,
                "scope": "*",
            }
        )

    async def search(request: Request) -> Response:
        if not authorised(request):
            return unauthorized()
        params = request.query_params
        limit = max(1, min(int(params.get("limit", 25)), MAX_LIMIT))
        query = params.get("q", "")
        now = world.now()
        hits = [
            p
            for p in sorted(posts().values(), key=lambda p: p.created_at, reverse=True)
            if p.is_visible(now) and _matches_search(p, query)
        ]
        if after := params.get("after"):
            ids = [f"t3_{p.id}" for p in hits]
            hits = hits[ids.index(after) + 1 :] if after in ids else []
        page = hits[:limit]
        next_after = f"t3_{page[-1].id}" if len(hits) > limit else None
        everything = posts()
        body = listing([render_thing(p, now, everything) for p in page], next_after)
        return JSONResponse(body, headers=rate_headers())

    async def info(request: Request) -> Response:
        if not authorised(request):
            return unauthorized()
        params = request.query_params
        now = world.now()
        everything = posts()
        found: list[SimPost] = []
        if "id" in params:
            names = [n for n in params["id"].split(",") if n]
            if len(names) > MAX_LIMIT:
                return error(400, "Bad Request")
            for name in names:
                post = everything.get(name.removeprefix("t3_"))
                # Deleted posts stay answerable (removed_by_category); never-created ones vanish.
                if name.startswith("t3_") and post and post.created_at <= now and not post.hidden:
                    found.append(post)
        elif "url" in params:
            wanted = _norm_url(params["url"])
            found = [
                p
                for p in sorted(everything.values(), key=lambda p: p.created_at, reverse=True)
                if p.is_visible(now) and any(_norm_url(link) == wanted for link in p.links)
            ]
        body = listing([render_thing(p, now, everything) for p in found])
        return JSONResponse(body, headers=rate_headers())

    async def duplicates(request: Request) -> Response:
        if not authorised(request):
            return unauthorized()
        now = world.now()
        everything = posts()
        post = everything.get(request.path_params["id"])
        if post is None or not post.is_visible(now):
            return error(404, "Not Found")
        link = _norm_url(post.links[0]) if post.links else None
        others = [
            p
            for p in sorted(everything.values(), key=lambda p: p.created_at, reverse=True)
            if p.id != post.id
            and p.is_visible(now)
            and (
                p.parent_id == post.id
                or (link is not None and any(_norm_url(x) == link for x in p.links))
            )
        ]
        limit = max(1, min(int(request.query_params.get("limit", 25)), MAX_LIMIT))
        body = [
            listing([render_thing(post, now, everything)]),
            listing([render_thing(p, now, everything) for p in others[:limit]]),
        ]
        return JSONResponse(body, headers=rate_headers())

    return Starlette(
        routes=[
            Route("/api/v1/access_token", access_token, methods=["POST"]),
            Route("/search", search),
            Route("/search.json", search),
            Route("/api/info", info),
            Route("/duplicates/{id}", duplicates),
        ]
    )
