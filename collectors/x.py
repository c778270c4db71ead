"""X (Twitter) API v2 with the user's app bearer token (https://docs.x.com/x-api).

Endpoints:
- `GET /2/tweets/search/recent` (last 7 days only) for discovery: `max_results=100` (10-100),
  paging back by `until_id` (the oldest tweet read) to the query's high-water mark
  (collectors/sweep.py), at most MAX_SEARCH_PAGES pages per pass,
  `tweet.fields=public_metrics,created_at,author_id,referenced_tweets,entities,lang`,
  `expansions=author_id&user.fields=username,public_metrics` (authors arrive in
  `includes.users`);
- `GET /2/tweets?ids=…` (at most 100 ids per call) with the same fields to refresh counters.
Auth: `Authorization: Bearer <bearer_token>` (app-only). Without a token the daemon disables the
collector (`XSettings.required_credentials`); a rejected token is a 401 -> AuthFailed.
Rate limits (https://docs.x.com/x-api/fundamentals/rate-limits, per app, 15-minute windows):
recent search 450, tweet lookup 3,500; pay-per-use plans also cap monthly post reads. Every
response carries `x-rate-limit-remaining` / `x-rate-limit-reset` (epoch seconds); X sends no
Retry-After, so a 429 waits until the reset (`collectors/http.fetch`).
Query: the video's URLs (`url:"…"`, which matches expanded links), keyword phrases (quoted)
and hashtags, OR-ed together and split so each query stays under the 512-character limit,
with `-is:retweet` (a retweet has no counters of its own; its original does). `start_time` is
sent only when the video started less than 7 days ago, since older values are rejected.
Counters (public_metrics): impression_count -> views, like_count -> likes, retweet_count ->
shares, reply_count -> comments, quote_count -> quotes.
Author and language: `includes.users[].public_metrics.followers_count` -> extra.author_followers;
the tweet's `lang` (BCP 47, X's own detection) -> extra.language, except "und" (undetermined)
and "zxx" (no text: links or media only), which name no language.
Cascade: `referenced_tweets` of type quoted / retweeted / replied_to give the parent edge.
Quirks: a tweet that vanished (deleted, account suspended or protected) is missing from `data`
and listed in `errors` (a "partial error" with HTTP 200) with type …/problems/resource-not-found
or …/not-authorized-for-resource: it becomes Gone. Text carries HTML entities (&amp;) and t.co
links, so it is unescaped and matched against `entities.urls[].expanded_url`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, timedelta
from functools import partial
from typing import Any, ClassVar, cast

import httpx
from pydantic import Field, SecretStr

from collectors.base import (
    Clock,
    CollectorSpec,
    Gone,
    KnownPost,
    Observation,
    PassHooks,
    PostRef,
    Quota,
    RefreshItem,
    Relation,
    TrackedVideo,
    as_count,
    as_object,
    language_code,
    parse_timestamp,
    parses_payload,
    without_none,
)
from collectors.http import chunks, decode_json, expect, fetch
from collectors.matching import matches_video
from collectors.registry import register
from collectors.sweep import Page, sweep
from config.settings import CollectorSettings

TWEET_FIELDS = "public_metrics,created_at,author_id,referenced_tweets,entities,lang"
USER_FIELDS = "username,public_metrics"
MAX_RESULTS = 100
MAX_SEARCH_PAGES = 5
LOOKUP_BATCH = 100
MAX_QUERY_CHARS = 512
RECENT_SEARCH_DAYS = 7
_GONE_PROBLEMS = ("resource-not-found", "not-authorized-for-resource")
_RELATIONS: dict[str, Relation] = {
    "quoted": "quote",
    "retweeted": "reshare",
    "replied_to": "reply",
}


def build_queries(video: TrackedVideo, exclude_retweets: bool = True) -> list[str]:
    """Search queries covering the video's URLs, phrases and hashtags, each ≤ 512 characters."""
    terms = [f'url:"{url}"' for url in video.urls]
    terms += ['"' + phrase.replace('"', "") + '"' for phrase in video.keywords]
    terms += [f"#{tag}" for tag in video.hashtags]
    suffix = " -is:retweet" if exclude_retweets else ""
    queries: list[str] = []
    group: list[str] = []
    for term in terms:
        candidate = "(" + " OR ".join([*group, term]) + ")" + suffix
        if group and len(candidate) > MAX_QUERY_CHARS:
            queries.append("(" + " OR ".join(group) + ")" + suffix)
            group = [term]
        else:
            group.append(term)
    if group:
        queries.append("(" + " OR ".join(group) + ")" + suffix)
    return queries


