"""Lemmy HTTP API v3 (0.19 shapes), one simulated server per instance prefix.

Paths: /<instance>/api/v3/search (type_ Posts or Url, sort New, page/limit) and
/<instance>/api/v3/post?id=. There is no recording of Lemmy in shared/fixtures; shapes follow
the 0.19 `PostView`, `PostAggregates`, `GetPostResponse` and `SearchResponse` types of the
lemmy-js-client / lemmy crates (published times as RFC 3339 with `Z`, ids as integers).
Gone posts come back three ways, as real servers do: purged (HTTP 400 `couldnt_find_post`),
deleted by the author (`post.deleted`), removed by a moderator (`post.removed`).
`cross_posts` lists the other visible posts on the same instance with the same link.
An instance whose name ends in "-private" is a private instance: it refuses anonymous reads
with `instance_is_private`.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.model import SimPost
from simulator.render import iso_ms
from simulator.world import World

MAX_LIMIT = 50
COMMUNITIES = ["worldnews", "ukraine", "europe", "news"]


def _host(instance: str) -> str:
    return f"{instance}.example"


def _number(text: str) -> int:
    return sum(ord(c) for c in text)


def _person(name: str, instance: str) -> dict[str, Any]:
    host = _host(instance)
    return {
        "id": _number(name),
        "name": name,
        "banned": False,
        "published": "2023-06-01T10:00:00.000000Z",
        "actor_id": f"https://{host}/u/{name}",
        "local": True,
        "deleted": False,
        "bot_account": False,
        "instance_id": 1,
    }


def _community(name: str, instance: str) -> dict[str, Any]:
    host = _host(instance)
    return {
        "id": COMMUNITIES.index(name) + 1,
        "name": name,
        "title": name.title(),
        "description": f"News about {name}",
        "removed": False,
        "published": "2023-06-01T10:00:00.000000Z",
        "deleted": False,
        "nsfw": False,
        "actor_id": f"https://{host}/c/{name}",
        "local": True,
        "hidden": False,
        "posting_restricted_to_mods": False,
        "instance_id": 1,
        "visibility": "Public",
    }


def _community_of(post: SimPost) -> str:
    return COMMUNITIES[int(post.id) % len(COMMUNITIES)]


def _gone_kind(post: SimPost) -> str:
    """How a vanished post shows: purged, deleted by its author, or removed by a moderator."""
    return ("purged", "deleted", "removed")[int(post.id) % 3]


def render_post_view(post: SimPost, world: World) -> dict[str, Any]:
    """A PostView for `post` as its instance serves it (counters at the world's time)."""
    instance = post.instance or "lemmy-a"
    host = _host(instance)
    counters = post.counters(world.now())
    score = counters.get("likes", 0)
    downvotes = score // 25
    is_gone = not post.is_visible(world.now())
    kind = _gone_kind(post) if is_gone else ""
    community = _community_of(post)
    body = post.text
    if kind == "deleted":
        body = ""  # Lemmy blanks the body of a post its author deleted
    return {
        "post": {
            "id": int(post.id),
            "name": post.title or post.text[:80],
            "url": post.links[0] if post.links else None,
            "body": body,
            "creator_id": _number(post.author),
            "community_id": COMMUNITIES.index(community) + 1,
            "removed": kind == "removed",
            "locked": False,
            "published": iso_ms(post.created_at).replace("Z", "000Z"),
            "deleted": kind == "deleted",
            "nsfw": False,
            "ap_id": f"https://{host}/post/{post.id}",
            "local": True,
            "language_id": 37,
            "featured_community": False,
            "featured_local": False,
        },
        "creator": _person(post.author, instance),
        "community": _community(community, instance),
        "creator_banned_from_community": False,
        "banned_from_community": False,
        "creator_is_moderator": False,
        "creator_is_admin": False,
        "counts": {
            "post_id": int(post.id),
            "comments": counters.get("comments", 0),
            "score": score,
            "upvotes": score + downvotes,
            "downvotes": downvotes,
            "published": iso_ms(post.created_at).replace("Z", "000Z"),
            "newest_comment_time": iso_ms(world.now()).replace("Z", "000Z"),
        },
        "subscribed": "NotSubscribed",
        "saved": False,
        "read": False,
        "hidden": False,
        "creator_blocked": False,
        "unread_comments": counters.get("comments", 0),
    }


def _error(name: str, status: int = 400) -> JSONResponse:
    # Lemmy 0.19 answers most API errors with HTTP 400 and {"error": "<snake_case type>"}.
    return JSONResponse({"error": name}, status_code=status)


def app(world: World) -> Starlette:
    """The Lemmy servers, each under /<instance>."""

    def local(instance: str) -> list[SimPost]:
        return [p for p in world.model.visible("lemmy", world.now()) if p.instance == instance]

    async def search(request: Request) -> JSONResponse:
        if request.path_params["instance"].endswith("-private"):
            return _error("instance_is_private")
        params = request.query_params
        query = params.get("q", "").strip()
        kind = params.get("type_", "All")
        try:
            limit = min(int(params.get("limit", 10)), MAX_LIMIT)
            page = max(int(params.get("page", 1)), 1)
        except ValueError:
            return _error("invalid_query")
        posts: list[SimPost] = []
        if query and kind in ("All", "Posts"):
            needle = query.casefold()
            posts = [
                p
                for p in local(request.path_params["instance"])
                if needle in f"{p.title or ''} {p.text}".casefold()
            ]
        elif query and kind == "Url":
            posts = [p for p in local(request.path_params["instance"]) if query in p.links[:1]]
        window = posts[(page - 1) * limit : page * limit]
        return JSONResponse(
            {
                "type_": kind,
                "comments": [],
                "posts": [render_post_view(p, world) for p in window],
                "communities": [],
                "users": [],
            }
        )

    async def get_post(request: Request) -> JSONResponse:
        instance = request.path_params["instance"]
        if instance.endswith("-private"):
            return _error("instance_is_private")
        post = world.model.get("lemmy", request.query_params.get("id", ""))
        if post is None or post.instance != instance or post.created_at > world.now():
            return _error("couldnt_find_post")
        if not post.is_visible(world.now()) and _gone_kind(post) == "purged":
            return _error("couldnt_find_post")
        view = render_post_view(post, world)
        cross = [
            render_post_view(p, world)
            for p in local(instance)
            if p.id != post.id and post.links and p.links[:1] == post.links[:1]
        ]
        community = view["community"]
        return JSONResponse(
            {
                "post_view": view,
                "community_view": {
                    "community": community,
                    "subscribed": "NotSubscribed",
                    "blocked": False,
                    "counts": {"community_id": community["id"], "subscribers": 1200, "posts": 40},
                    "banned_from_community": False,
                },
                "moderators": [],
                "cross_posts": cross,
            }
        )

    return Starlette(
        routes=[
            Route("/{instance}/api/v3/search", search),
            Route("/{instance}/api/v3/post", get_post),
        ]
    )
