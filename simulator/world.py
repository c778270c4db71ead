"""The simulated internet's state: spread model, clock, fault switches and a request log."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from simulator.model import SCENARIO_START, SimClock, SpreadModel

FaultKind = Literal[
    "rate_limit",  # 429 with Retry-After `retry_header` (omitted when empty)
    "error",  # `status` with `body` (empty by default)
    "slow",  # waits `delay_seconds`, then answers normally
    "malformed",  # truncated JSON
    "down",  # 502 from a proxy
    "body",  # 200 (or `status`) with `body` as `content_type`: HTML, XML, empty answers
    "drip",  # headers, then `body` one byte per `delay_seconds`
    "oversized",  # a 200 JSON body of `size_bytes`
    "gzip_bomb",  # `size_bytes` of zeros, gzip-compressed (about 1000:1)
    "reset",  # headers and part of the body, then the connection closes
    "redirect_loop",  # 302 back to the same URL
    "exhausted",  # the real answer, its rate-limit headers saying 0 left until `reset`
    "drift",  # the real JSON answer with `mutation` applied to every counter-like number
]
Mutation = Literal["numbers_as_strings", "nulls", "huge_numbers", "inf", "renamed_keys"]


@dataclass(slots=True)
class Fault:
    """A switch that makes one platform misbehave for its next `count` requests (None: all).

    With `match`, only requests whose `path?query` matches that regular expression misbehave
    (and count down): one bad post among many.
    """

    kind: FaultKind
    count: int | None = None
    retry_after_seconds: int = 30
    delay_seconds: float = 0.0
    status: int = 500
    match: str | None = None
    body: str = ""
    content_type: str = "application/json"
    size_bytes: int = 0
    retry_header: str | None = None
    """Retry-After sent by `rate_limit` (default: `retry_after_seconds`; "" sends none)."""
    mutation: Mutation = "numbers_as_strings"


@dataclass(slots=True)
class LoggedRequest:
    platform: str
    method: str
    path: str
    query: str
    at: datetime | None = None
    """The world's time when it arrived: requests are counted per window of simulated time."""
    credential: str = ""
    """Who is asking: the Authorization header or a `key` parameter (empty: anonymous)."""


@dataclass
class World:
    """Everything the simulator serves; shared by every platform app."""

    model: SpreadModel = field(default_factory=SpreadModel)
    clock: SimClock = field(default_factory=lambda: SimClock(SCENARIO_START))
    faults: dict[str, Fault] = field(default_factory=dict)
    requests: list[LoggedRequest] = field(default_factory=list)
    # Tests read the whole log; a long-running demo keeps only the newest (issue 13: its log
    # grew with every request the daemon made, for as long as it ran).
    request_log_limit: int | None = None

    def log_request(self, request: LoggedRequest) -> None:
        self.requests.append(request)
        limit = self.request_log_limit
        if limit is not None and len(self.requests) > 2 * limit:
            del self.requests[:-limit]  # trimmed in halves: amortised O(1) per request

    def now(self) -> datetime:
        return self.clock()

    def set_fault(self, platform: str, fault: Fault | None) -> None:
        if fault is None:
            self.faults.pop(platform, None)
        else:
            self.faults[platform] = fault

    def take_fault(self, platform: str, target: str = "") -> Fault | None:
        """The fault to apply to this request (`target` is its `path?query`), counting it down."""
        fault = self.faults.get(platform)
        if fault is None or (fault.match and not re.search(fault.match, target)):
            return None
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                del self.faults[platform]
        return fault

    def hide(self, platform: str, post_id: str, hidden: bool = True) -> None:
        """A switch: the post is left out of every answer (search, batch, page), with no sign
        of deletion, until `hide(..., hidden=False)` brings it back (a post that returns)."""
        post = self.model.get(platform, post_id)
        if post is None:
            raise KeyError(f"no simulated post {platform}/{post_id}")
        post.hidden = hidden

    def requests_to(self, platform: str, path_contains: str = "") -> list[LoggedRequest]:
        return [r for r in self.requests if r.platform == platform and path_contains in r.path]

    def busiest_window(
        self, platform: str, window_of: Callable[[datetime], datetime], path: str = ""
    ) -> int:
        """The most requests to `platform` (whose path matches the regular expression `path`)
        one credential made in one window; `window_of` maps a time to its window's start."""
        counts: Counter[tuple[str, datetime]] = Counter()
        for r in self.requests:
            if r.platform == platform and r.at is not None and re.search(path, r.path):
                counts[(r.credential, window_of(r.at))] += 1
        return max(counts.values(), default=0)
