"""Reddit through its OAuth API (https://www.reddit.com/dev/api, https://github.com/reddit-archive/reddit/wiki/OAuth2).

Auth: app-only OAuth, `POST {auth_url}/api/v1/access_token` with HTTP Basic
`client_id:client_secret` and `grant_type=client_credentials`; the bearer token is cached until
shortly before `expires_in` and fetched again once when the API answers 401. Every request sends
the configured, descriptive User-Agent, as Reddit's API rules require.
Endpoints, under `base_url` (https://oauth.reddit.com), always with `raw_json=1` so titles and
URLs arrive without HTML entities:
- `GET /search?q=…&sort=new&t=all&type=link&limit=100` (Listing, `after` cursor): the keyword
  phrases quoted and joined with OR (as few queries as fit 512 characters), and one
  `url:<link>` query per video URL; each pages back (`after`) to its high-water mark
  (collectors/sweep.py), at most MAX_SEARCH_PAGES pages per pass;
- `GET /api/info?url=<url>`: every submission of exactly that link;
- `GET /api/info?id=t3_a,t3_b,…`: counters for up to 100 fullnames per call. Unknown ids are
  silently left out, deleted or removed posts come back with `removed_by_category` set, or
  (older format) with `[deleted]`/`[removed]` as author or selftext; all mark the post gone;
- `GET /duplicates/<id>`: an array of two Listings (the post, then other submissions of its
  link); the ones carrying `crosspost_parent` become cascade children (relation "crosspost").
Rate limits: 100 queries per minute per OAuth client id (since July 2023), reported per
10-minute window in `X-Ratelimit-Used`, `X-Ratelimit-Remaining` and `X-Ratelimit-Reset`
(seconds); the collector stops for the rest of the window when none remain. Refresh keeps up to
4 requests in flight (the `in_flight` of its quota). A 429 is an HTML
page with `Retry-After`; the token endpoint's 429 is JSON without it.
Language and followers: a `t3` thing documents no language field and no author follower
count (that needs a user/about call per author), so neither is stored.
Counters: score -> likes (NULL while `hide_score` hides it), num_comments -> comments,
num_crossposts -> shares. `view_count` is always null, so views stay NULL.
Quirks: Reddit has no hashtags, so only keyword phrases and links are searched; search matches
words loosely, so every hit is re-checked with `matches_video`. A crosspost's `url` is its
parent's link. `/duplicates` is asked only when a post's `num_crossposts` grew since last seen
(kept in memory, so once per post after a restart), at most once per post and 25 times per
pass (`collectors.cascade`). A quarantined subreddit answers 403 with
`reason: quarantined`; its duplicates are skipped rather than failing the run.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, cast

import httpx
from pydantic import Field, SecretStr

from collectors.base import (
    AuthFailed,
    Clock,
    CollectorSpec,
    Gone,
    KnownPost,
    Observation,
    PassHooks,
    PostRef,
    Quota,
    RateLimited,
    RefreshItem,
    SourceUnavailable,
    TrackedVideo,
    allowed_in_flight,
    as_count,
    missing_from_answer,
    parse_timestamp,
    parses_payload,
)
from collectors.cascade import Candidate, CascadeGate
from collectors.http import (
    capped_wait,
    chunks,
    decode_json,
    expect,
    fetch,
    gather_limited,
    policy_of,
    query_url,
    reset_seconds,
)
from collectors.identity import canonical_url
from collectors.matching import matches_video
from collectors.registry import register
from collectors.sweep import Page, sweep
from config.settings import CollectorSettings, HttpUrl

logger = logging.getLogger("viralwatch.collectors.reddit")

LISTING_LIMIT = 100
MAX_SEARCH_PAGES = 3
INFO_BATCH = 100  # /api/info takes at most 100 fullnames
DUPLICATES_PER_PASS = 25  # /duplicates lookups per refresh pass, well inside 100 per minute
TOKEN_MARGIN_SECONDS = 60
MAX_QUERY_CHARS = 512  # Reddit's documented maximum for q
_SITE = "https://www.reddit.com"
_FIXED_PATHS = ("/api/info", "/search")


@dataclass(slots=True)
class RateWindow:
    """Reddit's last reported rate-limit window."""

    used: int | None = None
    remaining: float | None = None
    resets_at: datetime | None = None


def _things(listing: Any) -> list[dict[str, Any]]:
    """The `data` of every `t3` child of a Listing (other kinds are ignored)."""
    if not isinstance(listing, dict) or not isinstance(listing.get("data"), dict):
        return []
    children = listing["data"].get("children")
    if not isinstance(children, list):
        return []
    return [
        c["data"]
        for c in children
        if isinstance(c, dict) and c.get("kind") == "t3" and isinstance(c.get("data"), dict)
    ]