def gone_ids(body: dict[str, Any]) -> dict[str, str]:
    """Tweet ids the `errors` list reports as deleted or not visible -> the problem's detail."""
    found = {}
    for problem in body.get("errors") or []:
        if not isinstance(problem, dict):
            continue
        kind = str(problem.get("type", ""))
        tweet_id = problem.get("resource_id") or problem.get("value")
        if tweet_id and any(kind.endswith(name) for name in _GONE_PROBLEMS):
            found[str(tweet_id)] = str(problem.get("detail") or problem.get("title") or kind)
    return found


class XSettings(CollectorSettings):
    required_credentials: ClassVar[tuple[str, ...]] = ("bearer_token",)
    base_url: str = Field("https://api.x.com", description="API v2 root")
    bearer_token: SecretStr = Field(SecretStr(""), description="App bearer token")


@register
class XCollector(PassHooks):
    """Recent search for discovery, 100-id tweet lookups for counters."""

    name: ClassVar[str] = "x"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="X",
        colour="#BBBBBB",
        settings_model=XSettings,
        counters=("views", "likes", "shares", "comments", "quotes"),
        # X counts lookups per 15-minute window: refreshing faster only spends it sooner.
        default_refresh_interval=timedelta(minutes=15),
        quotas=(
            Quota(
                450,
                timedelta(minutes=15),
                "recent searches per app",
                path=r"/2/tweets/search",
                refresh=False,
            ),
            Quota(3_500, timedelta(minutes=15), "tweet lookups per app", path=r"/2/tweets$"),
        ),
        batch_size=LOOKUP_BATCH,
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: XSettings) -> None:
        self.client = client
        self.clock = clock
        self.base_url = config.base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {config.bearer_token.get_secret_value()}"}

    @classmethod
    @parses_payload
    def from_payload(
        cls,
        tweet: dict[str, Any],
        users: dict[str, dict[str, Any]] | None = None,
        video: TrackedVideo | None = None,
    ) -> PostRef | None:
        """A PostRef from a Tweet object (users: `includes.users` by id); None if no match."""
        tweet_id = tweet.get("id")
        if not tweet_id:
            return None
        text = html.unescape(str(tweet.get("text") or ""))
        entities = as_object(tweet.get("entities"))
        links: list[str] = []
        for entity in entities.get("urls") or []:
            if isinstance(entity, dict):
                link = entity.get("unwound_url") or entity.get("expanded_url") or entity.get("url")
                if link:
                    links.append(str(link))
        tags = " ".join(
            f"#{t['tag']}" for t in entities.get("hashtags") or [] if isinstance(t, dict)
        )
        matched = "" if video is None else matches_video(f"{text} {tags}", links, video)
        if matched is None:
            return None
        parent_id, relation = None, None
        for ref in tweet.get("referenced_tweets") or []:
            if isinstance(ref, dict) and ref.get("type") in _RELATIONS and ref.get("id"):
                parent_id, relation = str(ref["id"]), _RELATIONS[ref["type"]]
                if relation != "reply":
                    break
        user = (users or {}).get(str(tweet.get("author_id")), {})
        username = user.get("username")
        return PostRef(
            platform=cls.name,
            platform_post_id=str(tweet_id),
            url=f"https://x.com/{username or 'i/web'}/status/{tweet_id}",
            author=username or tweet.get("author_id"),
            text=text,
            published_at=parse_timestamp(tweet.get("created_at")),
            matched_by=matched,
            parent_platform=cls.name if parent_id else None,
            parent_platform_post_id=parent_id,
            relation=relation,
            extra=without_none(
                language=language_code(tweet.get("lang")),
                author_followers=as_count(
                    as_object(user.get("public_metrics")).get("followers_count")
                ),
            ),
        )

    @classmethod
    @parses_payload
    def observation_from_payload(cls, tweet: dict[str, Any], observed_at: Any) -> Observation:
        """Counters from `public_metrics`; impression_count is absent on old tweets (NULL)."""
        metrics = as_object(tweet.get("public_metrics"))
        return Observation(
            platform=cls.name,
            platform_post_id=str(tweet["id"]),
            observed_at=observed_at,
            views=as_count(metrics.get("impression_count")),
            likes=as_count(metrics.get("like_count")),
            shares=as_count(metrics.get("retweet_count")),
            comments=as_count(metrics.get("reply_count")),
            quotes=as_count(metrics.get("quote_count")),
        )

    async def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        response = await fetch(
            self.client,
            self.name,
            f"{self.base_url}{path}",
            clock=self.clock,
            params=params,
            headers=self.headers,
        )
        body = decode_json(self.name, response)
        expect(self.name, isinstance(body, dict), f"{path} did not return an object")
        return cast(dict[str, Any], body)

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Tweets of the last 7 days linking the video or naming its phrases or hashtags."""
        base: dict[str, Any] = {
            "max_results": MAX_RESULTS,
            "tweet.fields": TWEET_FIELDS,
            "expansions": "author_id",
            "user.fields": USER_FIELDS,
        }
        now = self.clock()
        if video.started_at and video.started_at > now - timedelta(days=RECENT_SEARCH_DAYS):
            base["start_time"] = video.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        found: dict[str, PostRef] = {}
        for query in build_queries(video):
            read = partial(self._search_page, {**base, "query": query})
            for tweet, users in await sweep(video, query, read, MAX_SEARCH_PAGES):
                ref = self.from_payload(tweet, users, video)
                if ref is not None:
                    found.setdefault(ref.platform_post_id, ref)
        return list(found.values())

    async def _search_page(self, params: dict[str, Any], cursor: str | None) -> Page[Any]:
        """One page of recent search, newest first. The cursor is an `until_id` (the oldest
        tweet read), which stays valid across passes where a `next_token` may not."""
        body = await self._get(
            "/2/tweets/search/recent", {**params, "until_id": cursor} if cursor else params
        )
        includes = as_object(body.get("includes"))
        users = {str(u.get("id")): u for u in includes.get("users") or [] if isinstance(u, dict)}
        tweets = [t for t in body.get("data") or [] if isinstance(t, dict)]
        ids = [str(t.get("id") or "") for t in tweets]
        more = bool(as_object(body.get("meta")).get("next_token")) and ids[-1:] != [""]
        times = [parse_timestamp(t.get("created_at")) for t in tweets]
        return Page([(t, users) for t in tweets], times, ids[-1] if more and ids else None)

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """public_metrics for 100 tweets per lookup; deleted or hidden tweets become Gone."""
        items: list[RefreshItem] = []
        for batch in chunks(list(posts), LOOKUP_BATCH):
            body = await self._get(
                "/2/tweets",
                {"ids": ",".join(p.platform_post_id for p in batch), "tweet.fields": TWEET_FIELDS},
            )
            now = self.clock()
            seen = set()
            for tweet in body.get("data") or []:
                if isinstance(tweet, dict) and tweet.get("id"):
                    items.append(self.observation_from_payload(tweet, now))
                    seen.add(str(tweet["id"]))
            vanished = gone_ids(body)
            # An id in neither list is left alone: only an explicit problem proves it is gone.
            items.extend(
                Gone(self.name, p.platform_post_id, now, vanished[p.platform_post_id])
                for p in batch
                if p.platform_post_id not in seen and p.platform_post_id in vanished
            )
        return items
