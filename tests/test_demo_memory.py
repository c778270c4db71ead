"""The demo's memory does not grow with the number of requests it makes (issue 13).

The demo runs the simulated internet in its own process, and the simulator logged every request
the daemon made, for as long as the demo ran. Its log is now bounded in the demo.
"""

from __future__ import annotations

import httpx

from simulator.model import SCENARIO_START
from viralwatch.demo import DEMO_REQUEST_LOG, start_simulator


def test_the_demo_simulator_keeps_a_bounded_request_log() -> None:
    sim = start_simulator(SCENARIO_START)
    try:
        with httpx.Client(base_url=sim.base_url("hackernews"), timeout=10) as client:
            sizes = []
            for n in range(2 * DEMO_REQUEST_LOG + 10):
                client.get("/v0/item/1.json", params={"n": n})
                sizes.append(len(sim.world.requests))
    finally:
        sim.stop()
    assert max(sizes) <= 2 * DEMO_REQUEST_LOG  # it no longer grows with every request
    assert sim.world.requests[-1].query == f"n={2 * DEMO_REQUEST_LOG + 9}"  # the newest kept
