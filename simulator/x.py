"""X API v2: /2/tweets/search/recent and /2/tweets?ids=, Bearer token required.

Bodies follow the documented v2 shapes (https://docs.x.com/x-api/posts/lookup and
…/search/api-reference): `data` (Tweet objects with id, text, created_at, author_id,
edit_history_tweet_ids, public_metrics, referenced_tweets, entities.urls/hashtags),
`includes.users`, `meta` (newest_id, oldest_id, result_count, next_token) and the "partial
errors" list for ids that cannot be returned (problem type …/resource-not-found). Text escapes
&, < and > as HTML entities and shows links as t.co short links, as X does. Query support:
OR-ed groups of `url:"…"`, quoted phrases, #hashtags and bare words, plus `-is:retweet`.
Optional fields appear only when requested, as on X: a tweet's `lang` with `tweet.fields=lang`,
a user's `public_metrics` (followers_count …) with `user.fields=public_metrics`.
No recorded X fixture exists; the bodies here are written from the documentation.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.model import Curve, SimPost
from simulator.render import iso_ms
from simulator.world import World

SIM_BEARER_TOKEN = "sim-bearer"
MAX_IDS = 100
RECENT_DAYS = 7
PROBLEMS = "https://api.twitter.com/2/problems"


def noise_posts(world: World) -> list[SimPost]:
    """Unrelated tweets the collector must not keep."""
    start = world.model.start
    return [
        SimPost(
            platform="x",
            id="1498900000000999001",
            author="citytraffic",
            text="Ring road closed between exits 4 & 5 tonight #traffic",
            created_at=start + timedelta(hours=3),
            hashtags=["traffic"],
            curves={
                "views": [Curve(5_000, 3, 1)],
                "likes": [Curve(40, 3, 1)],
                "shares": [Curve(9, 3, 1)],
                "comments": [Curve(4, 3, 1)],
                "quotes": [Curve(1, 3, 1)],
            },
            is_noise=True,
        )
    ]


def _user_id(username: str) -> str:
    # Numeric strings, stable per name: the collector joins tweets to `includes.users` by it.
    return str(int(hashlib.sha256(username.encode()).hexdigest()[:12], 16))


def _tco(url: str) -> str:
    return "https://t.co/" + hashlib.sha256(url.encode()).hexdigest()[:10]


def render_tweet(post: SimPost, world: World, fields: str = "") -> dict[str, Any]:
    """A Tweet object; `lang` only when `tweet.fields` (`fields`) asks for it, as X does."""
    counters = post.counters(world.now())
    text = post.text
    urls = []
    for link in post.links:
        short = _tco(link)
        # X replaces every link by its t.co form (appending it when the text had none), and the
        # entity offsets count in that shortened text: the expanded URL is only in `entities`.
        text = text.replace(link, short) if link in text else f"{text} {short}"
        start = text.index(short)
        urls.append(
            {
                "start": start,
                "end": start + len(short),
                "url": short,
                "expanded_url": link,
                "display_url": link.split("://", 1)[-1][:26],
            }
        )
    entities: dict[str, Any] = {}
    if urls:
        entities["urls"] = urls
    tags = []
    for tag in post.hashtags:
        start = text.find(f"#{tag}")
        if start >= 0:
            tags.append({"start": start, "end": start + len(tag) + 1, "tag": tag})
    if tags:
        entities["hashtags"] = tags
    tweet: dict[str, Any] = {
        "id": post.id,
        # Only &, < and > are escaped in v2 text (quotes stay as typed): the collector unescapes.
        "text": html.escape(text, quote=False),
        "created_at": iso_ms(post.created_at),
        "author_id": _user_id(post.author),
        "edit_history_tweet_ids": [post.id],  # always present since the 2022 edit feature
        "public_metrics": {
            "retweet_count": counters.get("shares", 0),
            "reply_count": counters.get("comments", 0),
            "like_count": counters.get("likes", 0),
            "quote_count": counters.get("quotes", 0),
            "bookmark_count": counters.get("likes", 0) // 20,
            "impression_count": counters.get("views", 0),
        },
    }
    if entities:
        tweet["entities"] = entities
    if "lang" in fields.split(","):
        tweet["lang"] = post.language
    # Retweets are excluded by the collector's -is:retweet; only quotes carry a reference.
    if post.parent_id and post.relation == "quote":
        tweet["referenced_tweets"] = [{"type": "quoted", "id": post.parent_id}]
    return tweet


def _user(post: SimPost, fields: str) -> dict[str, Any]:
    """A User object; `public_metrics` only when `user.fields` (`fields`) asks for it."""
    user: dict[str, Any] = {
        "id": _user_id(post.author),
        "name": post.author.replace("_", " ").title(),
        "username": post.author,
    }
    if "public_metrics" in fields.split(","):
        followers = post.author_followers
        user["public_metrics"] = {
            "followers_count": followers,
            "following_count": 150 + followers % 700,
            "tweet_count": 1_200 + followers % 9_000,
            "listed_count": followers // 500,
            "like_count": 3 * (1_200 + followers % 9_000),
        }
    return user


_TERM = re.compile(r'url:"[^"]*"|"[^"]*"|\S+')


def _term_matches(term: str, post: SimPost) -> bool:
    text = post.text.casefold()
    if term.startswith("url:"):
        url = term[4:].strip('"').casefold()
        return any(url == link.casefold() for link in post.links) or url in text
    if term.startswith('"'):
        return term.strip('"').casefold() in text
    if term.startswith("#"):
        return term[1:].casefold() in (t.casefold() for t in post.hashtags)
    return term.casefold() in text


def _query_matches(query: str, post: SimPost) -> bool:
    """OR within parentheses, AND between groups; only what the collector and docs need."""
    body = query.replace("-is:retweet", "").strip()
    groups = re.findall(r"\(([^)]*)\)", body) or [body]
    for group in groups:
        terms = [t for t in _TERM.findall(group) if t != "OR"]
        if terms and not any(_term_matches(t, post) for t in terms):
            return False
    return True


def app(world: World) -> Starlette:
    """The v2 endpoints, on the shared world."""

    def rate_headers(limit: int) -> dict[str, str]:
        # A 15-minute window, reset as epoch seconds: what the budget gate reads as spend.
        reset = int(world.now().timestamp()) + 900
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(limit - 1),
            "x-rate-limit-reset": str(reset),
        }

    def problem(status: int, title: str, detail: str, kind: str) -> JSONResponse:
        return JSONResponse(
            {"title": title, "detail": detail, "type": kind, "status": status},
            status_code=status,
        )

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {SIM_BEARER_TOKEN}"

    def unauthorised() -> JSONResponse:
        return problem(401, "Unauthorized", "Unauthorized", "about:blank")

    def everything() -> list[SimPost]:
        posts = world.model.visible("x", world.now())
        posts += [p for p in noise_posts(world) if p.is_visible(world.now())]
        return sorted(posts, key=lambda p: p.created_at, reverse=True)

    def find(post_id: str) -> SimPost | None:
        post = world.model.get("x", post_id) or next(
            (p for p in noise_posts(world) if p.id == post_id), None
        )
        return post if post is not None and post.is_visible(world.now()) else None

    async def search_recent(request: Request) -> JSONResponse:
        if not authorised(request):
            return unauthorised()
        params = request.query_params
        query = params.get("query", "")
        max_results = int(params.get("max_results", 10))
        invalid = PROBLEMS + "/invalid-request"
        if not query or len(query) > 512:
            return problem(400, "Invalid Request", "query must be 1-512 characters", invalid)
        if not 10 <= max_results <= 100:
            detail = (
                f"The `max_results` query parameter value [{max_results}] is not between 10 and 100"
            )
            return problem(400, "Invalid Request", detail, invalid)
        earliest = world.now() - timedelta(days=RECENT_DAYS)
        if params.get("start_time"):
            start = datetime.fromisoformat(params["start_time"].replace("Z", "+00:00"))
            if start < earliest:
                detail = "Invalid 'start_time':'…'. 'start_time' must be a minimum of 10 seconds prior to the request time and within the last 7 days."
                return problem(400, "Invalid Request", detail, invalid)
            earliest = start
        hits = [p for p in everything() if p.created_at >= earliest and _query_matches(query, p)]
        if params.get("until_id"):  # older than that tweet (ids are time-ordered snowflakes)
            hits = [p for p in hits if p.id.isdigit() and int(p.id) < int(params["until_id"])]
        # next_token is opaque to clients; an offset is enough to page a fixed result list.
        offset = int(params.get("next_token", "0") or 0)
        page = hits[offset : offset + max_results]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
        if offset + max_results < len(hits):
            meta["next_token"] = str(offset + max_results)
        # An empty search has `meta` alone: no `data` key at all, not an empty list.
        body: dict[str, Any] = {"meta": meta}
        if page:
            fields = params.get("tweet.fields", "")
            body["data"] = [render_tweet(p, world, fields) for p in page]
            authors = {p.author: p for p in page}  # each user once, however many tweets
            user_fields = params.get("user.fields", "")
            body["includes"] = {"users": [_user(p, user_fields) for p in authors.values()]}
        return JSONResponse(body, headers=rate_headers(450))

    async def lookup(request: Request) -> JSONResponse:
        if not authorised(request):
            return unauthorised()
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= MAX_IDS:
            detail = f"The `ids` query parameter value has {len(ids)} ids; it must have 1 to 100"
            return problem(400, "Invalid Request", detail, PROBLEMS + "/invalid-request")
        # A missing tweet is a "partial error" beside the others' data, still HTTP 200.
        data, errors = [], []
        for tweet_id in ids:
            post = find(tweet_id)
            if post is not None:
                data.append(render_tweet(post, world, request.query_params.get("tweet.fields", "")))
            else:
                errors.append(
                    {
                        "value": tweet_id,
                        "detail": f"Could not find tweet with ids: [{tweet_id}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "ids",
                        "resource_id": tweet_id,
                        "type": PROBLEMS + "/resource-not-found",
                    }
                )
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        return JSONResponse(body, headers=rate_headers(3500))

    return Starlette(
        routes=[
            Route("/2/tweets/search/recent", search_recent),
            Route("/2/tweets", lookup),
        ]
    )
