"""What each pass of a collector may do: which queries and posts are due, within which budget.

The one planner of issue 8. Discovery runs only the queries this process has leased (each due
once per discovery interval, across every daemon on the database); refresh claims at most as
many due posts as the collector's remaining budget can read (most-moving first), and every
request is paid for by the collector's `BudgetGate`. What a budget cannot cover waits, due and
counted, never dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta

from collectors.base import Clock, RunReport
from collectors.runner import CollectorRunner
from config.settings import Settings
from storage import discovery_leases
from storage.schedule import SchedulePolicy, Scheduling
from storage.write import StorageSink
from viralwatch.budget_gate import BudgetGate


def scheduling_for(settings: Settings, min_seconds: Mapping[str, int], owner: str) -> Scheduling:
    """The per-post policy of each platform from settings; `min_seconds` is the refresh interval
    of the collector that refreshes the platform (its fastest reading)."""
    conf = settings.schedule

    def policy(seconds: int) -> SchedulePolicy:
        return SchedulePolicy(
            min_interval_seconds=seconds,
            max_interval_seconds=conf.max_interval_seconds,
            young_hours=conf.young_hours,
            age_doubling_hours=conf.age_doubling_hours,
            fast_growth_per_hour=conf.fast_growth_percent_per_hour / 100,
        )

    # Posts of a platform no running collector refreshes (a disabled one's old posts) still get
    # a policy: the fastest cadence in use, or 10 minutes when nothing refreshes.
    default_seconds = min(min_seconds.values(), default=600)
    return Scheduling(
        policies={platform: policy(s) for platform, s in min_seconds.items()},
        default=policy(default_seconds),
        owner=owner,
        lease_seconds=conf.lease_seconds,
    )


def refresh_limit(
    gate: BudgetGate, batch_size: int | None, settings: Settings, clock: Clock
) -> int:
    """Due posts one refresh pass may claim: the pass bound, and what the budget can read."""
    limit = settings.schedule.max_posts_per_pass
    left = gate.remaining_requests(clock())
    # No refresh quota (None), or a request that reads a whole feed (no batch size): only the
    # pass bound applies. Otherwise each request left reads at most one batch.
    if left is not None and batch_size:
        limit = min(limit, left * batch_size)
    return limit


async def refresh_pass(
    runner: CollectorRunner, gate: BudgetGate, settings: Settings, *, everything: bool = False
) -> RunReport:
    """One refresh pass over the due posts the budget allows (with `everything`, as `collect
    --once` does: every post no other process holds, ahead of its time); unused units are
    refunded."""
    batch_size = runner.collector.spec.batch_size
    # Looking ahead by the longest interval makes every scheduled post due now (`--once`).
    ahead = timedelta(seconds=settings.schedule.max_interval_seconds if everything else 0)
    try:
        limit = await asyncio.to_thread(refresh_limit, gate, batch_size, settings, runner.clock)
        return await runner.refresh(limit=limit, ahead=ahead)
    finally:
        # Units reserved for requests the pass never sent go back, even when it failed.
        await gate.settle()


async def discover_pass(
    runner: CollectorRunner,
    gate: BudgetGate,
    sink: StorageSink,
    interval_seconds: float,
    *,
    everything: bool = False,
) -> RunReport | None:
    """Run the discovery queries of `runner` that are due (with `everything`: all of them) and
    leased to this process (None: none due, or another daemon holds them)."""
    engine, scheduling = sink.engine, sink.scheduling
    started_at = runner.clock()
    leased = await asyncio.to_thread(
        discovery_leases.claim_queries,
        engine,
        runner.name,
        scheduling.owner,
        started_at,
        scheduling.lease_seconds,
        started_at + timedelta(seconds=interval_seconds if everything else 0),
    )
    if not leased:
        return None  # nothing due, or another daemon leased it: not a run, so nothing recorded
    try:
        videos = await asyncio.to_thread(sink.active_videos)
        return await runner.discover([v for v in videos if v.slug in leased])
    finally:
        await gate.settle()
        # Released even after a failure, or the queries would wait out the lease (10 minutes).
        await asyncio.to_thread(
            discovery_leases.finish_queries,
            engine,
            runner.name,
            scheduling.owner,
            leased,
            started_at,
            interval_seconds,
        )
