"""Which post a URL points to, and the one canonical form two URLs are compared in.

`post_identity(url)` maps a web URL to the `(platform, platform_post_id)` key our collectors
store, for every platform we collect. `canonical_url(url)` is the comparison form: two URLs
are the same link exactly when their canonical forms are equal.

Rules of `canonical_url`, in order:
1. No scheme (`youtu.be/ID`) means https; `http` and `https` are the same link.
2. A URL that is a post of a collected platform becomes that platform's one canonical post URL
   (so `youtu.be/ID?si=…`, `m.youtube.com/watch?v=ID&t=30s`, `youtube.com/shorts/ID` and
   `youtube.com/embed/ID` are all `https://youtube.com/watch?v=ID`; `twitter.com/u/status/N`,
   `mobile.twitter.com/…` and `x.com/…` are all `https://x.com/i/status/N`).
3. Every other URL: host lowercased and stripped of `www.`, `m.` and `mobile.`, default port
   dropped, fragment dropped, tracking parameters removed (`utm_*`, `fbclid`, `gclid`, `si`,
   `feature`, … see `TRACKING_PARAMETERS`), the remaining parameters (`v=`, `id=`, …) kept
   and sorted, percent-encoding normalised (w3lib's `canonicalize_url`), trailing slash dropped.

Rules of `post_identity` (ids exactly as each collector keys its posts):
- youtube: the 11-character video id of watch, shorts, embed, live, `/v/`, `youtu.be`,
  `m.`/`music.` and youtube-nocookie URLs (yt-dlp's `YoutubeIE` URL pattern). Playlist and
  time parameters beside `v=` do not change the video.
- reddit: the base-36 submission id of `…/comments/ID/…` on any reddit.com host (yt-dlp's
  `RedditIE`) and of `redd.it/ID`. Share links (`/r/x/s/…`) need a request and stay unmapped.
- x: the numeric status id on x.com, twitter.com, mobile./m. hosts and the fx/vx mirrors
  (yt-dlp's `TwitterIE`).
- bluesky: the post's at:// URI. `bsky.app/profile/<did>/post/<rkey>` and at:// URIs map
  exactly; a handle in place of the DID gives a handle-based at:// URI (lowercased), which a
  DID-keyed post only equals once the handle is resolved (`with_bluesky_did`, given
  `collectors.bluesky.HandleResolver`: com.atproto.identity.resolveHandle, cached).
- mastodon: the status URI `https://<host>/users/<user>/statuses/<id>` from that form or from
  the web form `https://<host>/@<user>/<id>`; remote accounts seen through another server
  (`/@user@other/<id>`) carry a server-local id and stay unmapped.
- telegram: `<channel>/<number>` from `t.me/<channel>/<n>`, `t.me/s/<channel>/<n>` and
  telegram.me; private `t.me/c/…` links stay unmapped.
- dailymotion: the video id of `dailymotion.com/video/ID`, embeds, players and `dai.ly/ID`
  (yt-dlp's `DailymotionIE`).
- tiktok: the numeric video id of `tiktok.com/@user/video/ID`, `/embed/…` and
  `m.tiktok.com/v/ID.html`. `vm.tiktok.com` short links need a request and stay unmapped.
- hackernews: the item id of `news.ycombinator.com/item?id=N`.
- lemmy: the post's ap_id `https://<host>/post/<id>` when `<host>` is a Lemmy server we know
  (configured instances, or a host named lemmy.*); `/post/<n>` is too common a path otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "igsh", "mc_cid", "mc_eid", "_ga", "si", "feature", "ref_src", "ref_url",
        "share_id", "spm", "mibextid",
    }
)  # fmt: skip
"""Parameters that say who shared a link or how, never which page it is (plus `utm_*`)."""

_HOST_PREFIXES = ("www.", "m.", "mobile.")
_X_MIRRORS = {"fxtwitter.com", "vxtwitter.com", "fixupx.com", "fixvx.com", "twittpr.com"}
_CASELESS_PATH_HOSTS = {"t.me"}  # channel usernames ignore case
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


@dataclass(frozen=True, slots=True)
class PostIdentity:
    """The stored key of the post a URL points to, its web URL and what refresh needs."""

    platform: str
    platform_post_id: str
    url: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.platform_post_id)


def with_scheme(url: str) -> str:
    """`url` stripped, with https:// in front when it names no scheme."""
    url = url.strip()
    if url.startswith("//"):
        return "https:" + url
    return url if _SCHEME.match(url) else "https://" + url


