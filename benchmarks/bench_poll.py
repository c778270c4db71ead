"""The poll loop: refresh thousands of known posts through the batch endpoints, parse, store.

Each collector's refresh pass runs against the simulator (scaled up with extra reposts) and
writes to a real SQLite file. The baseline, measured in the same run, replays exactly the HTTP
requests that pass made (same client, same simulator) without parsing or storing anything, so
the ratio is viralwatch's own cost on top of fetching the batches. The simulator renders every
body in Python, so absolute rates here are bounded by the simulator, not by the collectors.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx

from collectors.base import PostRef, utc_now
from collectors.hackernews import HackerNewsCollector, HackerNewsSettings
from collectors.mastodon import MastodonCollector, MastodonSettings
from collectors.reddit import RedditCollector, RedditSettings
from collectors.runner import CollectorRunner
from simulator.endpoints import collector_section
from simulator.model import SpreadModel
from simulator.server import SimulatorServer
from simulator.world import World
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput

POSTS = int(os.environ.get("VIRALWATCH_BENCH_POLL_POSTS", "3000"))


def _known_posts(world: World, platform: str, sim: SimulatorServer) -> list[PostRef]:
    # The model's extra reposts carry these id prefixes (Reddit, Hacker News, Mastodon): known
    # posts to refresh without a discovery pass first.
    posts = [p for p in world.model.posts[platform] if p.id.startswith(("4000", "1200", "zz"))]
    if platform != "mastodon":
        return [PostRef(platform, p.id) for p in posts]
    # Mastodon posts are keyed by their federated URI and read on their own instance.
    return [
        PostRef(
            platform,
            f"https://{p.instance}.example/users/{p.author}/statuses/{p.id}",
            extra={"instance": sim.base_url("mastodon", p.instance), "id": p.id},
        )
        for p in posts
    ]


def _collector(platform: str, client: httpx.AsyncClient, sim: SimulatorServer):
    section = collector_section(platform, sim.url)
    if platform == "hackernews":
        return HackerNewsCollector(client, utc_now, HackerNewsSettings(**section))
    if platform == "mastodon":
        return MastodonCollector(client, utc_now, MastodonSettings(**section))
    return RedditCollector(client, utc_now, RedditSettings(**section))


async def _measure(platform: str, sim: SimulatorServer, sink: StorageSink) -> dict[str, float]:
    sink.record_posts("bench", _known_posts(sim.world, platform, sim))
    async with httpx.AsyncClient(timeout=60) as client:
        runner = CollectorRunner(_collector(platform, client, sim), sink, utc_now, client)
        first = len(sim.world.requests)
        began = time.perf_counter()
        report = await runner.refresh()
        ours = time.perf_counter() - began
        # The baseline replays the very requests the pass made (token POSTs left out), on the
        # same warm client: the ratio is parsing and storing, not a different fetch.
        replay = [r for r in sim.world.requests[first:] if r.method == "GET"]
        began = time.perf_counter()
        for request in replay:
            response = await client.get(f"{sim.url}{request.path}?{request.query}")
            response.read()
        raw = time.perf_counter() - began
    assert report.status == "ok", report.error_message
    return {
        "posts refreshed": report.observations_written,
        "requests": report.requests,
        "posts per request": report.observations_written / max(report.requests, 1),
        "viralwatch posts/s (fetch+parse+store)": report.observations_written / ours,
        "time ratio viralwatch / raw fetch of the same requests": ours / raw,
    }


def run() -> dict[str, dict[str, float]]:
    world = World(model=SpreadModel(extra_reposts=POSTS))
    world.clock.advance(30 * 3600)  # 30 hours in: every post exists and has counters
    results = {}
    with tempfile.TemporaryDirectory() as tmp, SimulatorServer(world) as sim:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'poll.db'}")
        upgrade(engine)
        sink = StorageSink(engine, utc_now)
        sink.add_video(VideoInput("bench", "bench"))
        for platform in ("reddit", "hackernews", "mastodon"):
            results[f"poll.refresh {platform}"] = asyncio.run(_measure(platform, sim, sink))
        engine.dispose()
    return results
