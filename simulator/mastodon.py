"""Mastodon REST API (v4.5+ shapes), one simulated server per instance prefix.

Paths: /<instance>/api/v1/timelines/tag/:tag, /api/v2/search, /api/v1/statuses?id[]=,
/api/v1/statuses/:id, /api/v1/statuses/:id/reblogged_by. Shapes follow the recorded statuses in
shared/fixtures/mastodon (Status, Account, Tag, PreviewCard, quote wrapper, error envelope).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.model import SimPost
from simulator.render import iso_ms, linkify_html
from simulator.world import World

RATE_HEADERS = {"x-ratelimit-limit": "300", "x-ratelimit-remaining": "299"}


def _account(username: str, instance: str, account_id: str, followers: int) -> dict[str, Any]:
    host = f"{instance}.example"
    return {
        "id": account_id,
        "username": username,
        "acct": username,
        "display_name": username.replace("_", " ").title(),
        "locked": False,
        "bot": False,
        "group": False,
        "created_at": "2020-01-01T00:00:00.000Z",
        "note": "",
        "url": f"https://{host}/@{username}",
        "avatar": f"https://{host}/avatars/original/missing.png",
        "followers_count": followers,
        "following_count": 80,
        "statuses_count": 900,
        "emojis": [],
        "fields": [],
    }


def render_status(post: SimPost, world: World, depth: int = 0) -> dict[str, Any]:
    """A Status entity for `post` as its own instance serves it."""
    instance = post.instance or "social-a"
    host = f"{instance}.example"
    counters = post.counters(world.now())
    quote = None
    if post.parent_id and post.relation == "quote" and depth == 0:
        parent = world.model.get("mastodon", post.parent_id)
        if parent is not None and parent.is_visible(world.now()):
            quote = {"state": "accepted", "quoted_status": render_status(parent, world, depth + 1)}
    card = None
    if post.links:
        card = {
            "url": post.links[0],
            "title": post.title or "Video",
            "description": "",
            # The preview card carries the full URL even when the HTML shows it shortened.
            "type": "video" if "youtube" in post.links[0] else "link",
            "author_name": "",
            "provider_name": "",
            "html": "",
            "width": 0,
            "height": 0,
            "image": None,
            "embed_url": "",
            "blurhash": None,
        }
    return {
        "id": post.id,
        "created_at": iso_ms(post.created_at),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": post.language,
        "uri": f"https://{host}/users/{post.author}/statuses/{post.id}",
        "url": f"https://{host}/@{post.author}/{post.id}",
        "replies_count": counters.get("comments", 0),
        "reblogs_count": counters.get("shares", 0),
        "favourites_count": counters.get("likes", 0),
        "quotes_count": counters.get("quotes", 0),
        "edited_at": None,
        "content": linkify_html(post.text),  # HTML, not plain text: the collector strips it
        "reblog": None,
        "account": _account(
            post.author, instance, str(abs(hash(post.author)) % 10**8), post.author_followers
        ),
        "media_attachments": [],
        "mentions": [],
        "tags": [
            {"name": t.lower(), "url": f"https://{host}/tags/{t.lower()}"} for t in post.hashtags
        ],
        "emojis": [],
        "quote": quote,
        "card": card,
        "poll": None,
    }


def _not_found() -> JSONResponse:
    return JSONResponse({"error": "Record not found"}, status_code=404, headers=RATE_HEADERS)


def _page(
    request: Request, posts: list[SimPost], default_limit: int, max_limit: int
) -> list[SimPost]:
    """Apply Mastodon's max_id / since_id / min_id / limit paging to newest-first posts."""
    params = request.query_params
    limit = min(int(params.get("limit", default_limit)), max_limit)
    if "max_id" in params:
        posts = [p for p in posts if int(p.id) < int(params["max_id"])]
    if "since_id" in params:
        posts = [p for p in posts if int(p.id) > int(params["since_id"])]
    # min_id pages forward from the oldest side (the statuses just after it), since_id from the
    # newest (possibly leaving a hole): the two differ exactly as on a real server.
    if "min_id" in params:
        posts = [p for p in posts if int(p.id) > int(params["min_id"])][-limit:]
    return posts[:limit]


def _link_header(request: Request, page: list[SimPost], limit: int) -> dict[str, str]:
    if not page:
        return {}
    base = str(request.url.remove_query_params(["max_id", "min_id", "since_id"]))
    sep = "&" if "?" in base else "?"
    # Paging is only in the Link header, not the body; "next" is left out on a short page.
    links = [f'<{base}{sep}min_id={page[0].id}>; rel="prev"']
    if len(page) >= limit:
        links.insert(0, f'<{base}{sep}max_id={page[-1].id}>; rel="next"')
    return {"link": ", ".join(links)}


