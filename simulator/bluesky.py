"""Bluesky XRPC: the public AppView and an account's PDS, both under the /bluesky prefix.

Paths (all `/xrpc/<nsid>`): com.atproto.server.createSession and refreshSession,
app.bsky.feed.searchPosts (Bearer access token required, as on bsky.social since 2025),
app.bsky.feed.getPosts (at most 25 `uris`), getRepostedBy, getQuotes,
com.atproto.identity.resolveHandle (`handle` -> {"did"}; an unknown handle is a 400
InvalidRequest "Unable to resolve handle", as the AppView answers). Shapes follow the recorded
bodies in shared/fixtures/bluesky: postView with author profile, record (text, facets with UTF-8
byte offsets, embed), the hydrated embed view and counters; the XRPC error envelope
{"error", "message"}; RateLimit-* headers with the reset as epoch seconds. Post text shortens
links the way the Bluesky app does, so only facets and embeds carry the full URL.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.model import Curve, SimPost
from simulator.render import iso_ms
from simulator.world import World

SIM_HANDLE = "viralwatch.bsky.social"
SIM_APP_PASSWORD = "sim-app-password"
ACCESS_TOKEN_LIFETIME = timedelta(hours=2)
MAX_GET_POSTS = 25
MAX_LIMIT = 100
RATE_LIMIT = 3000
RATE_WINDOW_SECONDS = 300


def _cid(seed: str) -> str:
    return "bafyrei" + hashlib.sha256(seed.encode()).hexdigest()[:52]


def _did(uri: str) -> str:
    # at://<did>/app.bsky.feed.post/<rkey>: the author's DID is the URI's authority.
    return uri.removeprefix("at://").split("/")[0]


def noise_posts(world: World) -> list[SimPost]:
    """Unrelated posts the search must not return (one links another video, one is deleted)."""
    start = world.model.start
    return [
        SimPost(
            platform="bluesky",
            id="at://did:plc:noise7tramtimetable00000/app.bsky.feed.post/3noisetram0001",
            author="tram-fan.bsky.social",
            text="New tram timetable from Monday, finally more evening trips #news",
            created_at=start + timedelta(hours=9),
            hashtags=["news"],
            curves={"likes": [Curve(12, 2, 1)], "shares": [Curve(3, 2, 1)]},
            gone_at=start + timedelta(hours=20),
            is_noise=True,
        ),
        SimPost(
            platform="bluesky",
            id="at://did:plc:noise7bakery0000000000000/app.bsky.feed.post/3noisebake0001",
            author="bakery-news.bsky.social",
            text="Our sourdough tutorial is up https://www.youtube.com/watch?v=bread000000",
            created_at=start + timedelta(hours=12),
            links=["https://www.youtube.com/watch?v=bread000000"],
            curves={"likes": [Curve(40, 3, 1)]},
            is_noise=True,
        ),
    ]


def _short(url: str) -> str:
    """How the Bluesky app displays a link: no scheme, cut after ~20 characters."""
    bare = url.split("://", 1)[-1].removeprefix("www.")
    return bare if len(bare) <= 23 else bare[:20] + "..."


def _text_and_facets(post: SimPost) -> tuple[str, list[dict[str, Any]]]:
    """Display text and facets (byte ranges over the UTF-8 text) for links and hashtags."""
    pieces: list[str] = []
    facets: list[dict[str, Any]] = []
    offset = 0
    for n, word in enumerate(post.text.split(" ")):
        shown = word
        feature: dict[str, Any] | None = None
        if word.startswith(("http://", "https://")):
            shown = _short(word)
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": word}
        elif word.startswith("#") and len(word) > 1:
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": word[1:].rstrip(".,!")}
        if n:
            pieces.append(" ")
            offset += 1
        # Facet offsets count UTF-8 bytes, not characters: an emoji or umlaut before a link
        # shifts them, which is exactly what a parser slicing by str index gets wrong.
        size = len(shown.encode())
        if feature is not None:
            facets.append(
                {"features": [feature], "index": {"byteEnd": offset + size, "byteStart": offset}}
            )
        pieces.append(shown)
        offset += size
    return "".join(pieces), facets


def _profile(handle: str, did: str) -> dict[str, Any]:
    return {
        "did": did,
        "handle": handle,
        "displayName": handle.split(".")[0].replace("-", " ").title(),
        "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/{_cid(did)}@jpeg",
        "viewer": {"muted": False, "blockedBy": False},
        "labels": [],
        "createdAt": "2023-05-01T10:00:00.000Z",
    }


def _record(post: SimPost, world: World) -> dict[str, Any]:
    text, facets = _text_and_facets(post)
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "createdAt": iso_ms(post.created_at),
        "langs": [post.language],  # the poster's choice, a list; the collector takes the first
        "text": text,
    }
    if facets:
        record["facets"] = facets
    # A post has one embed: a quote's record embed wins over a link card.
    if post.parent_id and post.relation == "quote":
        record["embed"] = {
            "$type": "app.bsky.embed.record",
            "record": {"cid": _cid(post.parent_id), "uri": post.parent_id},
        }
    elif post.links:
        record["embed"] = {
            "$type": "app.bsky.embed.external",
            "external": {
                "description": "YouTube video",
                "title": post.title or "Video",
                "uri": post.links[0],
            },
        }
    return record


def render_post(post: SimPost, world: World, depth: int = 0) -> dict[str, Any]:
    """A postView as getPosts / searchPosts / getQuotes return it."""
    counters = post.counters(world.now())
    record = _record(post, world)
    view: dict[str, Any] = {
        "uri": post.id,
        "cid": _cid(post.id),
        "author": _profile(post.author, _did(post.id)),
        "record": record,
    }
    embed = record.get("embed")
    if embed and embed["$type"] == "app.bsky.embed.external":
        view["embed"] = {"$type": "app.bsky.embed.external#view", "external": embed["external"]}
    # Quotes are hydrated one level deep only, as the AppView does: a quote of a quote shows
    # the inner post's record but not its own embed.
    elif embed and depth == 0:
        parent = world.model.get("bluesky", post.parent_id or "")
        if parent is not None and parent.is_visible(world.now()):
            view["embed"] = {
                "$type": "app.bsky.embed.record#view",
                "record": {
                    "$type": "app.bsky.embed.record#viewRecord",
                    "uri": parent.id,
                    "cid": _cid(parent.id),
                    "author": _profile(parent.author, _did(parent.id)),
                    "value": _record(parent, world),
                    "indexedAt": iso_ms(parent.created_at),
                },
            }
        else:
            # A deleted quoted post leaves a viewNotFound stub, not a missing embed.
            view["embed"] = {
                "$type": "app.bsky.embed.record#view",
                "record": {"$type": "app.bsky.embed.record#viewNotFound", "uri": post.parent_id},
            }
    view.update(
        {
            "replyCount": counters.get("comments", 0),
            "repostCount": counters.get("shares", 0),
            "likeCount": counters.get("likes", 0),
            "quoteCount": counters.get("quotes", 0),
            "indexedAt": iso_ms(post.created_at),
            "viewer": {"threadMuted": False, "embeddingDisabled": False},
            "labels": [],
        }
    )
    return view


def _bare(url: str) -> str:
    # The AppView matches `url` ignoring scheme, "www." and a trailing slash.
    return url.split("://", 1)[-1].removeprefix("www.").rstrip("/").casefold()


def _matches(post: SimPost, params: Any) -> bool:
    query = params.get("q", "").strip()
    text = post.text.casefold()
    if query.startswith('"') and query.endswith('"') and len(query) > 1:
        ok = query[1:-1].casefold() in text
    elif query.startswith("#"):
        ok = query[1:].casefold() in (t.casefold() for t in post.hashtags)
    elif query.startswith(("http://", "https://")):
        ok = _bare(query) in (_bare(link) for link in post.links)
    else:
        ok = all(term in text for term in query.casefold().split())
    if params.get("url"):
        ok = ok and _bare(params["url"]) in (_bare(link) for link in post.links)
    if params.get("domain"):
        hosts = {_bare(link).split("/")[0] for link in post.links}
        ok = ok and _bare(params["domain"]) in hosts
    since = params.get("since")
    if since:
        moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
        ok = ok and post.created_at >= moment
    return ok


def app(world: World) -> Starlette:
    """The AppView and PDS endpoints, on the shared world."""
    sessions: dict[str, Any] = {"access": {}, "refresh": set(), "issued": 0}

    def rate_headers() -> dict[str, str]:
        reset = int(world.now().timestamp()) + RATE_WINDOW_SECONDS
        return {
            "RateLimit-Limit": str(RATE_LIMIT),
            "RateLimit-Remaining": str(RATE_LIMIT - 1),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": f"{RATE_LIMIT};w={RATE_WINDOW_SECONDS}",
        }

    def error(status: int, name: str, message: str) -> JSONResponse:
        return JSONResponse(
            {"error": name, "message": message}, status_code=status, headers=rate_headers()
        )

    def ok(body: dict[str, Any]) -> JSONResponse:
        return JSONResponse(body, headers=rate_headers())

    def all_posts() -> list[SimPost]:
        found = world.model.visible("bluesky", world.now())
        found += [p for p in noise_posts(world) if p.is_visible(world.now())]
        return sorted(found, key=lambda p: p.created_at, reverse=True)

    def find(uri: str) -> SimPost | None:
        return next((p for p in all_posts() if p.id == uri), None)

    def issue() -> dict[str, Any]:
        sessions["issued"] += 1
        access = f"sim-access-{sessions['issued']}"
        refresh = f"sim-refresh-{sessions['issued']}"  # single use: refreshing revokes it
        sessions["access"][access] = world.now() + ACCESS_TOKEN_LIFETIME
        sessions["refresh"].add(refresh)
        return {
            "did": "did:plc:viralwatchnewsroom00000",
            "handle": SIM_HANDLE,
            "email": "newsroom@example.org",
            "emailConfirmed": True,
            "accessJwt": access,
            "refreshJwt": refresh,
            "active": True,
        }

    def bearer(request: Request) -> str:
        return request.headers.get("authorization", "").removeprefix("Bearer ").strip()

    async def create_session(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error(400, "InvalidRequest", "Request body must be JSON")
        if not isinstance(body, dict) or not body.get("identifier") or not body.get("password"):
            return error(400, "InvalidRequest", 'Input must have the property "identifier"')
        if body["identifier"] != SIM_HANDLE or body["password"] != SIM_APP_PASSWORD:
            return error(401, "AuthenticationRequired", "Invalid identifier or password")
        return ok(issue())

    async def refresh_session(request: Request) -> JSONResponse:
        token = bearer(request)
        if token not in sessions["refresh"]:
            return error(400, "ExpiredToken", "Token has been revoked")
        sessions["refresh"].discard(token)
        return ok(issue())

    async def search_posts(request: Request) -> JSONResponse:
        token = bearer(request)
        if not token:
            return error(401, "AuthMissing", "Authentication Required")
        expires = sessions["access"].get(token)
        if expires is None:
            return error(400, "InvalidToken", "Token could not be verified")
        # An expired access token is a 400 ExpiredToken, not a 401: the collector must refresh
        # on that error name rather than on the status.
        if world.now() >= expires:
            return error(400, "ExpiredToken", "Token has expired")
        params = request.query_params
        if not params.get("q"):
            return error(400, "InvalidRequest", 'Error: Params must have the property "q"')
        limit = int(params.get("limit", 25))
        if not 1 <= limit <= MAX_LIMIT:
            return error(400, "InvalidRequest", "Error: limit must be between 1 and 100")
        offset = int(params.get("cursor", 0) or 0)
        hits = [p for p in all_posts() if _matches(p, params)]
        if params.get("sort") == "top":
            hits.sort(key=lambda p: p.counters(world.now()).get("likes", 0), reverse=True)
        page = hits[offset : offset + limit]
        body: dict[str, Any] = {"posts": [render_post(p, world) for p in page]}
        if offset + limit < len(hits):
            body["cursor"] = str(offset + limit)
        return ok(body)

    async def get_posts(request: Request) -> JSONResponse:
        uris = request.query_params.getlist("uris")
        if not uris:
            return error(400, "InvalidRequest", 'Error: Params must have the property "uris"')
        if len(uris) > MAX_GET_POSTS:
            return error(400, "InvalidRequest", "Error: uris must not have more than 25 elements")
        # Unknown or deleted URIs are silently left out: the collector notices by absence.
        found = [find(uri) for uri in uris]
        return ok({"posts": [render_post(p, world) for p in found if p is not None]})

    def paged(request: Request) -> tuple[SimPost | None, int, int]:
        params = request.query_params
        limit = min(max(int(params.get("limit", 50)), 1), MAX_LIMIT)
        return find(params.get("uri", "")), int(params.get("cursor", 0) or 0), limit

    async def get_reposted_by(request: Request) -> JSONResponse:
        post, offset, limit = paged(request)
        uri = request.query_params.get("uri", "")
        if post is None:  # a deleted post answers an empty list, not an error
            return ok({"uri": uri, "repostedBy": []})
        total = post.counters(world.now()).get("shares", 0)
        digest = hashlib.sha256(uri.encode()).hexdigest()[:12]
        profiles = [
            _profile(f"reposter{n}.bsky.social", f"did:plc:rp{digest}{n:010d}")
            for n in range(offset, min(offset + limit, total))
        ]
        body: dict[str, Any] = {"repostedBy": profiles, "uri": uri}
        if offset + limit < total:
            body["cursor"] = str(offset + limit)
        return ok(body)

    async def resolve_handle(request: Request) -> JSONResponse:
        # Handles are DNS names: any case resolves; the answer is the bare DID.
        handle = request.query_params.get("handle", "").strip().lower()
        if not handle:
            return error(400, "InvalidRequest", 'Error: Params must have the property "handle"')
        dids = {p.author.lower(): _did(p.id) for p in all_posts() if p.author}
        if handle not in dids:
            return error(400, "InvalidRequest", "Unable to resolve handle")
        return ok({"did": dids[handle]})

    async def get_quotes(request: Request) -> JSONResponse:
        post, offset, limit = paged(request)
        uri = request.query_params.get("uri", "")
        quotes = [p for p in all_posts() if p.parent_id == uri and p.relation == "quote"]
        if post is None:
            quotes = []
        body: dict[str, Any] = {
            "uri": uri,
            "posts": [render_post(p, world) for p in quotes[offset : offset + limit]],
        }
        if offset + limit < len(quotes):
            body["cursor"] = str(offset + limit)
        return ok(body)

    return Starlette(
        routes=[
            Route("/xrpc/com.atproto.server.createSession", create_session, methods=["POST"]),
            Route("/xrpc/com.atproto.server.refreshSession", refresh_session, methods=["POST"]),
            Route("/xrpc/app.bsky.feed.searchPosts", search_posts),
            Route("/xrpc/app.bsky.feed.getPosts", get_posts),
            Route("/xrpc/app.bsky.feed.getRepostedBy", get_reposted_by),
            Route("/xrpc/app.bsky.feed.getQuotes", get_quotes),
            Route("/xrpc/com.atproto.identity.resolveHandle", resolve_handle),
        ]
    )
