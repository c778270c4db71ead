"""HTTP plumbing every collector shares: one request helper that translates failures.

All platform I/O goes through `fetch`, so httpx errors and bad statuses become the collector
error tree in one place, rate-limit headers are honoured uniformly, and secrets in query strings
never reach a message.

Every request is bounded (issue 13): an overall deadline covers connecting, headers and the
whole body (a body drip-fed one byte at a time ends), and the decoded body is capped while it
is decompressed, so a gzip bomb stops at the cap instead of filling memory. Transient failures
(network errors, read timeouts, 5xx) are retried with exponential backoff and jitter (tenacity)
before they reach the runner. The limits travel with the client (`use_policy`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import zlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import quote_plus
from weakref import WeakKeyDictionary

import httpx
import orjson
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from collectors.aiohttp_transport import AiohttpTransport
from collectors.base import (
    COUNTER_LIMIT,
    AuthFailed,
    Clock,
    KnownPost,
    PostError,
    RateLimited,
    RefreshItem,
    SourceUnavailable,
    parse_retry_after,
    parse_timestamp,
    redact,
)

T = TypeVar("T")

logger = logging.getLogger("viralwatch.http")

# Header spellings seen in the wild (Reddit, Mastodon, Bluesky, X): remaining / reset.
_REMAINING_HEADERS = ("x-ratelimit-remaining", "ratelimit-remaining", "x-rate-limit-remaining")
_RESET_HEADERS = ("x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset")
# Query parameters that carry a credential (YouTube's key, OAuth tokens).
_CREDENTIAL_PARAMS = ("key", "api_key", "access_token", "token", "client_secret", "password")


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """Limits and retries of every request made through one client."""

    deadline_seconds: float = 60.0
    """Whole request: connect, headers and the last byte of the body."""
    max_body_bytes: int = 20 * 1024 * 1024
    """Decoded (decompressed) body; larger answers are refused, never buffered."""
    max_wait_seconds: float = 3600.0
    """The longest Retry-After / rate-limit reset honoured; larger values are capped (logged)."""
    attempts: int = 3
    """Tries of a request that fails transiently (network, read timeout, 5xx)."""
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    """How backoff waits; tests inject one that records instead of sleeping."""


# Bodies above this size are parsed in a worker thread (about 5 ms of parsing on the loop).
LARGE_BODY_BYTES = 256 * 1024
PARSED_JSON = "viralwatch.parsed_json"

# A client nobody configured (tests, scripts) still gets the deadline and the cap, not retries.
BARE_CLIENT_POLICY = RequestPolicy(attempts=1)
_policies: WeakKeyDictionary[httpx.AsyncClient, RequestPolicy] = WeakKeyDictionary()


def use_policy(client: httpx.AsyncClient, policy: RequestPolicy) -> httpx.AsyncClient:
    """Make every `fetch` through `client` follow `policy`; returns the client."""
    _policies[client] = policy
    return client


def policy_of(client: httpx.AsyncClient) -> RequestPolicy:
    return _policies.get(client, BARE_CLIENT_POLICY)


def build_client(
    *,
    timeout_seconds: float,
    user_agent: str,
    max_connections: int = 8,
    policy: RequestPolicy | None = None,
) -> httpx.AsyncClient:
    """The client a collector gets: the httpx API over aiohttp's connections (issue 14: about
    three times httpx's own pool per request, see `collectors.aiohttp_transport`)."""
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds),
        headers={"User-Agent": user_agent},
        transport=AiohttpTransport(max_connections),
        follow_redirects=True,
    )
    if isinstance(getattr(client, "_cookies", None), httpx.Cookies):
        client._cookies = _AnswerCookies()  # the client's store, before any answer
    return use_policy(client, policy or RequestPolicy())


