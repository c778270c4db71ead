"""A newly found post gets its first reading at once (issue 8): discovery that finds posts
wakes the refresh job, also when a refresh pass is running at that moment."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from simulator.world import Fault
from storage import read
from tests.helpers import write_sim_config
from viralwatch import catalog, daemon

HOUR = 3600


async def wait_for(condition, within: float = 30.0) -> None:
    """Wait on a condition by polling the database (no fixed sleeps as synchronisation)."""
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def read_ids(engine) -> set[str]:
    posts = read.iter_posts(engine, read.PostFilter(platform="hackernews"))
    return {p.platform_post_id for p in posts if p.latest_observed_at is not None}


@pytest.mark.parametrize("refresh_running", [False, True], ids=["idle", "refresh-running"])
async def test_posts_found_by_discovery_are_read_at_once(tmp_path, sim, refresh_running):
    hourly = {"interval_seconds": HOUR, "refresh_interval_seconds": HOUR}
    config = write_sim_config(
        tmp_path / "c.toml",
        sim,
        f"sqlite:///{tmp_path / 'wake.db'}",
        ["hackernews"],
        extra={"hackernews": hourly},
    )
    settings = catalog.load_settings(config)
    world = sim.world
    engine, sink = daemon.open_storage(settings, world.clock, migrate=True)
    d = daemon.Daemon(settings, sink, world.clock)
    d.start()
    try:
        await wait_for(lambda: len(read_ids(engine)) == 2)
        now = world.now()
        burst = set(world.model.add_burst("hackernews", 30, now, now + timedelta(minutes=30)))
        world.clock.advance(HOUR)
        if refresh_running:
            # A refresh pass that takes a while is running when discovery ends.
            world.set_fault(
                "hackernews", Fault("slow", delay_seconds=2, match="/search\\?", count=1)
            )
            d.scheduler.modify_job("hackernews:refresh", next_run_time=d.schedule_clock())
            await wait_for(lambda: "hackernews:refresh" in d._running, within=10)
        d.scheduler.modify_job("hackernews:discover", next_run_time=d.schedule_clock())
        # Both jobs are an hour away: only the wake-up reads the new posts.
        await wait_for(lambda: burst <= read_ids(engine))
    finally:
        await d.stop()
        engine.dispose()
