"""Algolia HN Search API: /api/v1/search, /api/v1/search_by_date, /api/v1/items/:id.

Shapes follow shared/fixtures/hn_algolia plus the fields current responses add (exhaustive,
processingTimingsMS, updated_at). Supports the query, tags (comma = AND, parentheses = OR),
numericFilters (created_at_i>N…), restrictSearchableAttributes, page and hitsPerPage parameters.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.model import SimPost
from simulator.render import iso_ms
from simulator.world import World

MAX_REACHABLE_HITS = 1000  # Algolia's paginationLimitedTo for HN


def _tags(post: SimPost) -> list[str]:
    return ["story", f"author_{post.author}", f"story_{post.id}"]


def render_hit(post: SimPost, world: World) -> dict[str, Any]:
    counters = post.counters(world.now())
    return {
        "created_at": iso_ms(post.created_at),
        "title": post.title,
        "url": post.links[0] if post.links else None,
        "author": post.author,
        "points": counters.get("likes", 0),
        "story_text": None,
        "comment_text": None,
        "num_comments": counters.get("comments", 0),
        "story_id": None,
        "story_title": None,
        "story_url": None,
        "parent_id": None,
        "created_at_i": int(post.created_at.timestamp()),
        "updated_at": iso_ms(world.now()),
        "_tags": _tags(post),
        "objectID": post.id,
        "children": [],
        "_highlightResult": {},
    }


def _matches_tags(post: SimPost, expression: str) -> bool:
    tags = set(_tags(post))
    for group in re.findall(r"\([^)]*\)|[^,()]+", expression):
        options = [t.strip() for t in group.strip("()").split(",") if t.strip()]
        if options and not tags.intersection(options):
            return False
    return True


def _matches_numeric(post: SimPost, expression: str) -> bool:
    value = int(post.created_at.timestamp())
    for condition in expression.split(","):
        found = re.fullmatch(r"\s*created_at_i\s*(>=|<=|>|<|=)\s*(\d+)\s*", condition)
        if not found:
            continue
        op, bound = found.group(1), int(found.group(2))
        ok = {
            ">": value > bound,
            ">=": value >= bound,
            "<": value < bound,
            "<=": value <= bound,
            "=": value == bound,
        }[op]
        if not ok:
            return False
    return True


def _matches_query(post: SimPost, query: str, restrict: str | None) -> bool:
    words = [w for w in re.split(r"\s+", query.casefold()) if w]
    if not words:
        return True
    url = (post.links[0] if post.links else "").casefold()
    haystack = (
        url
        if restrict == "url"
        else f"{(post.title or '').casefold()} {url} {post.author.casefold()}"
    )
    return all(word in haystack for word in words)


def app(world: World) -> Starlette:
    def search_response(request: Request, by_date: bool) -> JSONResponse:
        params = request.query_params
        query = params.get("query", "")
        hits_per_page = max(0, min(int(params.get("hitsPerPage", 20)), 1000))
        page = int(params.get("page", 0))
        posts = [
            p
            for p in world.model.visible("hackernews", world.now())
            if _matches_query(p, query, params.get("restrictSearchableAttributes"))
            and _matches_tags(p, params.get("tags", ""))
            and _matches_numeric(p, params.get("numericFilters", ""))
        ]
        if not by_date:
            posts.sort(key=lambda p: p.counters(world.now()).get("likes", 0), reverse=True)
        reachable = posts[:MAX_REACHABLE_HITS]
        window = (
            reachable[page * hits_per_page : (page + 1) * hits_per_page] if hits_per_page else []
        )
        return JSONResponse(
            {
                "hits": [render_hit(p, world) for p in window],
                "nbHits": len(posts),
                "page": page,
                "nbPages": math.ceil(len(reachable) / hits_per_page) if hits_per_page else 0,
                "hitsPerPage": hits_per_page,
                "exhaustiveNbHits": True,
                "exhaustiveTypo": True,
                "exhaustive": {"nbHits": True, "typo": True},
                "query": query,
                "params": urlencode(list(params.multi_items())),
                "processingTimeMS": 1,
                "processingTimingsMS": {"request": {"roundTrip": 1}},
                "serverTimeMS": 2,
            }
        )

    async def search(request: Request) -> JSONResponse:
        return search_response(request, by_date=False)

    async def search_by_date(request: Request) -> JSONResponse:
        return search_response(request, by_date=True)

    async def item(request: Request) -> JSONResponse:
        post = world.model.get("hackernews", request.path_params["id"])
        if post is None or not post.is_visible(world.now()):
            return JSONResponse({"status": 404, "error": "Not Found"}, status_code=404)
        counters = post.counters(world.now())
        return JSONResponse(
            {
                "id": int(post.id),
                "created_at": iso_ms(post.created_at),
                "created_at_i": int(post.created_at.timestamp()),
                "type": "story",
                "author": post.author,
                "title": post.title,
                "url": post.links[0] if post.links else None,
                "text": None,
                "points": counters.get("likes", 0),
                "parent_id": None,
                "story_id": int(post.id),
                "children": [],
                "options": [],
            }
        )

    return Starlette(
        routes=[
            Route("/api/v1/search", search),
            Route("/api/v1/search_by_date", search_by_date),
            Route("/api/v1/items/{id}", item),
        ]
    )