def bare_host(host: str) -> str:
    """Lowercased host without www./m./mobile. (as many as are stacked)."""
    host = host.lower().rstrip(".")
    while host.startswith(_HOST_PREFIXES) and host.count(".") > 1:
        host = host.split(".", 1)[1]
    return host


def strip_tracking(url: str) -> str:
    """`url` without tracking parameters; every other parameter kept in its order."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name.lower() not in TRACKING_PARAMETERS and not name.lower().startswith("utm_")
    ]
    return urlunsplit(parts._replace(query=urlencode(kept)))


@lru_cache(maxsize=8192)  # the same links recur across posts and passes
def canonical_url(url: str) -> str:
    """The form two URLs are compared in (see the module docstring for the rules)."""
    identity = post_identity(url)
    if identity is None:
        return _generic_form(url)
    shape = _CANONICAL_POST_URL.get(identity.platform)
    return _generic_form(shape.format(identity.platform_post_id) if shape else identity.url)


# The display URL names the account; the canonical one must not (any name reaches the post).
_CANONICAL_POST_URL = {
    "x": "https://x.com/i/status/{}",
    "tiktok": "https://tiktok.com/@_/video/{}",
    "telegram": "https://t.me/{}",
}


def _generic_form(url: str) -> str:
    url = with_scheme(url)
    if not url.lower().startswith(("http://", "https://")):
        return url
    try:
        parts = urlsplit(canonicalize_url(strip_tracking(url)))
        port = parts.port
    except ValueError:
        return url
    host = bare_host(parts.hostname or "")
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    if host in _CASELESS_PATH_HOSTS:
        path = path.lower()
    return urlunsplit(("https", netloc, path, parts.query, ""))


def same_link(a: str, b: str) -> bool:
    """Whether two URLs point to the same page or the same platform post."""
    return canonical_url(a) == canonical_url(b)


# --- URL -> post ------------------------------------------------------------------------


def post_identity(url: str, lemmy_hosts: Collection[str] = ()) -> PostIdentity | None:
    """The collected platform post `url` points to, or None (another site, or not a post)."""
    url = with_scheme(url)
    if url.startswith("at://"):
        return _bluesky_at_uri(url)
    try:
        parts = urlsplit(url)
        host = bare_host(parts.hostname or "")
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    for parse in _PARSERS:
        found = parse(host, parts.path, parts.query, url)
        if found is not None:
            return found
    return _lemmy(host, parts.path, lemmy_hosts)


def _youtube(host: str, path: str, query: str, url: str) -> PostIdentity | None:
    if host not in ("youtu.be", "youtube.com", "youtube-nocookie.com") and not host.endswith(
        ".youtube.com"
    ):
        return None
    # Only v= names the video; list=, t=, si=, pp= … would steer yt-dlp to other extractors.
    video = [(k, v) for k, v in parse_qsl(query) if k == "v"]
    found = _extractors()["youtube"]._match_valid_url(
        urlunsplit(("https", "www.youtube.com" if host == "youtube.com" else host, path, "", ""))
        + (("?" + urlencode(video[:1])) if video else "")
    )
    if found is None or not found.group("id"):
        return None
    video_id = found.group("id")
    return PostIdentity("youtube", video_id, f"https://www.youtube.com/watch?v={video_id}")


def _reddit(host: str, path: str, query: str, url: str) -> PostIdentity | None:
    if host == "redd.it":
        found = re.fullmatch(r"/([a-z0-9]+)/?", path, re.I)
        post_id = found.group(1).lower() if found else None
    elif host == "reddit.com" or host.endswith(".reddit.com"):
        matched = _extractors()["reddit"]._match_valid_url(f"https://www.reddit.com{path}")
        post_id = matched.group("id").lower() if matched else None
    else:
        return None
    if not post_id:
        return None
    return PostIdentity("reddit", post_id, f"https://www.reddit.com/comments/{post_id}/")


def _x(host: str, path: str, query: str, url: str) -> PostIdentity | None:
    if host not in ("x.com", "twitter.com", *_X_MIRRORS):
        return None
    found = _extractors()["x"]._match_valid_url(f"https://x.com{path}")
    if found is None:
        return None
    status_id = found.group("id")
    user = path.strip("/").split("/", 1)[0]
    shown = user if user not in ("i", "statuses") else "i/web"
    return PostIdentity("x", status_id, f"https://x.com/{shown}/status/{status_id}")


def _bluesky(host: str, path: str, query: str, url: str) -> PostIdentity | None:
    if host not in ("bsky.app", "main.bsky.dev"):
        return None
    found = _extractors()["bluesky"]._match_valid_url(f"https://bsky.app{path}")
    if found is None:
        return None
    return _bluesky_post(found.group("handle"), found.group("id"))


def _bluesky_at_uri(uri: str) -> PostIdentity | None:
    found = re.fullmatch(r"at://([\w.:%-]+)/app\.bsky\.feed\.post/(\w+)", uri.strip())
    return _bluesky_post(found.group(1), found.group(2)) if found else None


def _bluesky_post(actor: str, rkey: str) -> PostIdentity:
    # DIDs are case-sensitive; handles are DNS names, so case never matters in them.
    actor = actor if actor.startswith("did:") else actor.lower()
    return PostIdentity(
        "bluesky",
        f"at://{actor}/app.bsky.feed.post/{rkey}",
        f"https://bsky.app/profile/{actor}/post/{rkey}",
    )


def with_bluesky_did(
    identity: PostIdentity, resolve_handle: Callable[[str], str | None] | None
) -> PostIdentity | None:
    """A Bluesky post keyed by its DID, as the collector stores it: `identity` itself when it
    names a DID, the handle resolved through `resolve_handle` otherwise; None when the handle
    cannot be resolved (or there is no resolver)."""
    handle = bluesky_handle(identity)
    if handle is None:
        return identity
    rkey = identity.platform_post_id.rsplit("/", 1)[1]
    did = resolve_handle(handle) if resolve_handle is not None else None
    return _bluesky_post(did, rkey) if did and did.startswith("did:") else None


def bluesky_handle(identity: PostIdentity) -> str | None:
    """The handle a Bluesky post identity names in place of a DID, or None."""
    if identity.platform != "bluesky":
        return None
    actor = identity.platform_post_id.removeprefix("at://").split("/", 1)[0]
    return None if actor.startswith("did:") else actor


def _mastodon(host: str, path: str, query: str, url: str) -> PostIdentity | None:
    found = re.fullmatch(r"/@(\w+)/(\d+)/?", path) or re.fullmatch(
        r"/users/(\w+)/statuses/(\d+)/?", path
    )
    if found is None:
        return None
    user, status_id = found.groups()
    return PostIdentity(
        "mastodon",
        f"https://{host}/users/{user}/statuses/{status_id}",
        f"https://{host}/@{user}/{status_id}",
        {"instance": f"https://{host}", "id": status_id},
    )


def _telegram(host: str, path: str, query: str, url: str) -> PostIdentity | None:
    if host not in ("t.me", "telegram.me", "telegram.dog"):
        return None
    found = re.fullmatch(r"/(?:s/)?([A-Za-z]\w{3,})/(\d+)/?", path)
    if found is None or found.group(1).lower() == "c":
        return None
    channel, number = found.group(1), str(int(found.group(2)))
    return PostIdentity(
        "telegram", f"{channel}/{number}", f"https://t.me/{channel}/{number}", {"channel": channel}
    )


def _dailymotion(host: str, path: str, query: str, url: str) -> PostIdentity | None:
    if host not in ("dai.ly", "dailymotion.com") and not host.endswith(".dailymotion.com"):
        return None
    shown = host if host in ("dai.ly", "geo.dailymotion.com") else "www.dailymotion.com"
    found = _extractors()["dailymotion"]._match_valid_url(
        urlunsplit(("https", shown, path, query, ""))
    )
    if found is None or found.group("is_playlist"):
        return None
    video_id = found.group("id")
    return PostIdentity("dailymotion", video_id, f"https://www.dailymotion.com/video/{video_id}")


def _tiktok(host: str, path: str, query: str, url: str) -> PostIdentity | None:
    if host != "tiktok.com":
        return None
    found = re.fullmatch(
        r"/(?:@[\w.-]*/video|embed(?:/v2)?|v|share/video)/(\d+)(?:\.html)?/?", path
    )
    if found is None:
        return None
    video_id = found.group(1)
    user = path.split("/")[1] if path.startswith("/@") else "@_"
    return PostIdentity("tiktok", video_id, f"https://www.tiktok.com/{user}/video/{video_id}")


def _hackernews(host: str, path: str, query: str, url: str) -> PostIdentity | None:
    if host != "news.ycombinator.com" or path.rstrip("/") != "/item":
        return None
    item = dict(parse_qsl(query)).get("id", "")
    if not item.isdigit():
        return None
    return PostIdentity("hackernews", item, f"https://news.ycombinator.com/item?id={item}")


def _lemmy(host: str, path: str, lemmy_hosts: Collection[str]) -> PostIdentity | None:
    known = {bare_host(urlsplit(with_scheme(h)).hostname or "") for h in lemmy_hosts}
    if host not in known and not host.startswith("lemmy."):
        return None
    found = re.fullmatch(r"/post/(\d+)/?", path)
    if found is None:
        return None
    ap_id = f"https://{host}/post/{found.group(1)}"
    return PostIdentity(
        "lemmy", ap_id, ap_id, {"instance": f"https://{host}", "id": found.group(1)}
    )


_PARSERS: tuple[Callable[[str, str, str, str], PostIdentity | None], ...] = (
    _youtube,
    _reddit,
    _x,
    _bluesky,
    _telegram,
    _dailymotion,
    _tiktok,
    _hackernews,
    _mastodon,
)


@cache
def _extractors() -> dict[str, Any]:
    """yt-dlp's extractor classes whose URL patterns we reuse (imported on first use: slow)."""
    from yt_dlp.extractor.bluesky import BlueskyIE
    from yt_dlp.extractor.dailymotion import DailymotionIE
    from yt_dlp.extractor.reddit import RedditIE
    from yt_dlp.extractor.twitter import TwitterIE
    from yt_dlp.extractor.youtube import YoutubeIE

    return {
        "youtube": YoutubeIE,
        "reddit": RedditIE,
        "x": TwitterIE,
        "bluesky": BlueskyIE,
        "dailymotion": DailymotionIE,
    }


# --- URLs inside text ---------------------------------------------------------------------

_URL_IN_TEXT = re.compile(
    r"(?:https?://|\bwww\.)[^\s<>\"'`]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|be|it|me|app|ly|org|net|social|world)/[^\s<>\"'`]+",
    re.I,
)
_TRAILING = ".,;:!?)]}»”’'\""


def urls_in_text(text: str) -> list[str]:
    """The URLs written out in `text` (with or without scheme), trailing punctuation removed."""
    found = []
    for match in _URL_IN_TEXT.finditer(text or ""):
        url = match.group(0).rstrip(_TRAILING)
        if "(" not in url:
            url = url.rstrip(")")
        if url:
            found.append(url)
    return found
