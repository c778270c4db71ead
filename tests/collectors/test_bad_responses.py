"""Every simulated collector turns a malformed body, a 5xx and a proxy's "down" page into
`SourceUnavailable` (one cross-collector suite instead of a copy in each platform's tests)."""

from __future__ import annotations

import pytest

from collectors.base import SourceUnavailable
from simulator.world import Fault
from tests.helpers import sim_collector

# Collector -> the simulator platform serving it (the feeds collector reads YouTube's feeds).
SERVED_BY = {
    "hackernews": "hackernews",
    "lemmy": "lemmy",
    "reddit": "reddit",
    "youtube": "youtube",
    "youtube_rss": "youtube",
    "x": "x",
    "tiktok": "tiktok",
    "dailymotion": "dailymotion",
}
# Reddit fetches an OAuth token on its first request and keeps it: with one fetched first, the
# fault meets the search itself, as on a daemon that has been running.
WARM_FIRST = {"reddit"}


@pytest.mark.parametrize("kind", ["malformed", "error", "down"])
@pytest.mark.parametrize("name", list(SERVED_BY))
async def test_bad_responses_become_source_unavailable(
    sim, http_client, clock, sim_video, name, kind
):
    collector = sim_collector(name, sim, http_client, clock)
    if name in WARM_FIRST:
        await collector.discover(sim_video)
    sim.world.set_fault(SERVED_BY[name], Fault(kind))
    with pytest.raises(SourceUnavailable):
        await collector.discover(sim_video)
