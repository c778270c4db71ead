"""A simulated week with every collector on (issue 8, done means): no platform's documented
budget is ever exceeded by any credential in any window (the simulator logs each request's
credential and simulated time), and the fastest-growing posts are read as often as the policy
promises them. The simulator's clock runs the week; the planner and the gates are the daemon's
own (`daemon.wire`), one pass of every collector per tick."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest
from sqlalchemy import select

from collectors.registry import collector_classes
from simulator.server import SimulatorServer
from simulator.world import World
from storage import budgets
from storage.models import Post
from storage.schedule import PostSchedule, interval_promise
from tests.helpers import write_sim_config
from viralwatch import catalog, daemon
from viralwatch.planner import discover_pass, refresh_pass

pytestmark = pytest.mark.slow

TICK = 2 * 3600  # one pass of every collector per two simulated hours
DISCOVER = 6 * 3600
DAYS = 7
# Where each collector's requests arrive in the simulator.
MOUNT = {"youtube_rss": "youtube", "urls": "pages"}


def lateness(engine, now):
    """For the 100 fastest-growing posts (growth relative to their size, as the policy measures
    it): the age of the latest reading over the interval the policy promises that post (its own
    interval plus one pass); 1.0 is exactly on time."""
    query = (
        select(Post.latest_observed_at, PostSchedule.interval_seconds)
        .join(PostSchedule, PostSchedule.post_id == Post.id)
        .where(Post.latest_observed_at.is_not(None))
        .order_by((PostSchedule.growth_per_hour / (PostSchedule.last_count + 1)).desc())
        .limit(100)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [(now - at).total_seconds() / (interval + TICK) for at, interval in rows]


async def test_a_week_keeps_every_budget_and_reads_the_fastest_posts_on_time(tmp_path, db_url):
    if db_url.startswith("postgresql"):
        pytest.skip("a week is long: it runs on SQLite (the leases are tested on PostgreSQL)")
    world = World()
    with SimulatorServer(world) as sim:
        extra = {
            name: {"refresh_interval_seconds": TICK, "interval_seconds": DISCOVER}
            for name in collector_classes()
        }
        path = write_sim_config(tmp_path / "c.toml", sim, db_url, collector_classes(), extra)
        path.write_text(path.read_text() + f"\n[schedule]\ntick_seconds = {TICK}\n")
        settings = catalog.load_settings(path)
        clock = world.clock
        engine, sink = daemon.open_storage(settings, clock, migrate=True)
        wiring = daemon.wire(settings, sink, clock)
        assert len(wiring.runners) == len(collector_classes())  # every collector is on
        fastest_promise = interval_promise(sink.scheduling.default, TICK)
        medians = []
        try:
            for tick in range(DAYS * 24 * 3600 // TICK):
                for runner in wiring.runners:
                    gate = wiring.gates[runner.name]
                    seconds = wiring.cadences[runner.name].discover_seconds
                    await discover_pass(runner, gate, sink, seconds)
                    await refresh_pass(runner, gate, settings)
                if tick * TICK >= 86_400 and tick % 3 == 0:
                    medians.append(statistics.median(lateness(engine, clock())))
                clock.advance(TICK)
        finally:
            await daemon.close(wiring)
        engine.dispose()
    assert medians and max(medians) <= 1.0, medians
    for name, cls in collector_classes().items():
        for quota in cls.spec.quotas:
            busiest = world.busiest_window(
                MOUNT.get(name, name), lambda at, q=quota: budgets.window(q, at)[0], quota.path
            )
            assert busiest * quota.cost <= quota.requests, (name, quota.what, busiest)
    # Young or fast-growing posts are promised their collector's interval plus one pass.
    assert timedelta(seconds=fastest_promise) == timedelta(seconds=2 * TICK)
