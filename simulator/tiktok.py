"""TikTok Research API: /v2/oauth/token/ and /v2/research/video/query/.

Written from the documentation (no recorded fixture exists): the client-credentials token
response {access_token, expires_in, token_type}, the OAuth error struct {error,
error_description, log_id}, the query body (and/or/not lists of {operation, field_name,
field_values}; start_date/end_date YYYYMMDD at most 30 days apart; max_count ≤ 100; cursor and
search_id paging) and the answer {data: {videos, cursor, has_more, search_id}, error: {code,
message, log_id}}. Supported condition fields: keyword, hashtag_name, video_id, username,
create_date with EQ/IN (GT/GTE/LT/LTE on create_date).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.model import Curve, SimPost
from simulator.world import World

SIM_CLIENT_KEY = "sim-key"
SIM_CLIENT_SECRET = "sim-secret"
TOKEN_LIFETIME_SECONDS = 7200
MAX_COUNT = 100
MAX_WINDOW_DAYS = 30


def noise_posts(world: World) -> list[SimPost]:
    start = world.model.start
    return [
        SimPost(
            platform="tiktok",
            id="7070000999999999001",
            author="dance_daily",
            text="New dance challenge, tag a friend #dance #fyp",
            created_at=start + timedelta(hours=5),
            hashtags=["dance", "fyp"],
            curves={
                "views": [Curve(90_000, 5, 2)],
                "likes": [Curve(9_000, 5, 2)],
                "shares": [Curve(300, 5, 2)],
                "comments": [Curve(120, 5, 2)],
            },
            is_noise=True,
        )
    ]


def _log_id(seed: str) -> str:
    return "2022" + hashlib.sha256(seed.encode()).hexdigest()[:28].upper()


def render_video(post: SimPost, world: World, fields: list[str]) -> dict[str, Any]:
    counters = post.counters(world.now())
    full = {
        "id": int(post.id),
        "video_description": post.text,
        "create_time": int(post.created_at.timestamp()),
        "username": post.author,
        "region_code": "UA",
        "view_count": counters.get("views", 0),
        "like_count": counters.get("likes", 0),
        "share_count": counters.get("shares", 0),
        "comment_count": counters.get("comments", 0),
        "hashtag_names": [t.lower() for t in post.hashtags],
    }
    return {key: value for key, value in full.items() if key in fields}


def _condition_matches(condition: dict[str, Any], post: SimPost) -> bool:
    field = condition.get("field_name")
    values = [str(v) for v in condition.get("field_values") or []]
    operation = condition.get("operation", "EQ")
    text = post.text.casefold()
    if field == "keyword":
        return any(v.casefold() in text for v in values)
    if field == "hashtag_name":
        tags = {t.casefold() for t in post.hashtags}
        return any(v.casefold() in tags for v in values)
    if field == "video_id":
        return post.id in values
    if field == "username":
        return post.author in values
    if field == "create_date":
        created = post.created_at.strftime("%Y%m%d")
        bound = values[0] if values else ""
        return {
            "EQ": created == bound,
            "IN": created in values,
            "GT": created > bound,
            "GTE": created >= bound,
            "LT": created < bound,
            "LTE": created <= bound,
        }.get(operation, False)
    return False


def _query_matches(query: dict[str, Any], post: SimPost) -> bool:
    ands = query.get("and") or []
    ors = query.get("or") or []
    nots = query.get("not") or []
    return (
        all(_condition_matches(c, post) for c in ands)
        and (not ors or any(_condition_matches(c, post) for c in ors))
        and not any(_condition_matches(c, post) for c in nots)
    )


def app(world: World) -> Starlette:
    """The token and video query endpoints, on the shared world."""
    tokens: dict[str, datetime] = {}
    searches: dict[str, list[str]] = {}

    def api_error(status: int, code: str, message: str) -> JSONResponse:
        body = {"error": {"code": code, "message": message, "log_id": _log_id(message)}}
        return JSONResponse(body, status_code=status)

    async def token(request: Request) -> JSONResponse:
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return JSONResponse(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "The grant type is not supported.",
                    "log_id": _log_id("grant"),
                },
                status_code=400,
            )
        if (
            form.get("client_key") != SIM_CLIENT_KEY
            or form.get("client_secret") != SIM_CLIENT_SECRET
        ):
            return JSONResponse(
                {
                    "error": "invalid_client",
                    "error_description": "Client key or secret is incorrect.",
                    "log_id": _log_id("client"),
                },
                status_code=401,
            )
        access = "clt." + hashlib.sha256(f"{len(tokens)}{world.now()}".encode()).hexdigest()[:40]
        tokens[access] = world.now() + timedelta(seconds=TOKEN_LIFETIME_SECONDS)
        return JSONResponse(
            {"access_token": access, "expires_in": TOKEN_LIFETIME_SECONDS, "token_type": "Bearer"}
        )

    def everything() -> list[SimPost]:
        posts = world.model.visible("tiktok", world.now())
        posts += [p for p in noise_posts(world) if p.is_visible(world.now())]
        return sorted(posts, key=lambda p: p.created_at, reverse=True)

    async def query(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        bearer = auth.split(" ", 1)[-1] if auth.lower().startswith("bearer ") else ""
        if bearer not in tokens or world.now() >= tokens[bearer]:
            return api_error(
                401,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            )
        fields = [f for f in request.query_params.get("fields", "").split(",") if f]
        if not fields:
            return api_error(400, "invalid_params", "fields is required")
        try:
            body = json.loads(await request.body())
            start = datetime.strptime(body["start_date"], "%Y%m%d").replace(tzinfo=UTC).date()
            end = datetime.strptime(body["end_date"], "%Y%m%d").replace(tzinfo=UTC).date()
        except (ValueError, KeyError, TypeError):
            return api_error(
                400,
                "invalid_params",
                "Invalid request body: start_date and end_date are required (YYYYMMDD)",
            )
        if end < start or end - start > timedelta(days=MAX_WINDOW_DAYS):
            return api_error(
                400, "invalid_params", "end_date must be no more than 30 days after start_date"
            )
        max_count = int(body.get("max_count", 20))
        if not 1 <= max_count <= MAX_COUNT:
            return api_error(400, "invalid_params", "max_count must be between 1 and 100")
        query_body = body.get("query")
        if not isinstance(query_body, dict) or not any(
            query_body.get(k) for k in ("and", "or", "not")
        ):
            return api_error(
                400, "invalid_params", "query must contain a non-empty and, or or not list"
            )
        search_id = str(body.get("search_id") or "")
        if search_id and search_id in searches:
            ids = searches[search_id]
        else:
            ids = [
                p.id
                for p in everything()
                if start <= p.created_at.astimezone(UTC).date() <= end
                and _query_matches(query_body, p)
            ]
            search_id = str(7200000000000000000 + len(searches))
            searches[search_id] = ids
        cursor = int(body.get("cursor") or 0)
        page = []
        for post_id in ids[cursor : cursor + max_count]:
            post = world.model.get("tiktok", post_id) or next(
                (p for p in noise_posts(world) if p.id == post_id), None
            )
            # Deleted or private videos drop out of cached searches too, so pages can be short.
            if post is not None and post.is_visible(world.now()):
                page.append(render_video(post, world, fields))
        return JSONResponse(
            {
                "data": {
                    "videos": page,
                    "cursor": cursor + max_count,
                    "has_more": cursor + max_count < len(ids),
                    "search_id": search_id,
                },
                "error": {"code": "ok", "message": "", "log_id": _log_id(search_id + str(cursor))},
            }
        )

    return Starlette(
        routes=[
            Route("/v2/oauth/token/", token, methods=["POST"]),
            Route("/v2/research/video/query/", query, methods=["POST"]),
        ]
    )