def app(world: World) -> Starlette:
    """The Mastodon servers, each under /<instance>."""

    def local(instance: str) -> list[SimPost]:
        return [p for p in world.model.visible("mastodon", world.now()) if p.instance == instance]

    async def tag_timeline(request: Request) -> JSONResponse:
        tag = request.path_params["tag"].lower()
        posts = [
            p
            for p in local(request.path_params["instance"])
            if tag in (h.lower() for h in p.hashtags)
        ]
        limit = min(int(request.query_params.get("limit", 20)), 40)
        page = _page(request, posts, 20, 40)
        headers = {**RATE_HEADERS, **_link_header(request, page, limit)}
        return JSONResponse([render_status(p, world) for p in page], headers=headers)

    async def search(request: Request) -> JSONResponse:
        query = request.query_params.get("q", "").strip().casefold()
        kind = request.query_params.get("type")
        limit = min(int(request.query_params.get("limit", 20)), 40)
        offset = int(request.query_params.get("offset", 0))
        statuses = []
        # Search pages by offset, unlike the timelines' ids; federation is not simulated, so it
        # matches only this instance's statuses.
        if kind in (None, "statuses") and query:
            hits = [
                p
                for p in local(request.path_params["instance"])
                if query in p.text.casefold() or any(query == link.casefold() for link in p.links)
            ]
            statuses = [render_status(p, world) for p in hits[offset : offset + limit]]
        return JSONResponse(
            {"accounts": [], "statuses": statuses, "hashtags": []}, headers=RATE_HEADERS
        )

    async def statuses(request: Request) -> JSONResponse:
        ids = request.query_params.getlist("id[]")
        # The batch read takes at most 20 ids and refuses more with a 422, not a short list.
        if len(ids) > 20:
            return JSONResponse({"error": "Too many ids requested"}, status_code=422)
        found = []
        for post_id in ids:
            post = world.model.get("mastodon", post_id)
            if (
                post
                and post.is_visible(world.now())
                and post.instance == request.path_params["instance"]
            ):
                found.append(render_status(post, world))
        return JSONResponse(found, headers=RATE_HEADERS)

    async def status(request: Request) -> JSONResponse:
        post = world.model.get("mastodon", request.path_params["id"])
        if (
            post is None
            or not post.is_visible(world.now())
            or post.instance != request.path_params["instance"]
        ):
            return _not_found()
        return JSONResponse(render_status(post, world), headers=RATE_HEADERS)

    async def reblogged_by(request: Request) -> JSONResponse:
        instance = request.path_params["instance"]
        post = world.model.get("mastodon", request.path_params["id"])
        if post is None or not post.is_visible(world.now()) or post.instance != instance:
            return _not_found()
        # One page of boosters: `limit` (default 40) up to the API's ceiling of 80.
        count = min(
            post.counters(world.now()).get("shares", 0),
            int(request.query_params.get("limit", 40)),
            80,
        )
        accounts = [
            _account(f"booster{n}", instance, str(900000 + n), 40 + n) for n in range(count)
        ]
        return JSONResponse(accounts, headers=RATE_HEADERS)

    async def quotes(request: Request) -> JSONResponse:
        instance = request.path_params["instance"]
        post = world.model.get("mastodon", request.path_params["id"])
        if post is None or not post.is_visible(world.now()) or post.instance != instance:
            return _not_found()
        quoting = [
            p
            for p in world.model.visible("mastodon", world.now())
            # Federation is not simulated: an instance lists only its own quoting statuses.
            if p.parent_id == post.id and p.relation == "quote" and p.instance == instance
        ]
        limit = min(int(request.query_params.get("limit", 20)), 40)
        return JSONResponse(
            [render_status(p, world) for p in quoting[:limit]], headers=RATE_HEADERS
        )

    return Starlette(
        routes=[
            Route("/{instance}/api/v1/statuses/{id}/quotes", quotes),
            Route("/{instance}/api/v1/timelines/tag/{tag}", tag_timeline),
            Route("/{instance}/api/v2/search", search),
            Route("/{instance}/api/v1/statuses", statuses),
            Route("/{instance}/api/v1/statuses/{id}", status),
            Route("/{instance}/api/v1/statuses/{id}/reblogged_by", reblogged_by),
        ]
    )
