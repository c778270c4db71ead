"""The collector seam: records, the Collector protocol, the Sink protocol and the error tree.

Collectors never import storage or dashboard code. They return records; the runner hands them
to a `Sink` (implemented by `storage/write.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from functools import wraps
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, Literal, ParamSpec, Protocol, TypeVar

if TYPE_CHECKING:
    # Only for the protocol's annotation: storage imports these records and needs no settings.
    from config.settings import CollectorSettings

from collectors.identity import (
    canonical_url,
    post_identity,
    strip_tracking,
    with_bluesky_did,
    with_scheme,
)
from config.redact import mask_url

P = ParamSpec("P")
R = TypeVar("R")

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware UTC. Injected everywhere time matters."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class QueryMark:
    """How far discovery has read one query's results, newest first (collectors/sweep.py)."""

    floor: datetime | None = None
    """Every result published at or before this has been read: a pass reached it."""
    top: datetime | None = None
    """The newest result of a pass that stopped at its page cap (the floor once it is done)."""
    resume: str | None = None
    """The collector's cursor where that unfinished pass continues; None: from the newest."""


@dataclass(frozen=True, slots=True)
class TrackedVideo:
    """One piece of footage being followed, as collectors see it."""

    slug: str
    title: str
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    started_at: datetime | None = None
    marks: dict[str, QueryMark] | None = field(default=None, compare=False)
    """One collector's discovery marks per query, set by the runner (None: read back to the
    start each pass). Collectors update them in place; the runner stores them."""


Relation = Literal["reshare", "crosspost", "quote", "forward", "reply", "link"]


@dataclass(frozen=True, slots=True)
class PostRef:
    """A post on one platform that carries a tracked video. Same post -> same key, always."""

    platform: str
    platform_post_id: str
    url: str | None = None
    author: str | None = None
    text: str | None = None
    published_at: datetime | None = None
    matched_by: str = ""
    """How it matched: "url:<url>", "hashtag:<tag>", "keyword:<phrase>", "cascade", "manual"."""
    parent_platform: str | None = None
    parent_platform_post_id: str | None = None
    relation: Relation | None = None
    """How this post relates to its parent (reshare, crosspost, quote, forward, …)."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    """Platform-specific state a collector needs for refresh (e.g. the Mastodon instance)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.platform_post_id)


# The counters a post can carry, in the order every table, chart and CSV shows them. The one
# list: `Observation`'s fields, the storage columns and the dashboard's metrics follow it.
COUNTERS: tuple[str, ...] = ("views", "likes", "shares", "comments", "quotes")


@dataclass(frozen=True, slots=True)
class Observation:
    """Counters of one post at one moment. None = the platform does not expose it (never 0)."""

    platform: str
    platform_post_id: str
    observed_at: datetime
    views: int | None = None
    likes: int | None = None
    shares: int | None = None
    comments: int | None = None
    quotes: int | None = None


@dataclass(frozen=True, slots=True)
class Gone:
    """A post found deleted or made private during refresh: mark it and stop refreshing it."""

    platform: str
    platform_post_id: str
    detected_at: datetime
    reason: str = "deleted or private"


@dataclass(frozen=True, slots=True)
class PostError:
    """A post that could not be read this time (not gone): kept listed with the message."""

    platform: str
    platform_post_id: str
    detected_at: datetime
    message: str
    is_miss: bool = False
    """The post was only absent from a batch answer, with no evidence that it is gone; storage
    counts consecutive misses and marks it gone after the configured number (issue 8)."""


def missing_from_answer(
    platform: str,
    requested: Sequence[str],
    answered: set[str],
    now: datetime,
    where: str,
) -> list[PostError]:
    """Misses (not Gone) for the requested post ids an answer left out (`where` names it)."""
    absent = [post_id for post_id in requested if post_id not in answered]
    return [
        PostError(platform, post_id, now, f"not in the {where} answer", is_miss=True)
        for post_id in absent
    ]


RefreshItem = Observation | Gone | PostRef | PostError
"""What refresh returns: counters, posts that vanished, posts that could not be read, and newly
seen cascade children."""


