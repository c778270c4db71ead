"""Bluesky over XRPC (https://docs.bsky.app/docs/category/http-reference).

Endpoints:
- hydration on the public AppView (`base_url`, https://public.api.bsky.app, no auth):
  `GET /xrpc/app.bsky.feed.getPosts?uris=…&uris=…` (at most 25 URIs per call) for counters,
  `GET /xrpc/app.bsky.feed.getQuotes?uri=…&limit=100` and
  `GET /xrpc/app.bsky.feed.getRepostedBy?uri=…&limit=100` for cascade edges;
- discovery with `GET /xrpc/app.bsky.feed.searchPosts` (q, url, since, sort=latest, limit=100,
  cursor) on the account's PDS (`auth_url`, https://bsky.social). Anonymous search was switched off
  in 2025, so search needs an app-password session: `POST /xrpc/com.atproto.server.createSession`
  ({identifier, password}) gives accessJwt/refreshJwt; an `ExpiredToken` answer triggers
  `POST /xrpc/com.atproto.server.refreshSession` (Bearer refreshJwt), then one retry.
Without `handle` + `app_password` the collector still refreshes counters and cascades, but
discovery returns nothing and `notice` says "search disabled: no login configured" (logged once).
Queries: one per video URL (`q=<url>` plus the `url` filter, which matches facet links and
embeds), one per keyword phrase (quoted, Lucene syntax) and one per hashtag, all `since` the
video's start, each paged back with `cursor` to its high-water mark (collectors/sweep.py), at
most MAX_PAGES pages per pass. `domain` is not used: the footage's domains (t.me, youtube.com)
match far too much.
Rate limits (https://docs.bsky.app/docs/advanced-guides/rate-limits): 3000 requests per 5 minutes
per IP on PDSes, "generous" on the AppView; `RateLimit-Remaining` / `RateLimit-Reset` (epoch
seconds) are honoured by `collectors/http.fetch`. createSession has its own tight bucket (the
recording shows `RateLimit-Policy: 10;w=86400`), so the session is kept and refreshed, not
re-created per run.
Counters (app.bsky.feed.defs#postView): repostCount -> shares, likeCount -> likes,
replyCount -> comments, quoteCount -> quotes. No views (NULL).
Language: the record's `langs` (BCP 47 tags the author's app set; the first is the main one)
-> extra.language. Follower counts need a getProfile call per author, so none are stored.
Cascade: a quote post is a post of its own (relation quote, parent = the quoted post). A repost
is not a post (no text, no counters, and getRepostedBy only returns the profiles), so each one is
stored as a reshare edge keyed `<subject uri>#repost-by-<reposter did>` with `extra.kind="repost"`;
refresh never asks the AppView about those keys and writes no counters for them. Quotes (or
reposts) are asked for only when the post's quoteCount (repostCount) moved since the last lookup,
at most one lookup per post and 500 per refresh pass, the newest 100 each (`collectors.cascade`).
Refresh keeps up to 8 requests in flight (the `in_flight` of its quota).
Quirks: errors use the XRPC envelope {"error": name, "message": text}; a URI that getPosts no
longer returns was deleted (or its account taken down) and becomes Gone. Post text is plain text;
link targets come from facets and embeds because the text itself shortens links.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, timedelta
from functools import partial
from typing import Any, ClassVar, cast

import httpx
from pydantic import Field, SecretStr

from collectors.base import (
    AuthFailed,
    Clock,
    CollectorSpec,
    KnownPost,
    Observation,
    PassHooks,
    PostRef,
    Quota,
    RefreshItem,
    Relation,
    SourceUnavailable,
    TrackedVideo,
    allowed_in_flight,
    as_count,
    as_object,
    language_code,
    missing_from_answer,
    parse_timestamp,
    parses_payload,
    without_none,
)
from collectors.cascade import Candidate, CascadeGate
from collectors.http import chunks, decode_json, expect, fetch, gather_limited, query_url
from collectors.identity import bluesky_handle, post_identity, with_bluesky_did
from collectors.matching import matches_video
from collectors.registry import register
from collectors.sweep import Page, sweep
from config.settings import CollectorSettings, HttpUrl

logger = logging.getLogger("viralwatch.collectors.bluesky")

GET_POSTS_BATCH = 25
SEARCH_LIMIT = 100
MAX_PAGES = 5  # searchPosts pages per query and pass (collectors/sweep.py)
CASCADE_LIMIT = 100
# Cascade lookups per refresh pass: well inside 3,000 requests per 5 minutes with the getPosts
# calls of 100,000 posts (4,000), spread over a 10-minute refresh interval.
CASCADE_LOOKUPS_PER_PASS = 500
# Which lookup follows which counter of a postView.
_CASCADE_COUNTERS = {"quotes": "quoteCount", "reposts": "repostCount"}
SEARCH_DISABLED = (
    "bluesky: search disabled: no login configured; set collectors.bluesky.handle and "
    "app_password to discover posts (counters of known posts are still refreshed)"
)
# XRPC error names that mean "your session is no good any more: log in again".
_SESSION_ERRORS = {"ExpiredToken", "InvalidToken", "AuthMissing", "AuthenticationRequired"}


def xrpc_error(response: httpx.Response) -> tuple[str, str]:
    """(error name, message) of an XRPC error body; generic values when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"], str(body.get("message") or "")
    return f"HTTP {response.status_code}", ""


