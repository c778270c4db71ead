"""Every request a collector makes is paid for first, from its stored budgets (issue 8).

The gate is an httpx request hook on the collector's client: before a request leaves, it takes
the request's cost from each declared quota the request falls under (`storage.budgets`). Units
are reserved from the database a few at a time and what a pass leaves unused is refunded, so a
database round trip is not paid per request and a killed daemon loses at most a few units, on
the safe side. A quota with nothing left raises RateLimited until its window resets: the run
stops and its posts stay due.

Why not aiolimiter or pyrate-limiter: both count in one process's memory on the wall clock, so a
restart or a second daemon would start a fresh quota, and a daily bucket would not follow its
platform's time zone; the counts must live in the database, shared and kept.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine

from collectors.base import Clock, Quota, RateLimited
from collectors.http import remaining_requests
from storage import budgets

# Units reserved per database round trip, at most this share of a window's limit.
RESERVE_SHARE = 0.01
RESERVE_MAX = 20


@dataclass(slots=True)
class _Held:
    """Units of one quota reserved in one window and not yet used."""

    window_start: datetime
    units: int = 0


class BudgetGate:
    """Pays for each request of one collector out of its quotas before the request is sent."""

    def __init__(
        self, engine: Engine, collector: str, quotas: Sequence[Quota], clock: Clock
    ) -> None:
        self.engine = engine
        self.collector = collector
        self.quotas = [(q, re.compile(q.path) if q.path else None) for q in quotas]
        self.clock = clock
        self._held: dict[Quota, _Held] = {}
        self._lock = asyncio.Lock()

    def install(self, client: httpx.AsyncClient) -> None:
        # First of the request hooks: a request refused here is never sent, nor counted.
        client.event_hooks.setdefault("request", []).insert(0, self.pay)
        client.event_hooks.setdefault("response", []).append(self.believe)

    async def believe(self, response: httpx.Response) -> None:
        """The platform's rate-limit headers say how much of its window is left: a rate window
        (shorter than a day) it says is more spent than we counted is recorded as such, so no
        daemon, restarted or not, spends what the platform no longer grants."""
        left = remaining_requests(response)
        if left is None:
            return
        path, now = response.request.url.path, self.clock()
        for quota, pattern in self.quotas:
            if quota.per < timedelta(days=1) and (pattern is None or pattern.search(path)):
                if (held := self._held.get(quota)) is not None:
                    held.units = min(held.units, left * quota.cost)
                spent = quota.requests - left * quota.cost
                await asyncio.to_thread(
                    budgets.spend_at_least, self.engine, self.collector, quota, now, spent
                )

    async def pay(self, request: httpx.Request) -> None:
        """Take `request`'s cost from each quota it falls under; RateLimited when one is spent."""
        path = request.url.path
        async with self._lock:  # requests in flight at once pay one after another
            for quota, pattern in self.quotas:
                if pattern is None or pattern.search(path):
                    await self._take(quota)

    async def _take(self, quota: Quota) -> None:
        now = self.clock()
        start, end = budgets.window(quota, now)
        held = self._held.get(quota)
        if held is None or held.window_start != start:
            if held is not None:
                await self._refund(quota, held)
            held = self._held[quota] = _Held(start)
        if held.units < quota.cost:
            chunk = max(quota.cost, min(RESERVE_MAX, int(quota.requests * RESERVE_SHARE)))
            held.units += await asyncio.to_thread(
                budgets.reserve, self.engine, self.collector, quota, now, chunk - held.units
            )
        if held.units < quota.cost:
            wait = max(1.0, (end - now).total_seconds())
            raise RateLimited(
                f"{self.collector}: budget of {quota.requests:,} {quota.what} spent "
                f"until {end.isoformat()}",
                wait,
            )
        held.units -= quota.cost

    async def settle(self) -> None:
        """Refund what was reserved and not used (end of a pass)."""
        async with self._lock:
            for quota, held in self._held.items():
                await self._refund(quota, held)

    async def _refund(self, quota: Quota, held: _Held) -> None:
        if held.units:
            units, held.units = held.units, 0
            await asyncio.to_thread(
                budgets.refund, self.engine, self.collector, quota, held.window_start, units
            )

    def remaining_requests(self, now: datetime) -> int | None:
        """Requests every quota of the collector still allows in its current window (None: no
        declared quota), read from the database: how many refresh requests a pass may plan."""
        spent = {
            (s.budget, s.resets_at): s.spent
            for s in budgets.budget_statuses(self.engine, now)
            if s.collector == self.collector
        }
        left: list[int] = []
        for quota, _ in self.quotas:
            if not quota.refresh:
                continue
            _, end = budgets.window(quota, now)
            used = spent.get((budgets.budget_name(quota), end), 0)
            left.append(max(0, quota.requests - used) // quota.cost)
        return min(left) if left else None