_GONE_MARKERS = ("[deleted]", "[removed]")


def _links(data: dict[str, Any]) -> list[str]:
    links = [data.get("url"), data.get("url_overridden_by_dest")]
    for parent in data.get("crosspost_parent_list") or []:
        if isinstance(parent, dict):
            links += [parent.get("url"), parent.get("url_overridden_by_dest")]
    found = [
        _SITE + link if link.startswith("/") else link
        for link in links
        if isinstance(link, str) and link
    ]
    return list(dict.fromkeys(found))


class RedditSettings(CollectorSettings):
    required_credentials: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")
    base_url: str = Field("https://oauth.reddit.com", description="OAuth API root")
    auth_url: HttpUrl = Field(
        "https://www.reddit.com", description="Where /api/v1/access_token lives"
    )
    client_id: str = Field("", description="OAuth app client id (script or installed app)")
    client_secret: SecretStr = Field(SecretStr(""), description="OAuth app client secret")
    user_agent: str = Field(
        "python:viralwatch:0.1 (by /u/viralwatch)",
        description="Reddit requires a unique, descriptive User-Agent",
    )


@register
class RedditCollector(PassHooks):
    """Searches Reddit for the footage's phrases and links; batch-refreshes scores."""

    name: ClassVar[str] = "reddit"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="Reddit",
        colour="#E8601C",
        settings_model=RedditSettings,
        counters=("views", "likes", "shares", "comments"),
        quotas=(Quota(100, timedelta(minutes=1), "queries per OAuth client id", in_flight=4),),
        batch_size=INFO_BATCH,
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: RedditSettings) -> None:
        self.client = client
        self.clock = clock
        self.base_url = config.base_url
        self.auth_url = config.auth_url
        credentials = f"{config.client_id}:{config.client_secret.get_secret_value()}"
        self._basic = "Basic " + base64.b64encode(credentials.encode()).decode()
        self.user_agent = config.user_agent
        self._token: str | None = None
        self._token_expires_at: datetime | None = None
        self.rate_window = RateWindow()
        self.cascades = CascadeGate(DUPLICATES_PER_PASS)
        self.in_flight = allowed_in_flight(self.spec.quotas)
        """Requests kept in flight at once; a budget planner may lower it."""
        # Concurrent requests share one token: only the first fetches it.
        self._token_lock = asyncio.Lock()
        self._urls: dict[str, httpx.URL] = {}

    # --- pure mapping -------------------------------------------------------------------

    @classmethod
    @parses_payload
    def from_payload(
        cls, thing: dict[str, Any], video: TrackedVideo | None = None
    ) -> PostRef | None:
        """A PostRef from a `t3` thing (or its `data`); None if it is no post or doesn't match."""
        data = thing.get("data") if thing.get("kind") == "t3" else thing
        if not isinstance(data, dict) or not data.get("id") or "title" not in data:
            return None
        selftext = data.get("selftext") or ""
        if selftext in _GONE_MARKERS:
            selftext = ""
        text = "\n\n".join(part for part in (data.get("title") or "", selftext) if part)
        links = _links(data)
        matched = "" if video is None else matches_video(text, links, video)
        if matched is None:
            return None
        parent = data.get("crosspost_parent")
        parent_id = parent.removeprefix("t3_") if isinstance(parent, str) and parent else None
        permalink = data.get("permalink") or f"/comments/{data['id']}/"
        author = data.get("author")
        return PostRef(
            platform=cls.name,
            platform_post_id=str(data["id"]),
            url=_SITE + permalink,
            author=None if author in (None, *_GONE_MARKERS) else author,
            text=text,
            published_at=parse_timestamp(data.get("created_utc")),
            matched_by=matched,
            parent_platform=cls.name if parent_id else None,
            parent_platform_post_id=parent_id,
            relation="crosspost" if parent_id else None,
            extra={"subreddit": data.get("subreddit"), **({"link": links[0]} if links else {})},
        )

    @classmethod
    @parses_payload
    def observation_from_payload(cls, data: dict[str, Any], observed_at: datetime) -> Observation:
        """Counters of a `t3` thing's data; score is NULL while Reddit hides it."""
        return Observation(
            platform=cls.name,
            platform_post_id=str(data["id"]),
            observed_at=observed_at,
            views=as_count(data.get("view_count")),
            likes=None if data.get("hide_score") else as_count(data.get("score")),
            shares=as_count(data.get("num_crossposts")),
            comments=as_count(data.get("num_comments")),
        )

    @classmethod
    @parses_payload
    def gone_reason(cls, data: dict[str, Any]) -> str | None:
        """Why a post returned by /api/info no longer counts as live, or None."""
        category = data.get("removed_by_category")
        if category:
            return f"removed on Reddit ({category})"
        # Older listings (and some still) mark deletions only by replacing author or selftext.
        for field in ("selftext", "author"):
            if data.get(field) in _GONE_MARKERS:
                return f"{str(data[field]).strip('[]')} on Reddit ({field} {data[field]})"
        return None

    # --- HTTP ---------------------------------------------------------------------------

    async def _authenticate(self) -> str:
        response = await fetch(
            self.client,
            self.name,
            f"{self.auth_url}/api/v1/access_token",
            clock=self.clock,
            method="POST",
            headers={"Authorization": self._basic, "User-Agent": self.user_agent},
            data={"grant_type": "client_credentials"},
            allow_statuses=(400, 401, 403),
        )
        if response.status_code in (400, 401, 403):
            raise AuthFailed(
                f"reddit: client credentials rejected (HTTP {response.status_code}); check "
                "collectors.reddit.client_id and collectors.reddit.client_secret"
            )
        body = decode_json(self.name, response)
        expect(self.name, isinstance(body, dict), "token response is not an object")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            # Reddit answers some refusals with HTTP 200 and {"error": "..."}.
            problem = body.get("error") or "no access_token"
            raise AuthFailed(
                f"reddit: token request refused ({problem}); check collectors.reddit.client_id "
                "and collectors.reddit.client_secret"
            )
        lifetime = as_count(body.get("expires_in")) or 3600
        self._token = token
        self._token_expires_at = self.clock() + timedelta(
            seconds=max(0, lifetime - TOKEN_MARGIN_SECONDS)
        )
        return token

    async def _bearer(self) -> str:
        async with self._token_lock:
            if (
                self._token is None
                or self._token_expires_at is None
                or self.clock() >= self._token_expires_at
            ):
                return await self._authenticate()
            return self._token

    def _check_window(self) -> None:
        window = self.rate_window
        now = self.clock()
        used_up = window.remaining is not None and window.remaining < 1
        if used_up and window.resets_at is not None and now < window.resets_at:
            wait = (window.resets_at - now).total_seconds()
            raise RateLimited(f"reddit: rate-limit window used up; waiting {wait:.0f}s", wait)

    def _note_window(self, response: httpx.Response) -> None:
        headers = response.headers
        if "x-ratelimit-remaining" not in headers:
            return
        try:
            remaining = float(headers["x-ratelimit-remaining"])
        except ValueError:
            return
        used = as_count(headers.get("x-ratelimit-used"))
        now = self.clock()
        reset = reset_seconds(headers.get("x-ratelimit-reset"), now)
        reset = capped_wait(self.name, reset, policy_of(self.client).max_wait_seconds)
        self.rate_window = RateWindow(used, remaining, now + timedelta(seconds=reset))

    def _url(self, path: str) -> httpx.URL:
        """The parsed URL of an API path; fixed paths are parsed once, not per request."""
        if (url := self._urls.get(path)) is not None:
            return url
        url = httpx.URL(f"{self.base_url}{path}")
        if path in _FIXED_PATHS:
            self._urls[path] = url
        return url

    async def _get(self, path: str, params: dict[str, str], *, missing_ok: bool = False) -> Any:
        """JSON of an API GET; None for 404 / quarantined 403 when `missing_ok`."""
        self._check_window()
        response: httpx.Response | None = None
        for attempt in range(2):
            token = await self._bearer()
            response = await fetch(
                self.client,
                self.name,
                query_url(self._url(path), [*params.items(), ("raw_json", "1")]),
                clock=self.clock,
                headers={"Authorization": f"bearer {token}", "User-Agent": self.user_agent},
                allow_statuses=(401, 403, 404),
            )
            if response.status_code != 401 or attempt:
                break
            # The token expired early or was revoked: fetch a new one, once.
            self._token = None
        assert response is not None
        self._note_window(response)
        status = response.status_code
        if status == 401:
            raise AuthFailed(
                "reddit: API rejected a fresh access token (HTTP 401); check the app's "
                "collectors.reddit.client_id and collectors.reddit.client_secret"
            )
        if status == 403:
            reason = _error_reason(response)
            if missing_ok:
                # One private or quarantined post: that post's problem, not the credentials'.
                return None
            raise AuthFailed(
                f"reddit: access denied to {path} (HTTP 403{', ' + reason if reason else ''}); "
                "check the app's API access"
            )
        if status == 404:
            if missing_ok:
                return None
            raise SourceUnavailable(f"reddit: {path} not found (HTTP 404)")
        return decode_json(self.name, response)

    async def _listing(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        body = await self._get(path, params)
        expect(
            self.name,
            isinstance(body, dict)
            and body.get("kind") == "Listing"
            and isinstance(body.get("data"), dict),
            f"{path} did not return a Listing",
        )
        return cast(dict[str, Any], body)

    # --- collector ----------------------------------------------------------------------

    async def _search_page(self, query: str, cursor: str | None) -> Page[dict[str, Any]]:
        """One page of `/search?sort=new`, newest first; the cursor is Reddit's `after`."""
        params = {"q": query, "sort": "new", "t": "all", "type": "link"}
        params["limit"] = str(LISTING_LIMIT)
        if cursor:
            params["after"] = cursor
        body = await self._listing("/search", params)
        things = _things(body)
        times = [parse_timestamp(t.get("created_utc")) for t in things]
        following = body["data"].get("after")
        return Page(things, times, str(following) if following and things else None)

    async def _search(self, query: str, video: TrackedVideo) -> list[dict[str, Any]]:
        return await sweep(video, query, partial(self._search_page, query), MAX_SEARCH_PAGES)

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Submissions naming a keyword phrase or linking one of the video's URLs."""
        things: list[dict[str, Any]] = []
        for query in keyword_queries(video.keywords):
            things += await self._search(query, video)
        for url in video.urls:
            things += await self._search(f"url:{url_search_term(url)}", video)
            things += _things(await self._listing("/api/info", {"url": url}))
        found: dict[str, PostRef] = {}
        for data in things:
            if self.gone_reason(data):
                continue
            ref = self.from_payload(data, video)
            if ref is not None:
                found.setdefault(ref.platform_post_id, ref)
        return list(found.values())

    def begin_pass(self) -> None:
        """A refresh pass starts: a fresh `/duplicates` budget for the whole pass."""
        self.cascades.begin_pass()

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Counters for 100 posts per call (`in_flight` at once); gone posts marked; new
        crossposts of posts whose `num_crossposts` grew, as children."""
        answers = await gather_limited(
            (self._info(batch) for batch in chunks(list(posts), INFO_BATCH)), self.in_flight
        )
        items: list[RefreshItem] = []
        candidates: list[Candidate | None] = []
        for batch_items in answers:
            items += batch_items
            candidates += [
                self.cascades.candidate(item.platform_post_id, "crossposts", item.shares)
                for item in batch_items
                if isinstance(item, Observation)
            ]
        # The fastest-growing first, within the pass's budget; the rest on later passes.
        chosen = self.cascades.choose(candidates)
        for children in await gather_limited(map(self._crossposts, chosen), self.in_flight):
            items += children
        return items

    async def _info(self, batch: Sequence[KnownPost]) -> list[RefreshItem]:
        """Observations, Gone posts and misses of one `/api/info` call."""
        fullnames = ",".join(f"t3_{p.platform_post_id}" for p in batch)
        body = await self._listing("/api/info", {"id": fullnames})
        now = self.clock()
        returned = {str(d["id"]): d for d in _things(body) if d.get("id")}
        items: list[RefreshItem] = []
        for post in batch:
            data = returned.get(post.platform_post_id)
            if data is None:
                continue  # a miss: reported below
            if (reason := self.gone_reason(data)) is not None:
                items.append(Gone(self.name, post.platform_post_id, now, reason))
            else:
                items.append(self.observation_from_payload(data, now))
        ids = [p.platform_post_id for p in batch]
        items += missing_from_answer(self.name, ids, set(returned), now, "/api/info")
        return items

    async def _crossposts(self, lookup: Candidate) -> list[RefreshItem]:
        post_id = lookup.post_id
        body = await self._get(
            f"/duplicates/{post_id}", {"limit": str(LISTING_LIMIT)}, missing_ok=True
        )
        # Asked once per movement, answered or not (a quarantined post stays unreadable).
        self.cascades.looked_up(lookup)
        if body is None:
            return []
        expect(
            self.name,
            isinstance(body, list) and len(body) == 2,
            "/duplicates did not return two Listings",
        )
        children: list[RefreshItem] = []
        for data in _things(body[1]):
            ref = self.from_payload(data)
            if ref is not None and ref.parent_platform_post_id and not self.gone_reason(data):
                children.append(replace(ref, matched_by="cascade", relation="crosspost"))
        return children


def url_search_term(url: str) -> str:
    """A URL as Reddit's `url:` search wants it: canonical form without the scheme."""
    return canonical_url(url).removeprefix("https://")


def keyword_queries(phrases: Sequence[str]) -> list[str]:
    """Quoted phrases joined with OR, as few queries as fit Reddit's 512-character limit."""
    queries: list[str] = []
    for phrase in phrases:
        term = '"' + phrase.replace('"', " ").strip() + '"'
        if queries and len(queries[-1]) + len(" OR ") + len(term) <= MAX_QUERY_CHARS:
            queries[-1] += " OR " + term
        else:
            queries.append(term)
    return queries


def _error_reason(response: httpx.Response) -> str | None:
    """The `reason` of Reddit's JSON error body (e.g. "quarantined"), if any."""
    try:
        body = response.json()
    except ValueError:
        return None
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else None