class HandleResolver:
    """Handle -> DID through `GET /xrpc/com.atproto.identity.resolveHandle` on the AppView, for
    a hand-added `bsky.app/profile/<handle>/post/<rkey>` URL (the collector keys posts by DID).

    Synchronous: it runs where a person adds a URL (CLI, dashboard form), once per handle. A
    resolved DID is cached for the process (a DID never changes; a handle moving to another
    DID is rare, and a post URL names the post as it was); a failure is not cached, so the
    next attempt asks again.
    """

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self._dids: dict[str, str] = {}

    def __call__(self, handle: str) -> str | None:
        handle = handle.lower()
        if handle in self._dids:
            return self._dids[handle]
        try:
            response = self.client.get(
                "/xrpc/com.atproto.identity.resolveHandle", params={"handle": handle}
            )
        except httpx.HTTPError as err:
            logger.warning("bluesky: cannot resolve handle %s: %s", handle, type(err).__name__)
            return None
        if response.status_code != 200:
            name, message = xrpc_error(response)
            logger.info("bluesky: handle %s not resolved: %s %s", handle, name, message)
            return None
        try:
            did = response.json().get("did")
        except (ValueError, AttributeError):
            did = None
        if not isinstance(did, str) or not did.startswith("did:"):
            return None
        self._dids[handle] = did
        return did


def post_web_url(uri: str, handle: str | None) -> str:
    """https://bsky.app/profile/<handle or did>/post/<rkey> for an at:// post URI."""
    parts = uri.removeprefix("at://").split("/")
    actor = handle or parts[0]
    return f"https://bsky.app/profile/{actor}/post/{parts[-1]}"


def _embedded_links(embed: Any) -> list[str]:
    if not isinstance(embed, dict):
        return []
    links = []
    external = embed.get("external")
    if isinstance(external, dict) and external.get("uri"):
        links.append(str(external["uri"]))
    links += _embedded_links(embed.get("media"))  # recordWithMedia wraps the external card
    return links


def _web_urls(post: dict[str, Any]) -> list[str]:
    """Both web forms (handle and DID) of a post view and of the post view it quotes, so a
    tracked bsky.app URL matches whichever form it was copied in."""
    urls: list[str] = []
    embed = as_object(post.get("embed"))
    quoted = as_object(embed.get("record"))
    if isinstance(quoted.get("record"), dict):
        quoted = quoted["record"]  # app.bsky.embed.recordWithMedia#view
    for view in (post, quoted):
        uri = view.get("uri")
        if isinstance(uri, str) and "/app.bsky.feed.post/" in uri:
            handle = as_object(view.get("author")).get("handle")
            urls += [post_web_url(uri, None), post_web_url(uri, handle or None)]
    return urls