@dataclass(frozen=True, slots=True)
class KnownPost:
    """A stored post handed back to `refresh`."""

    platform: str
    platform_post_id: str
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Quota:
    """A limit the platform documents: at most `requests` of `what` per `per`."""

    requests: int
    per: timedelta
    what: str
    path: str = ""
    """A regular expression searched in each request's URL path: the requests it limits (empty:
    every request of the collector)."""
    cost: int = 1
    """Units one such request spends (e.g. TikTok's records: up to 100 per query)."""
    reset_timezone: str = "UTC"
    """Where a daily window starts at midnight (YouTube: America/Los_Angeles)."""
    refresh: bool = True
    """Whether refreshing counters spends it (False: discovery searches only)."""
    in_flight: int | None = None
    """Requests this limit lets a collector keep in flight at once (None: one at a time).

    A collector starts with the smallest of its quotas' values (`allowed_in_flight`); a
    budget planner may lower its `in_flight` attribute, never raise it past the declaration."""


def allowed_in_flight(quotas: Sequence[Quota]) -> int:
    """Concurrent requests the declared quotas allow: the smallest declared, at least 1."""
    declared = [q.in_flight for q in quotas if q.in_flight is not None]
    return max(1, min(declared)) if declared else 1


def seconds_allowed(
    quotas: Sequence[Quota], requests: int, latency_seconds: float, in_flight: int
) -> float:
    """The shortest time `requests` can take within `quotas`: each rate window's requests at
    once, the rest when windows reset, and never faster than `in_flight` at a time allow."""
    by_latency = -(-requests // max(1, in_flight)) * latency_seconds
    by_rate = max(
        ((requests - 1) // q.requests * q.per.total_seconds() for q in quotas), default=0.0
    )
    return max(by_latency, by_rate)


@dataclass(frozen=True, slots=True)
class CollectorSpec:
    """What the rest of the house knows of a collector, declared once on its class as `spec`:
    settings, scheduler, budgets and dashboard read it from the registry instead of keeping
    their own lists. The defaults are the common cadence; a collector states what differs."""

    label: str
    """How pages and chart legends name it."""
    colour: str
    """Its "#RRGGBB" colour in charts, from the dashboard palette (docs/PALETTE.md): colours of
    Paul Tol's schemes and Okabe-Ito's, each pair apart for every colour vision and readable
    on the dark background (tests/dashboard/test_palette.py)."""
    settings_model: type[CollectorSettings]
    """Its `[collectors.<name>]` section: the pydantic model, defined next to the collector."""
    counters: tuple[str, ...] = ()
    """Which of COUNTERS it reads; empty when it has nothing to refresh (news feeds)."""
    platform: str = ""
    """The platform its posts are stored under when not its own name (youtube_rss -> youtube)."""
    default_interval: timedelta = timedelta(minutes=15)
    """How often discovery runs unless `interval_seconds` says otherwise."""
    default_refresh_interval: timedelta = timedelta(minutes=10)
    """How often counters are re-read unless `refresh_interval_seconds` says otherwise."""
    quotas: tuple[Quota, ...] = ()
    """The platform's documented limits (empty: none published)."""
    batch_size: int | None = None
    """Posts one refresh request reads (None: a request reads a whole feed or page)."""


# A protocol rather than a base class: collectors share no code through inheritance, and the
# registry checks at import that a class declares every member below.
class Collector(Protocol):
    """One platform. Constructed by the composition root with everything it needs."""

    name: ClassVar[str]
    """Registry key, config section, `collector_runs.collector` value."""
    spec: ClassVar[CollectorSpec]
    """Everything else the house needs to know of it (see CollectorSpec)."""
    notice: str | None
    """A reduced mode to show with ok runs ("search disabled: no login"), else None."""

    async def discover(self, video: TrackedVideo) -> list[PostRef]:
        """Find posts that carry `video`. Idempotent. Raises only CollectorError subclasses."""
        ...

    async def refresh(self, posts: Sequence[KnownPost]) -> list[RefreshItem]:
        """Current counters for `posts`: one Observation (or Gone) each. Raises CollectorError."""
        ...

    def begin_pass(self) -> None:
        """A refresh pass starts; the runner calls it before the pass's first `refresh`.
        Collectors with a per-pass budget (cascade lookups) start it afresh here."""
        ...


class PassHooks:
    """The protocol's hooks with a default: collectors inherit it and override what they use
    (the registry refuses a class without them, so the runner calls them directly)."""

    def begin_pass(self) -> None:
        """Nothing to reset: the collector keeps no per-pass budget."""


@dataclass(slots=True)
class RunReport:
    """What one collector run did, handed to the sink."""

    collector: str
    kind: Literal["discover", "refresh"]
    started_at: datetime
    finished_at: datetime | None = None
    status: Literal["ok", "failed", "rate_limited", "auth_failed", "disabled"] = "ok"
    requests: int = 0
    posts_found: int = 0
    observations_written: int = 0
    error_message: str | None = None
    retry_at: datetime | None = None
    video_slug: str | None = None


class Sink(Protocol):
    """Where collected records go (storage/write.py implements it)."""

    def record_posts(self, video_slug: str | None, posts: Sequence[PostRef]) -> int:
        """Upsert posts; returns how many were new."""
        ...

    def record_observations(self, observations: Sequence[Observation]) -> int:
        """Insert observations idempotently; returns how many rows were written."""
        ...

    def mark_gone(self, gone: Sequence[Gone]) -> int:
        """Mark posts gone; returns how many changed."""
        ...

    def record_errors(self, errors: Sequence[PostError]) -> int:
        """Remember why posts could not be read; returns how many were updated."""
        ...

    def record_run(self, report: RunReport) -> None:
        """Store one collector run."""
        ...

    def claim_refresh(
        self, platform: str, limit: int, ahead: timedelta = timedelta(0)
    ) -> list[KnownPost]:
        """Take up to `limit` of `platform`'s posts due within `ahead` (most-moving first) for
        this process; posts another process holds are left to it."""
        ...

    def release_refresh(self, posts: Sequence[KnownPost]) -> None:
        """Give back claimed posts that were not read: they stay due."""
        ...

    def discovery_marks(self, video_slug: str, collector: str) -> dict[str, QueryMark]:
        """The stored marks of `collector`'s queries for one video (empty: none yet)."""
        ...

    def save_discovery_marks(
        self, video_slug: str, collector: str, marks: dict[str, QueryMark]
    ) -> None:
        """Store the marks after the posts they cover are stored."""
        ...


def manual_post(
    url: str,
    platforms: Collection[str] | None = None,
    lemmy_hosts: Collection[str] = (),
    resolve_handle: Callable[[str], str | None] | None = None,
) -> PostRef:
    """The post a hand-added URL stands for (matched_by "manual").

    A post of a collected platform (`platforms`; None: every platform we know) becomes that
    platform's own post, keyed as its collector keys it, so the collector refreshes it and
    finds no second copy. Any other URL is a `urls` post read by yt-dlp, keyed by its
    canonical form (tracking parameters never make a second post) and fetched without
    tracking parameters.
    """
    identity = post_identity(url, lemmy_hosts)
    if identity and identity.platform == "bluesky":
        # A handle-form Bluesky URL is keyed by the handle's DID: getPosts answers under the
        # DID, so a handle key would read as deleted and count the post twice. A handle that
        # cannot be resolved leaves the URL to yt-dlp.
        identity = with_bluesky_did(identity, resolve_handle)
    if identity is not None and (platforms is None or identity.platform in platforms):
        return PostRef(
            platform=identity.platform,
            platform_post_id=identity.platform_post_id,
            url=identity.url,
            matched_by="manual",
            extra=dict(identity.extra),
        )
    return PostRef(
        platform="urls",
        platform_post_id=canonical_url(url),
        url=strip_tracking(with_scheme(url)),
        matched_by="manual",
    )


# --- the error tree -----------------------------------------------------------------------


class CollectorError(Exception):
    """Base of everything a collector may raise."""


class SourceUnavailable(CollectorError):
    """Timeout, connection error, 5xx or a malformed body: try again next interval."""


class RateLimited(CollectorError):
    """429 or quota used up; defer the next run by `retry_after_seconds`."""

    def __init__(self, message: str, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class AuthFailed(CollectorError):
    """Credentials rejected: pause this collector and tell the operator."""


class MalformedPayload(SourceUnavailable):
    """One item of an answer lacks the shape its parser relies on (schema drift, junk).

    The runner narrows a failed refresh batch down to the post whose item it is (issue 8: a
    problem with one post is that post's error, never the batch's).
    """


# What a parser raises on a shape it did not expect: a missing key, a list where an object was,
# a number too large, a text where a number was.
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)


def parses_payload(parse: Callable[P, R]) -> Callable[P, R]:
    """Decorate a pure payload parser (`from_payload`…): shape errors become MalformedPayload,
    and so does a PostRef whose key is no text (a post id of `true` or `{}`).

    Under `@classmethod`, so the first argument is the collector class and names the platform.
    """

    @wraps(parse)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        owner = getattr(args[0], "name", parse.__module__) if args else parse.__module__
        try:
            result = parse(*args, **kwargs)
        except _SHAPE_ERRORS as err:
            detail = " ".join(f"{type(err).__name__}: {err}".split())[:120]
            raise MalformedPayload(f"{owner}: malformed item in the answer ({detail})") from err
        if isinstance(result, PostRef) and not (
            isinstance(result.platform_post_id, str) and result.platform_post_id
        ):
            raise MalformedPayload(f"{owner}: an item in the answer has no usable id")
        return result

    return checked


class SinkUnavailable(Exception):
    """Raised by a Sink when its database cannot be reached right now (issue 13). The sink keeps
    what it could not write and logs the outage once; the runner records the run as failed and
    stays quiet, so an outage is two log lines, not one per collector and run."""


# --- helpers shared by collectors ---------------------------------------------------------


def redact(text: str) -> str:
    """Mask credentials that may sit in a URL (user-info or query string) within `text`."""
    return mask_url(text)


def parse_retry_after(value: str | None, now: datetime, default: float = 60.0) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return default
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)  # may be huge: callers cap it (collectors.http.capped_wait)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def parse_timestamp(value: Any) -> datetime | None:
    """A platform timestamp (ISO 8601 string or UNIX seconds) as aware UTC, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, ValueError, OSError):  # out of datetime's range, or NaN
            return None
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def as_object(value: object) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (absent or malformed nested fields)."""
    return value if isinstance(value, dict) else {}


COUNTER_LIMIT = 2**63
"""The first counter storage cannot hold (a signed 64-bit integer). `as_count` returns it for
anything larger (`2**64`, `1e400`, `inf`), so the runner reports that post's error."""


def as_count(value: Any) -> int | None:
    """A counter as int (platforms send ints, floats or strings); None when absent or invalid,
    at most COUNTER_LIMIT. Never raises, whatever a payload holds."""
    if type(value) is int and 0 <= value < COUNTER_LIMIT:
        return value  # what platforms send nearly always: checked first (issue 14)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float | str | Decimal):
        try:
            exact = Decimal(value.strip() if isinstance(value, str) else value)
        except (InvalidOperation, ValueError):
            return None
        if exact.is_nan():
            return None
        # Checked before int(): int(Decimal("1e999999999")) would build a billion-digit number.
        number = COUNTER_LIMIT if exact.is_infinite() or exact.adjusted() >= 19 else int(exact)
        number = number if exact >= 0 else -1
    else:
        return None
    return min(number, COUNTER_LIMIT) if number >= 0 else None


# "und" (undetermined), "zxx" (no linguistic content), "mul" and "mis" name no one language.
_NOT_A_LANGUAGE = frozenset({"und", "zxx", "mul", "mis"})
_PRIMARY_SUBTAG = re.compile(r"[a-z]{2,3}")


def language_code(value: Any) -> str | None:
    """The lower-case BCP 47 primary subtag of a language tag ("pt-BR" -> "pt", "UK" -> "uk");
    None when absent, not a 2-3 letter language, or a code that names no language ("und").
    Never raises, whatever a payload holds."""
    if not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").split("-", 1)[0].lower()
    if not _PRIMARY_SUBTAG.fullmatch(primary) or primary in _NOT_A_LANGUAGE:
        return None
    return primary


def without_none(**fields: Any) -> dict[str, Any]:
    """A PostRef `extra` holding only the fields a payload actually supplied."""
    return {name: value for name, value in fields.items() if value is not None}


_counter_values = attrgetter(*COUNTERS)


def unstorable_counters(observation: Observation) -> list[str]:
    """Names of the counters of `observation` that storage cannot hold (checked for every
    reading: one C call reads the counters, issue 14)."""
    values = _counter_values(observation)
    return [
        name for name, value in zip(COUNTERS, values, strict=True) if (value or 0) >= COUNTER_LIMIT
    ]
