"""HTTP plumbing every collector shares: one request helper that translates failures.

All platform I/O goes through `fetch`, so httpx errors and bad statuses become the collector
error tree in one place, rate-limit headers are honoured uniformly, and secrets in query strings
never reach a message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx

from collectors.base import (
    AuthFailed,
    Clock,
    RateLimited,
    SourceUnavailable,
    parse_retry_after,
    parse_timestamp,
    redact,
)

T = TypeVar("T")

# Header spellings seen in the wild (Reddit, Mastodon, Bluesky, X): remaining / reset.
_REMAINING_HEADERS = ("x-ratelimit-remaining", "ratelimit-remaining", "x-rate-limit-remaining")
_RESET_HEADERS = ("x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset")


def build_client(
    *, timeout_seconds: float, user_agent: str, max_connections: int = 8
) -> httpx.AsyncClient:
    """The client a collector gets. Modest pool: httpx degrades past ~10 requests in flight."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds),
        headers={"User-Agent": user_agent},
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        follow_redirects=True,
    )


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
    if number > 1_000_000_000:  # an epoch timestamp, as Bluesky and X send
        return max(0.0, number - now.timestamp())
    return max(0.0, number)


def _header(response: httpx.Response, names: Iterable[str]) -> str | None:
    for name in names:
        if name in response.headers:
            return response.headers[name]
    return None


async def fetch(
    client: httpx.AsyncClient,
    platform: str,
    url: str,
    *,
    clock: Clock,
    method: str = "GET",
    params: Any = None,
    headers: dict[str, str] | None = None,
    data: Any = None,
    json_body: Any = None,
    allow_statuses: Sequence[int] = (),
) -> httpx.Response:
    """One request; returns a 2xx response (or one whose status is in `allow_statuses`).

    Raises SourceUnavailable (network, timeout, 5xx, unexpected status), RateLimited (429, or
    the window's remaining count at 0) and AuthFailed (401/403).
    """
    try:
        response = await client.request(
            method, url, params=params, headers=headers, data=data, json=json_body
        )
    except httpx.TimeoutException as err:
        raise SourceUnavailable(f"{platform}: request timed out ({redact(url)})") from err
    except httpx.HTTPError as err:
        raise SourceUnavailable(
            f"{platform}: cannot reach {redact(url)} ({type(err).__name__})"
        ) from err
    now = clock()
    status = response.status_code
    if status in allow_statuses:
        return response
    if status == 429:
        retry = response.headers.get("retry-after")
        wait = (
            parse_retry_after(retry, now)
            if retry
            else reset_seconds(_header(response, _RESET_HEADERS), now)
        )
        raise RateLimited(f"{platform}: rate limited (HTTP 429); retrying in {wait:.0f}s", wait)
    if status in (401, 403):
        raise AuthFailed(f"{platform}: access denied (HTTP {status}); check its credentials")
    if status >= 500:
        raise SourceUnavailable(f"{platform}: server error HTTP {status}; will retry")
    if not 200 <= status < 300:
        raise SourceUnavailable(f"{platform}: unexpected HTTP {status} from {redact(url)}")
    remaining = _header(response, _REMAINING_HEADERS)
    left = _as_float(remaining) if remaining is not None else None
    if left is not None and left <= 0:
        wait = reset_seconds(_header(response, _RESET_HEADERS), now)
        raise RateLimited(f"{platform}: rate-limit window used up; waiting {wait:.0f}s", wait)
    return response


def _as_float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def decode_json(platform: str, response: httpx.Response) -> Any:
    """The JSON body, or SourceUnavailable naming the problem (truncated, HTML, empty)."""
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        kind = response.headers.get("content-type", "unknown type").split(";")[0]
        raise SourceUnavailable(
            f"{platform}: malformed response ({kind}, {len(response.content)} bytes): "
            f"not valid JSON; will retry"
        ) from err


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


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """Split `items` into batches of at most `size` (batch endpoints' documented maxima)."""
    return [items[i : i + size] for i in range(0, len(items), size)]
