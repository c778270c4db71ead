"""Dailymotion public API: /videos (search, ids, paging) and /video/<id>.

Written from the documentation (no recorded fixture exists): list answers {page, limit,
explicit, total, has_more, list}, only the requested `fields` per video with nested fields as
flat dotted keys ("owner.screenname"), created_time in epoch seconds, at most 100 per page and
1,000 results per query; the error envelope {"error": {more_info, code, message, type,
error_data}}. A gone video answers 404 not_found when deleted and 403 access_forbidden when made
private (every other gone video), and drops out of lists either way.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.model import Curve, SimPost
from simulator.world import World

MAX_LIMIT = 100
MAX_REACHABLE = 1000
KNOWN_FIELDS = {
    "id",
    "title",
    "created_time",
    "views_total",
    "likes_total",
    "url",
    "owner.screenname",
    "owner.username",
    "description",
    "private",
    "duration",
    "language",
}


def noise_posts(world: World) -> list[SimPost]:
    # An unrelated video, so searches return something a collector must not match.
    start = world.model.start
    return [
        SimPost(
            platform="dailymotion",
            id="x8noise1",
            author="cooking_club",
            title="Sourdough bread in ten steps",
            text="",
            created_at=start + timedelta(hours=6),
            curves={"views": [Curve(3_000, 5, 2)], "likes": [Curve(20, 5, 2)]},
            is_noise=True,
        )
    ]


def render_video(post: SimPost, world: World, fields: list[str]) -> dict[str, Any]:
    counters = post.counters(world.now())
    full = {
        "id": post.id,
        "title": post.title or post.text,
        "created_time": int(post.created_at.timestamp()),  # epoch seconds, not ISO
        "views_total": counters.get("views", 0),
        "likes_total": counters.get("likes", 0),
        "url": f"https://www.dailymotion.com/video/{post.id}",
        # Nested fields come back flat, under their dotted name.
        "owner.screenname": post.author.replace("_", " ").title(),
        "owner.username": post.author,
        "description": post.text,
        "private": False,
        "duration": 94,
        "language": post.language,
    }
    # Only what `fields` asked for: a collector that forgets a field gets no key, not null.
    return {field: full[field] for field in fields if field in full}


def app(world: World) -> Starlette:
    """The video endpoints, on the shared world."""

    def everything() -> list[SimPost]:
        return world.model.posts.get("dailymotion", []) + noise_posts(world)

    def visible() -> list[SimPost]:
        found = [p for p in everything() if p.is_visible(world.now())]
        return sorted(found, key=lambda p: p.created_at, reverse=True)

    def error(status: int, kind: str, message: str, **data: Any) -> JSONResponse:
        body = {
            "error": {
                "more_info": "https://developers.dailymotion.com/api/platform-api/errors/",
                "code": status,
                "message": message,
                "type": kind,
                "error_data": data,
            }
        }
        return JSONResponse(body, status_code=status)

    def parse_fields(request: Request) -> list[str] | JSONResponse:
        fields = [f for f in request.query_params.get("fields", "id,title").split(",") if f]
        unknown = [f for f in fields if f not in KNOWN_FIELDS]
        if unknown:
            return error(
                400, "invalid_parameter", f"Unknown field `{unknown[0]}'", reason="invalid_field"
            )
        return fields

    async def videos(request: Request) -> JSONResponse:
        params = request.query_params
        fields = parse_fields(request)
        if isinstance(fields, JSONResponse):
            return fields
        limit = int(params.get("limit", 10))
        page = int(params.get("page", 1))
        if not 1 <= limit <= MAX_LIMIT:
            return error(400, "invalid_parameter", "`limit' must be in the range 1-100")
        # Deep paging is refused outright: 1,000 results per query, whatever `total` says.
        if page * limit > MAX_REACHABLE:
            return error(400, "invalid_parameter", "You can not request more than 1000 results")
        found = visible()
        if params.get("ids"):
            wanted = params["ids"].split(",")
            found = [p for p in found if p.id in wanted]
        if params.get("search"):
            words = params["search"].casefold().split()
            found = [p for p in found if all(w in (p.title or "").casefold() for w in words)]
        if params.get("created_after"):
            after = int(params["created_after"])
            found = [p for p in found if p.created_at.timestamp() > after]  # strictly after
        if params.get("created_before"):
            before = int(params["created_before"])
            found = [p for p in found if p.created_at.timestamp() < before]
        if params.get("sort") == "visited":
            found.sort(key=lambda p: p.counters(world.now()).get("views", 0), reverse=True)
        window = found[(page - 1) * limit : page * limit]
        # `total` counts every match, `has_more` only what paging can still reach.
        reachable = min(len(found), MAX_REACHABLE)
        return JSONResponse(
            {
                "page": page,
                "limit": limit,
                "explicit": False,
                "total": len(found),
                "has_more": page < math.ceil(reachable / limit),
                "list": [render_video(p, world, fields) for p in window],
            }
        )

    async def video(request: Request) -> JSONResponse:
        fields = parse_fields(request)
        if isinstance(fields, JSONResponse):
            return fields
        video_id = request.path_params["id"]
        posts = everything()
        post = next((p for p in posts if p.id == video_id), None)
        if post is None or post.created_at > world.now():
            return error(
                404,
                "not_found",
                "Can't find object video for `id' parameter",
                reason="object_not_found",
                object_type="video",
                object_id=video_id,
                param="id",
            )
        if not post.is_visible(world.now()):
            # Alternate the two answers a gone video gets, so the collector meets both.
            if posts.index(post) % 2 == 0:
                return error(
                    403,
                    "access_forbidden",
                    "This video is private.",
                    reason="video_private",
                    object_id=video_id,
                )
            return error(
                404,
                "not_found",
                "This video has been deleted.",
                reason="object_deleted",
                object_type="video",
                object_id=video_id,
                param="id",
            )
        return JSONResponse(render_video(post, world, fields))

    return Starlette(
        routes=[
            Route("/videos", videos),
            Route("/video/{id}", video),
        ]
    )