class _AnswerCookies(httpx.Cookies):
    """httpx's cookie store, which wraps every answer for urllib's cookie jar even when it sets
    no cookie (issue 14: about a tenth of a Mastodon pass's event-loop time); those skip it."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class _Transient(SourceUnavailable):
    """A failure worth retrying at once (network, read timeout, 5xx)."""


def reset_seconds(value: str | None, now: datetime, default: float = 60.0) -> float:
    """Seconds until a rate-limit window resets: delta seconds, epoch seconds or ISO time."""
    if not value:
        return default
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        when = parse_timestamp(value)
        return max(0.0, (when - now).total_seconds()) if when else default
    if not math.isfinite(number):
        return default
    if number > 1_000_000_000:  # an epoch timestamp, as Bluesky and X send
        return max(0.0, number - now.timestamp())
    return max(0.0, number)


def capped_wait(platform: str, seconds: float, max_seconds: float) -> float:
    """`seconds`, at most `max_seconds`; a platform asking for longer is logged (issue 13:
    `Retry-After: 999999999` once parked a collector for decades)."""
    if math.isfinite(seconds) and seconds <= max_seconds:
        return max(0.0, seconds)
    logger.warning(
        "%s: asked to wait %s s; waiting %.0f s instead", platform, f"{seconds:.0f}", max_seconds
    )
    return max_seconds


def window_wait(
    platform: str, response: httpx.Response, now: datetime, max_seconds: float
) -> float | None:
    """Seconds until the rate window resets when this answer used its last request, else None.

    The answer itself is good and is used; only the next run waits.
    """
    remaining = _header(response, _REMAINING_HEADERS)
    left = _as_float(remaining) if remaining is not None else None
    if left is None or left > 0:
        return None
    wait = reset_seconds(_header(response, _RESET_HEADERS), now)
    return capped_wait(platform, wait, max_seconds)


def remaining_requests(response: httpx.Response) -> int | None:
    """Requests the platform says are left in its rate window (None: it does not say)."""
    left = _as_float(_header(response, _REMAINING_HEADERS) or "")
    return None if left is None or not math.isfinite(left) else max(0, int(left))


def _header(response: httpx.Response, names: Iterable[str]) -> str | None:
    for name in names:
        if name in response.headers:
            return response.headers[name]
    return None


async def fetch(
    client: httpx.AsyncClient,
    platform: str,
    url: str | httpx.URL,
    *,
    clock: Clock,
    method: str = "GET",
    params: Any = None,
    headers: dict[str, str] | None = None,
    data: Any = None,
    json_body: Any = None,
    allow_statuses: Sequence[int] = (),
    authenticated: bool | None = None,
) -> httpx.Response:
    """One request; returns a 2xx response (or one whose status is in `allow_statuses`).

    Raises SourceUnavailable (network, timeout, deadline, oversized body, 5xx, unexpected
    status, and 401/403 to a request that carried no credentials: a CDN or bot wall),
    RateLimited (429) and AuthFailed (401/403 to a request with credentials). `authenticated`
    overrides the guess made from the Authorization header and credential query parameters.
    A 2xx whose rate-limit window is used up is returned: the runner defers the next run.
    """
    policy = policy_of(client)

    async def attempt() -> httpx.Response:
        request = client.build_request(
            method, url, params=params, headers=headers, data=data, json=json_body
        )
        # Only encodings we can inflate within the byte cap.
        request.headers["Accept-Encoding"] = "gzip, deflate"
        response = await _send(client, platform, request, policy)
        return _judge(platform, response, clock(), allow_statuses, authenticated, policy)

    try:
        return await attempt()
    except _Transient as err:
        if policy.attempts <= 1:
            raise
        first_failure: list[_Transient] = [err]

    async def again() -> httpx.Response:
        # Retries go through tenacity only once a try failed (building it for every request
        # was about 120 µs, issue 14); the first failure is replayed as its first attempt.
        if first_failure:
            raise first_failure.pop()
        return await attempt()

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait_exponential_jitter(
            initial=policy.backoff_initial_seconds, max=policy.backoff_max_seconds
        ),
        retry=retry_if_exception_type(_Transient),
        sleep=policy.sleep,
        reraise=True,
    )
    return await retrying(again)


async def _send(
    client: httpx.AsyncClient, platform: str, request: httpx.Request, policy: RequestPolicy
) -> httpx.Response:
    """Send `request` and read its decoded body within the deadline and the byte cap."""
    try:
        async with asyncio.timeout(policy.deadline_seconds):
            streamed = await client.send(request, stream=True)
            try:
                body = await _read_capped(streamed, platform, policy.max_body_bytes)
            finally:
                await streamed.aclose()
    except TimeoutError as err:
        raise SourceUnavailable(
            f"{platform}: no complete answer within {policy.deadline_seconds:.0f}s "
            f"from {_shown(request)}"
        ) from err
    except httpx.TimeoutException as err:
        raise _Transient(f"{platform}: request timed out ({_shown(request)})") from err
    except httpx.TooManyRedirects as err:
        raise SourceUnavailable(f"{platform}: too many redirects from {_shown(request)}") from err
    except httpx.HTTPError as err:
        shown = _shown(request)
        raise _Transient(f"{platform}: cannot reach {shown} ({type(err).__name__})") from err
    # The body is already decoded: drop the headers that would make httpx decode it again.
    kept = [
        (name, value)
        for name, value in streamed.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    extensions: dict[str, Any] = {}
    if len(body) > LARGE_BODY_BYTES and "json" in streamed.headers.get("content-type", ""):
        # Parsed in a worker thread now, so decode_json never stalls the event loop on it.
        extensions[PARSED_JSON] = await asyncio.to_thread(_parse_json, body)
    return httpx.Response(
        streamed.status_code,
        headers=kept,
        content=body,
        request=streamed.request,
        extensions=extensions,
    )


def _shown(request: httpx.Request) -> str:
    """The request's URL as an error message may show it: credentials masked (only on errors:
    masking every URL was 64 µs a request, issue 14)."""
    return redact(str(request.url))


async def _read_capped(response: httpx.Response, platform: str, max_bytes: int) -> bytes:
    """The decoded body, inflating at most `max_bytes + 1` bytes, whatever the ratio."""
    too_big = SourceUnavailable(
        f"{platform}: answer larger than {max_bytes} bytes from "
        f"{redact(str(response.request.url))}; skipped"
    )
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if declared.isdigit() and encoding == "identity" and int(declared) > max_bytes:
        raise too_big
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater: Any = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header
    elif encoding == "identity":
        inflater = None
    else:
        raise SourceUnavailable(f"{platform}: answer in an unrequested encoding {encoding!r}")
    body = bytearray()
    try:
        async for raw in response.aiter_raw():
            room = max_bytes + 1 - len(body)
            body += inflater.decompress(raw, room) if inflater else raw
            if len(body) > max_bytes:
                raise too_big
        if inflater:
            body += inflater.flush()
    except zlib.error as err:
        raise SourceUnavailable(f"{platform}: corrupt {encoding} body ({err})") from err
    if len(body) > max_bytes:
        raise too_big
    return bytes(body)


def _carries_credentials(request: httpx.Request) -> bool:
    return "authorization" in request.headers or any(
        name.lower() in _CREDENTIAL_PARAMS for name in request.url.params
    )


def _judge(
    platform: str,
    response: httpx.Response,
    now: datetime,
    allow_statuses: Sequence[int],
    authenticated: bool | None,
    policy: RequestPolicy,
) -> httpx.Response:
    """`response` when its status is usable, else the matching collector error."""
    status = response.status_code
    if status in allow_statuses or 200 <= status < 300:
        return response
    if status == 429:
        retry = response.headers.get("retry-after")
        wait = (
            parse_retry_after(retry, now)
            if retry
            else reset_seconds(_header(response, _RESET_HEADERS), now)
        )
        wait = capped_wait(platform, wait, policy.max_wait_seconds)
        raise RateLimited(f"{platform}: rate limited (HTTP 429); retrying in {wait:.0f}s", wait)
    if status in (401, 403):
        if authenticated if authenticated is not None else _carries_credentials(response.request):
            raise AuthFailed(f"{platform}: access denied (HTTP {status}); check its credentials")
        # Keyless sources answer 401/403 from a CDN or bot wall: an outage, not bad credentials.
        raise SourceUnavailable(
            f"{platform}: refused an anonymous request (HTTP {status}, a CDN or bot wall?); "
            "will retry"
        )
    if status >= 500:
        raise _Transient(f"{platform}: server error HTTP {status}; will retry")
    raise SourceUnavailable(
        f"{platform}: unexpected HTTP {status} from {redact(str(response.request.url))}"
    )


def _as_float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _json_number(text: str) -> float | int:
    """A JSON float; one beyond float range (`1e400`) becomes COUNTER_LIMIT, never `inf`, so a
    counter reads as out of range (that post's error) instead of raising OverflowError."""
    value = float(text)
    if math.isfinite(value):
        return value
    try:
        return COUNTER_LIMIT if Decimal(text) > 0 else -COUNTER_LIMIT
    except InvalidOperation:
        return COUNTER_LIMIT


def _json_constant(name: str) -> None:
    """`NaN`, `Infinity`, `-Infinity` are not JSON: read them as absent values."""
    return None


def _parse_json(content: bytes) -> tuple[Any, Exception | None]:
    """(document, None), or (None, the reason it is no JSON).

    orjson reads every well-formed body (issue 14: stdlib json was up to a third of a refresh
    pass); what it refuses (NaN, numbers beyond float range, lone surrogates) gets the tolerant
    stdlib reading, so both agree on every body orjson accepts."""
    try:
        return orjson.loads(content), None
    except orjson.JSONDecodeError as err:
        logger.debug("orjson refused a body (%s); reading it leniently", err)
    try:
        return json.loads(content, parse_float=_json_number, parse_constant=_json_constant), None
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError too
        return None, err


def decode_json(platform: str, response: httpx.Response) -> Any:
    """The JSON body, or SourceUnavailable naming the problem (truncated, HTML, empty, absurdly
    nested or with numbers too long to read). Large bodies were parsed off the loop by fetch."""
    document, error = response.extensions.get(PARSED_JSON) or _parse_json(response.content)
    if error is not None:
        kind = response.headers.get("content-type", "unknown type").split(";")[0]
        raise SourceUnavailable(
            f"{platform}: malformed response ({kind}, {len(response.content)} bytes): "
            f"not valid JSON; will retry"
        ) from error
    return document


def expect(platform: str, condition: bool, what: str) -> None:
    """Raise SourceUnavailable when a payload lacks the shape we rely on."""
    if not condition:
        raise SourceUnavailable(f"{platform}: malformed response: {what}")


async def gather_limited(jobs: Iterable[Coroutine[Any, Any, T]], limit: int) -> list[T]:
    """Run coroutines with at most `limit` in flight; results in input order.

    When one raises, the others are cancelled (and those not started are closed) before the
    error propagates, so a failed batch leaves nothing running behind it.
    """
    semaphore = asyncio.Semaphore(limit)
    pending = list(jobs)

    async def one(job: Coroutine[Any, Any, T]) -> T:
        async with semaphore:
            return await job

    tasks = [asyncio.ensure_future(one(job)) for job in pending]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for job in pending:
            job.close()  # a no-op for coroutines that ran
        raise


async def read_each(
    platform: str,
    posts: Sequence[KnownPost],
    read_one: Callable[[KnownPost], Coroutine[Any, Any, list[RefreshItem]]],
    limit: int,
    clock: Clock,
) -> list[RefreshItem]:
    """Read posts one request each, at most `limit` in flight.

    A post whose read fails (SourceUnavailable) becomes that post's PostError and the others
    are kept (issue 8: one bad post once failed every pass of its slice); when every read fails
    the source is down and the first error is raised. Rate limits and rejected credentials stop
    the whole batch.
    """

    async def guarded(post: KnownPost) -> list[RefreshItem] | SourceUnavailable:
        try:
            return await read_one(post)
        except SourceUnavailable as err:
            return err

    results = await gather_limited((guarded(p) for p in posts), limit)
    failures = [r for r in results if isinstance(r, SourceUnavailable)]
    if failures and len(failures) == len(results):
        raise failures[0]
    items: list[RefreshItem] = []
    now = clock()
    for post, result in zip(posts, results, strict=True):
        if isinstance(result, SourceUnavailable):
            items.append(PostError(platform, post.platform_post_id, now, str(result)))
        else:
            items += result
    return items


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """Split `items` into batches of at most `size` (batch endpoints' documented maxima)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


# quote_plus of one ASCII character: unreserved ones kept, space as "+", the rest as %XX.
_QUOTE_ASCII = {
    code: "+" if code == 0x20 else f"%{code:02X}"
    for code in range(128)
    if not (chr(code).isalnum() or chr(code) in "_.-~")
}


def _quote(text: str) -> str:
    """`urllib.parse.quote_plus(text)`, in one C call for ASCII text (ids, URIs)."""
    return text.translate(_QUOTE_ASCII) if text.isascii() else quote_plus(text)


def query_url(base: httpx.URL, pairs: Sequence[tuple[str, str]]) -> httpx.URL:
    """`base` with the query `pairs`, built once per batch request.

    httpx re-parses and re-validates a URL's every character in pure Python (issue 14: 13-32 %
    of a refresh pass); a query percent-encoded here is valid by construction, so it replaces
    the parsed base's query directly. Reads back as httpx's own `base.copy_merge_params(pairs)`
    does, keeping the pairs' order (tests/collectors/test_http.py); should httpx's internals
    change, it takes httpx's own path.
    """
    query = "&".join(f"{_quote(key)}={_quote(value)}" for key, value in pairs)
    if not query:
        return base
    reference = getattr(base, "_uri_reference", None)
    if reference is None or not hasattr(reference, "_replace"):
        return base.copy_with(query=query.encode("ascii"))
    url = httpx.URL.__new__(httpx.URL)
    url._uri_reference = reference._replace(query=query)
    return url
