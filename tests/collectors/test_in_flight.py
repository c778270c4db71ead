"""Refresh keeps requests in flight up to what the platform's declared quotas allow (issue 14):
with 100 ms of simulated latency a pass takes at most twice the time those limits allow, where
one request at a time took `in_flight` times longer. Sizes are reduced here; `make bench` runs
100,000 posts."""

from __future__ import annotations

import time

import pytest

from collectors.base import KnownPost, PostError, allowed_in_flight, seconds_allowed
from simulator.world import Fault
from tests.collectors.test_bluesky import sim_collector as bluesky_collector
from tests.collectors.test_reddit import _sim_collector as reddit_collector

LATENCY_SECONDS = 0.1


def _collector(platform, sim, client, clock):
    if platform == "bluesky":
        return bluesky_collector(sim, client, clock, login=False)
    return reddit_collector(client, sim, clock)


@pytest.mark.parametrize(("platform", "posts"), [("bluesky", 800), ("reddit", 1600)])
async def test_a_pass_with_latency_finishes_within_twice_what_the_quotas_allow(
    sim, http_client, clock, platform, posts
):
    collector = _collector(platform, sim, http_client, clock)
    assert collector.in_flight == allowed_in_flight(collector.spec.quotas) > 1
    known = [KnownPost(platform, f"zz-absent-{n}") for n in range(posts)]
    sim.world.set_fault(platform, Fault("slow", delay_seconds=LATENCY_SECONDS))
    began = time.perf_counter()
    items = await collector.refresh(known)
    elapsed = time.perf_counter() - began
    requests = len(sim.world.requests_to(platform))
    allowed = seconds_allowed(collector.spec.quotas, requests, LATENCY_SECONDS, collector.in_flight)
    assert len(items) == posts and all(isinstance(i, PostError) for i in items)
    assert elapsed <= 2 * allowed, (elapsed, allowed, requests)
    assert elapsed < requests * LATENCY_SECONDS / 2  # one at a time could not have done it


async def test_a_planner_lowering_in_flight_is_obeyed(sim, http_client, clock):
    collector = bluesky_collector(sim, http_client, clock, login=False)
    collector.in_flight = 1
    sim.world.set_fault("bluesky", Fault("slow", delay_seconds=LATENCY_SECONDS))
    began = time.perf_counter()
    await collector.refresh([KnownPost("bluesky", f"zz-absent-{n}") for n in range(100)])
    assert time.perf_counter() - began >= 4 * LATENCY_SECONDS  # four batches, one at a time
