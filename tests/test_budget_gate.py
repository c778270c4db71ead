"""The budget gate and the planner against the simulator (issue 8): a budget is never exceeded,
posts it cannot cover wait (counted as due), nothing is dropped, and a restart grants nothing."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from collectors.base import PostRef, Quota
from collectors.hackernews import HackerNewsCollector, HackerNewsSettings
from collectors.runner import CollectorRunner
from simulator.endpoints import collector_section
from simulator.model import SpreadModel
from simulator.server import SimulatorServer
from simulator.world import Fault, World
from storage import budgets
from storage.schedule import due_counts
from storage.write import StorageSink, VideoInput
from viralwatch.budget_gate import BudgetGate
from viralwatch.catalog import settings_model
from viralwatch.planner import refresh_pass

# A tight budget so that one pass cannot read every post: 3 requests of 50 posts a minute.
TIGHT = Quota(3, timedelta(minutes=1), "requests")


@pytest.fixture
def big_sim():
    world = World(model=SpreadModel(extra_reposts=300))
    world.clock.advance(30 * 3600)
    with SimulatorServer(world) as sim:
        yield sim


def hn_posts(world):
    return [
        PostRef("hackernews", p.id)
        for p in world.model.posts["hackernews"]
        if p.id.startswith("4000")
    ]


async def test_a_spent_budget_makes_posts_wait_and_is_never_exceeded(big_sim, engine):
    world = big_sim.world
    clock = world.clock  # requests are counted per window of simulated time
    sink = StorageSink(engine, clock)
    sink.add_video(VideoInput("clip", "clip"))
    posts = hn_posts(world)
    sink.record_posts("clip", posts)
    settings = settings_model()()
    async with httpx.AsyncClient(timeout=30) as client:
        config = HackerNewsSettings(**collector_section("hackernews", big_sim.url))
        runner = CollectorRunner(HackerNewsCollector(client, clock, config), sink, clock, client)
        gate = BudgetGate(engine, "hackernews", [TIGHT], clock)
        gate.install(client)
        first = await refresh_pass(runner, gate, settings)
        assert first.observations_written == 150
        (waiting,) = due_counts(engine, clock(), sink.scheduling)
        assert waiting.due == len(posts) - 150  # visibly waiting, not dropped
        # A restarted daemon in the same window is granted nothing: the spend is stored.
        restarted = BudgetGate(engine, "hackernews", [TIGHT], clock)
        assert restarted.remaining_requests(clock()) == 0
        while due_counts(engine, clock(), sink.scheduling):
            clock.advance(60)
            await refresh_pass(runner, gate, settings)
    assert world.busiest_window("hackernews", lambda at: budgets.window(TIGHT, at)[0]) <= 3
    assert sum(1 for r in world.requests_to("hackernews", "/api/v1/search")) == -(-len(posts) // 50)


async def test_the_platforms_rate_limit_headers_are_stored_as_spent(big_sim, engine):
    # A 200 saying the window is used up: the stored budget agrees, so a restart waits too.
    world = big_sim.world
    clock = world.clock
    sink = StorageSink(engine, clock)
    sink.add_video(VideoInput("clip", "clip"))
    sink.record_posts("clip", hn_posts(world)[:50])
    window = Quota(100, timedelta(minutes=1), "requests")
    world.set_fault("hackernews", Fault("exhausted", count=1, retry_after_seconds=60))
    async with httpx.AsyncClient(timeout=30) as client:
        config = HackerNewsSettings(**collector_section("hackernews", big_sim.url))
        runner = CollectorRunner(HackerNewsCollector(client, clock, config), sink, clock, client)
        gate = BudgetGate(engine, "hackernews", [window], clock)
        gate.install(client)
        report = await refresh_pass(runner, gate, settings_model()())
    assert report.observations_written == 50  # the answer itself is used
    (status,) = budgets.budget_statuses(engine, clock())
    assert (status.spent, status.limit) == (100, 100)
    assert BudgetGate(engine, "hackernews", [window], clock).remaining_requests(clock()) == 0