def _quoted_uri(embed: Any) -> str | None:
    if not isinstance(embed, dict):
        return None
    record = embed.get("record")
    if isinstance(record, dict) and isinstance(record.get("record"), dict):
        record = record["record"]  # app.bsky.embed.recordWithMedia
    if isinstance(record, dict) and str(record.get("uri", "")).startswith("at://"):
        uri = str(record["uri"])
        return uri if "/app.bsky.feed.post/" in uri else None
    return None


@dataclass(slots=True)
class _Session:
    access_jwt: str
    refresh_jwt: str


class BlueskySettings(CollectorSettings):
    base_url: str = Field("https://public.api.bsky.app", description="Public AppView root")
    auth_url: HttpUrl = Field("https://bsky.social", description="PDS used for createSession")
    handle: str = Field("", description="Account handle for search (app-password login)")
    app_password: SecretStr = Field(SecretStr(""), description="App password for that handle")


def _first_language(record: dict[str, Any]) -> str | None:
    langs = record.get("langs")
    return language_code(langs[0]) if isinstance(langs, list) and langs else None


@register
class BlueskyCollector(PassHooks):
    """searchPosts discovery (with a login), getPosts counters, quotes and reposts as edges."""

    name: ClassVar[str] = "bluesky"
    spec: ClassVar[CollectorSpec] = CollectorSpec(
        label="Bluesky",
        colour="#0077BB",
        settings_model=BlueskySettings,
        counters=("likes", "shares", "comments", "quotes"),
        quotas=(Quota(3_000, timedelta(minutes=5), "requests per IP on a PDS", in_flight=8),),
        batch_size=GET_POSTS_BATCH,
    )
    notice: str | None = None

    def __init__(self, client: httpx.AsyncClient, clock: Clock, config: BlueskySettings) -> None:
        self.client = client
        self.clock = clock
        self.base_url = config.base_url.rstrip("/")
        self.auth_url = config.auth_url.rstrip("/")
        self.handle = config.handle
        self._password = config.app_password.get_secret_value()
        self._dids: dict[str, str] = {}  # handle -> DID, for tracked URLs naming a handle
        self._session: _Session | None = None
        self.in_flight = allowed_in_flight(self.spec.quotas)
        """Requests kept in flight at once; a budget planner may lower it."""
        self.cascades = CascadeGate(CASCADE_LOOKUPS_PER_PASS)
        self._method_urls: dict[str, httpx.URL] = {}
        self.notice: str | None = None
        """A standing state worth showing the operator (search disabled), or None."""

    @property
    def can_search(self) -> bool:
        return bool(self.handle and self._password)

    # --- pure mapping -------------------------------------------------------------------

    @classmethod
    @parses_payload
    def from_payload(
        cls, post: dict[str, Any], video: TrackedVideo | None = None
    ) -> PostRef | None:
        """A PostRef from a postView; None when it lacks a URI or does not match `video`."""
        uri = post.get("uri")
        if not isinstance(uri, str) or not uri.startswith("at://"):
            return None
        record = as_object(post.get("record"))
        text = str(record.get("text") or "")
        links: list[str] = []
        tags = [str(t) for t in record.get("tags") or [] if isinstance(t, str)]
        for facet in record.get("facets") or []:
            for feature in facet.get("features") or [] if isinstance(facet, dict) else []:
                if not isinstance(feature, dict):
                    continue
                if feature.get("uri"):
                    links.append(str(feature["uri"]))
                if feature.get("tag"):
                    tags.append(str(feature["tag"]))
        links += _embedded_links(record.get("embed")) + _embedded_links(post.get("embed"))
        links += _web_urls(post)
        hashtags = " ".join(f"#{tag}" for tag in tags)
        matched = "" if video is None else matches_video(f"{text} {hashtags}", links, video)
        if matched is None:
            return None
        parent: str | None = _quoted_uri(record.get("embed"))
        relation: Relation | None = "quote" if parent else None
        reply = record.get("reply")
        if parent is None and isinstance(reply, dict) and isinstance(reply.get("parent"), dict):
            parent = reply["parent"].get("uri")
            relation = "reply" if parent else None
        author = as_object(post.get("author"))
        return PostRef(
            platform=cls.name,
            platform_post_id=uri,
            url=post_web_url(uri, author.get("handle")),
            author=author.get("handle") or author.get("did"),
            text=text,
            published_at=parse_timestamp(record.get("createdAt") or post.get("indexedAt")),
            matched_by=matched,
            parent_platform=cls.name if parent else None,
            parent_platform_post_id=parent,
            relation=relation,
            extra=without_none(cid=post.get("cid") or None, language=_first_language(record)),
        )

    @classmethod
    @parses_payload
    def observation_from_payload(cls, post: dict[str, Any], observed_at: Any) -> Observation:
        """Counters of a postView (no views: Bluesky does not count them)."""
        return Observation(
            platform=cls.name,
            platform_post_id=str(post["uri"]),
            observed_at=observed_at,
            likes=as_count(post.get("likeCount")),
            shares=as_count(post.get("repostCount")),
            comments=as_count(post.get("replyCount")),
            quotes=as_count(post.get("quoteCount")),
        )

    @classmethod
    def repost_ref(
        cls, subject_uri: str, reposter: dict[str, Any], reposted_at: Any = None
    ) -> PostRef | None:
        """The reshare edge for one repost of `subject_uri` by the profile `reposter`."""
        did = reposter.get("did")
        if not did:
            return None
        handle = reposter.get("handle")
        return PostRef(
            platform=cls.name,
            platform_post_id=f"{subject_uri}#repost-by-{did}",
            url=f"https://bsky.app/profile/{handle or did}",
            author=handle or did,
            published_at=parse_timestamp(reposted_at),
            matched_by="cascade",
            parent_platform=cls.name,
            parent_platform_post_id=subject_uri,
            relation="reshare",
            extra={"kind": "repost", "by": did},
        )

    @classmethod
    def repost_from_feed_item(cls, item: dict[str, Any]) -> PostRef | None:
        """The reshare edge of a feed item shown because someone reposted it, else None."""
        reason = item.get("reason")
        post = item.get("post")
        if not isinstance(reason, dict) or not isinstance(post, dict):
            return None
        if reason.get("$type") != "app.bsky.feed.defs#reasonRepost":
            return None
        by = reason.get("by")
        if not isinstance(by, dict) or not post.get("uri"):
            return None
        return cls.repost_ref(str(post["uri"]), by, reason.get("indexedAt"))

    # --- session ------------------------------------------------------------------------

    async def _login(self) -> _Session:
        response = await fetch(
            self.client,
            self.name,
            f"{self.auth_url}/xrpc/com.atproto.server.createSession",
            clock=self.clock,
            method="POST",
            json_body={"identifier": self.handle, "password": self._password},
            allow_statuses=(400, 401),
        )
        if not response.is_success:
            name, message = xrpc_error(response)
            raise AuthFailed(
                f"bluesky: login rejected for {self.handle} ({name}: {message}); check "
                "collectors.bluesky.handle and app_password"
            )
        return self._session_from(decode_json(self.name, response))

    def _session_from(self, body: Any) -> _Session:
        expect(
            self.name,
            isinstance(body, dict) and bool(body.get("accessJwt")) and bool(body.get("refreshJwt")),
            "session without tokens",
        )
        self._session = _Session(str(body["accessJwt"]), str(body["refreshJwt"]))
        return self._session

    async def _renew(self) -> _Session:
        """refreshSession with the refresh token; a fresh login when that is refused too."""
        if self._session is not None:
            response = await fetch(
                self.client,
                self.name,
                f"{self.auth_url}/xrpc/com.atproto.server.refreshSession",
                clock=self.clock,
                method="POST",
                headers={"Authorization": f"Bearer {self._session.refresh_jwt}"},
                allow_statuses=(400, 401),
            )
            if response.is_success:
                return self._session_from(decode_json(self.name, response))
            logger.info(
                "bluesky: refreshSession refused (%s); logging in again", xrpc_error(response)[0]
            )
        return await self._login()

    async def _search_page(self, params: dict[str, Any]) -> dict[str, Any]:
        session = self._session or await self._login()
        for attempt in range(2):
            response = await fetch(
                self.client,
                self.name,
                f"{self.auth_url}/xrpc/app.bsky.feed.searchPosts",
                clock=self.clock,
                params=params,
                headers={"Authorization": f"Bearer {session.access_jwt}"},
                allow_statuses=(400, 401),
            )
            if response.is_success:
                body = decode_json(self.name, response)
                expect(
                    self.name,
                    isinstance(body, dict) and isinstance(body.get("posts"), list),
                    "searchPosts without posts",
                )
                return cast(dict[str, Any], body)
            name, message = xrpc_error(response)
            if name in _SESSION_ERRORS and attempt == 0:
                session = await self._renew()
                continue
            if response.status_code == 401 or name in _SESSION_ERRORS:
                raise AuthFailed(f"bluesky: search refused the session ({name}); check the login")
            raise SourceUnavailable(f"bluesky: searchPosts failed: {name}: {message}")
        raise AssertionError("unreachable")  # pragma: no cover

    # --- discovery ----------------------------------------------------------------------

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Posts linking the video's URLs, or carrying its phrases or hashtags (needs a login).

        Without a login returns [] and sets `notice`. Raises AuthFailed when the login is
        rejected, RateLimited and SourceUnavailable as usual.
        """
        if not self.can_search:
            if self.notice is None:
                logger.warning("%s", SEARCH_DISABLED)
            self.notice = SEARCH_DISABLED
            return []
        video = await self._with_did_urls(video)
        queries: list[dict[str, Any]] = [{"q": url, "url": url} for url in video.urls]
        queries += [{"q": f'"{phrase}"'} for phrase in video.keywords]
        queries += [{"q": f"#{tag}"} for tag in video.hashtags]
        found: dict[str, PostRef] = {}
        for query in queries:
            params: dict[str, Any] = {**query, "sort": "latest", "limit": SEARCH_LIMIT}
            if video.started_at:
                params["since"] = video.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for post in await sweep(video, query["q"], partial(self._page, params), MAX_PAGES):
                ref = self.from_payload(post, video) if isinstance(post, dict) else None
                if ref is not None:
                    found.setdefault(ref.platform_post_id, ref)
        return list(found.values())

    async def _with_did_urls(self, video: TrackedVideo) -> TrackedVideo:
        """`video` with the DID form beside each bsky.app post URL it tracks by handle: posts
        link either form, and only the DID form is stable. Each handle is resolved once
        (com.atproto.identity.resolveHandle); one that does not resolve is asked again next run."""
        identities = [i for url in video.urls if (i := post_identity(url))]
        for handle in {h for i in identities if (h := bluesky_handle(i))} - set(self._dids):
            try:
                body = await self._appview(
                    "com.atproto.identity.resolveHandle", [("handle", handle)]
                )
            except SourceUnavailable as err:
                logger.info("bluesky: handle %s not resolved: %s", handle, err)
                continue
            if isinstance(body.get("did"), str) and body["did"].startswith("did:"):
                self._dids[handle] = body["did"]
        extra = [
            resolved.url
            for i in identities
            if bluesky_handle(i) and (resolved := with_bluesky_did(i, self._dids.get))
        ]
        return replace(video, urls=(*video.urls, *extra)) if extra else video

    async def _page(self, params: dict[str, Any], cursor: str | None) -> Page[Any]:
        """One page of searchPosts (sort=latest), newest first; the cursor is Bluesky's."""
        body = await self._search_page({**params, "cursor": cursor} if cursor else params)
        posts = body["posts"]
        times = [
            parse_timestamp(as_object(as_object(p).get("record")).get("createdAt")) for p in posts
        ]
        following = body.get("cursor")
        return Page(posts, times, str(following) if following and posts else None)

    # --- refresh ------------------------------------------------------------------------

    async def _appview(self, method: str, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        base = self._method_urls.get(method)
        if base is None:
            base = self._method_urls[method] = httpx.URL(f"{self.base_url}/xrpc/{method}")
        response = await fetch(
            self.client,
            self.name,
            query_url(base, pairs),
            clock=self.clock,
            allow_statuses=(400,),
        )
        if not response.is_success:
            name, message = xrpc_error(response)
            raise SourceUnavailable(f"bluesky: {method} refused the request: {name}: {message}")
        body = decode_json(self.name, response)
        expect(self.name, isinstance(body, dict), f"{method} did not return an object")
        return cast(dict[str, Any], body)

    def begin_pass(self) -> None:
        """A refresh pass starts: a fresh cascade budget for the whole pass."""
        self.cascades.begin_pass()

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Counters 25 posts per getPosts call (`in_flight` at once); vanished posts are misses;
        new quotes and reposts of posts whose counters moved come back as PostRefs. Repost
        edges (no counters) are never queued by storage."""
        answers = await gather_limited(
            (self._get_posts(batch) for batch in chunks(list(posts), GET_POSTS_BATCH)),
            self.in_flight,
        )
        items: list[RefreshItem] = []
        candidates: list[Candidate | None] = []
        for batch_items, seen in answers:
            items += batch_items
            candidates += [
                self.cascades.candidate(uri, which, as_count(post.get(counter)))
                for uri, post in seen.items()
                for which, counter in _CASCADE_COUNTERS.items()
            ]
        chosen = self.cascades.choose(candidates)
        for children in await gather_limited(map(self._cascade, chosen), self.in_flight):
            items += children
        return items

    async def _get_posts(
        self, batch: Sequence[KnownPost]
    ) -> tuple[list[RefreshItem], dict[str, dict[str, Any]]]:
        """Observations and misses of one getPosts call, and the posts it returned by URI."""
        body = await self._appview(
            "app.bsky.feed.getPosts", [("uris", p.platform_post_id) for p in batch]
        )
        expect(self.name, isinstance(body.get("posts"), list), "getPosts without posts")
        now = self.clock()
        items: list[RefreshItem] = []
        seen: dict[str, dict[str, Any]] = {}
        for post in body["posts"]:
            if isinstance(post, dict) and post.get("uri"):
                seen[str(post["uri"])] = post
                items.append(self.observation_from_payload(post, now))
        ids = [p.platform_post_id for p in batch]
        items += missing_from_answer(self.name, ids, set(seen), now, "getPosts")
        return items, seen

    async def _cascade(self, lookup: Candidate) -> list[RefreshItem]:
        """The quotes (or reposts) of a post whose counter moved since its last lookup."""
        uri = lookup.post_id
        children: list[RefreshItem] = []
        pairs = [("uri", uri), ("limit", str(CASCADE_LIMIT))]
        if lookup.which == "quotes":
            body = await self._appview("app.bsky.feed.getQuotes", pairs)
            for quote in body.get("posts") or []:
                ref = self.from_payload(quote) if isinstance(quote, dict) else None
                if ref is not None:
                    children.append(
                        replace(
                            ref,
                            matched_by="cascade",
                            parent_platform=self.name,
                            parent_platform_post_id=uri,
                            relation="quote",
                        )
                    )
        else:
            body = await self._appview("app.bsky.feed.getRepostedBy", pairs)
            for profile in body.get("repostedBy") or []:
                ref = self.repost_ref(uri, profile) if isinstance(profile, dict) else None
                if ref is not None:
                    children.append(ref)
        self.cascades.looked_up(lookup)
        return children
