"""Refresh throughput against the machine's ceiling and the platforms' own SDKs (issue 14).

Every figure is measured in one run over `FastPlatforms`, a loopback server in its own process
serving pre-rendered bodies in each platform's format (its CPU use is reported, so its capacity
is known), each pass storing into a fresh SQLite file:

- viralwatch: `CollectorRunner.refresh` of Mastodon, Reddit and Bluesky posts (the daemon's
  client, storage sink and collectors), after one warm-up pass, every like counter moved
  between passes so each pass stores new readings, each of its passes followed by one of the
  baseline's (alternating, so load on the shared machine hits both alike);
- the hand-written ceiling: aiohttp + orjson + one `sqlite3.executemany`, same batches, same
  requests in flight;
- PRAW, Mastodon.py and the atproto SDK, unmodified, through their base-URL settings (the
  `bench` extra; a missing package skips its figure);
- Bluesky posts that have reposts and quotes: requests of a pass in which no counter moved;
- a pass under 100 ms of latency against the time the platform's quotas allow.

Sizes: VIRALWATCH_BENCH_REFRESH_SIZES (default "10000,100000"), VIRALWATCH_BENCH_SDK_POSTS
(2000), VIRALWATCH_BENCH_LATENCY_POSTS (100000), VIRALWATCH_BENCH_RUNS (3). Run alone with
`python -m benchmarks.bench_refresh`; `make bench` also writes docs/BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks import refresh_baselines as base
from benchmarks.loopback_platforms import (
    CASCADING,
    PLATFORMS,
    FastPlatforms,
    bluesky_uri,
    mastodon_uri,
)
from collectors.base import PostRef, seconds_allowed, utc_now
from collectors.bluesky import BlueskyCollector, BlueskySettings
from collectors.http import build_client
from collectors.mastodon import MastodonCollector, MastodonSettings
from collectors.reddit import RedditCollector, RedditSettings
from collectors.runner import CollectorRunner
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput

SIZES = [
    int(n) for n in os.environ.get("VIRALWATCH_BENCH_REFRESH_SIZES", "10000,100000").split(",")
]
SDK_POSTS = int(os.environ.get("VIRALWATCH_BENCH_SDK_POSTS", "2000"))
LATENCY_POSTS = int(os.environ.get("VIRALWATCH_BENCH_LATENCY_POSTS", "100000"))
RUNS = int(os.environ.get("VIRALWATCH_BENCH_RUNS", "3"))
LATENCY_SECONDS = 0.1
COMMAND = "make bench"


def post_ids(platform: str, count: int, prefix: str = "3k") -> list[str]:
    if platform == "mastodon":
        return [str(110_000_000_000_000_000 + n) for n in range(count)]
    if platform == "reddit":
        return [f"b{n:07x}" for n in range(count)]
    return [f"{prefix}{n:011d}" for n in range(count)]


def post_refs(platform: str, ids: list[str], url: str) -> list[PostRef]:
    if platform == "mastodon":
        extra = {"instance": f"{url}/mastodon"}
        return [PostRef(platform, mastodon_uri(i), extra={**extra, "id": i}) for i in ids]
    if platform == "bluesky":
        return [PostRef(platform, bluesky_uri(i)) for i in ids]
    return [PostRef(platform, i) for i in ids]


def _collector(platform: str, client: Any, url: str) -> Any:
    if platform == "mastodon":
        config = MastodonSettings(instances=[f"{url}/mastodon"])
        return MastodonCollector(client, utc_now, config)
    if platform == "reddit":
        settings = RedditSettings(
            base_url=f"{url}/reddit",
            auth_url=f"{url}/reddit",
            client_id="bench",
            client_secret="bench",  # noqa: S106 (the loopback server's, not a secret)
        )
        return RedditCollector(client, utc_now, settings)
    return BlueskyCollector(client, utc_now, BlueskySettings(base_url=f"{url}/bluesky"))


def _sink(path: Path, platform: str, ids: list[str], url: str) -> StorageSink:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sink = StorageSink(engine, utc_now)
    sink.add_video(VideoInput("bench", "bench"))
    refs = post_refs(platform, ids, url)
    for start in range(0, len(refs), 10_000):
        sink.record_posts("bench", refs[start : start + 10_000])
    return sink


async def _side_by_side(
    platform: str,
    sink: StorageSink,
    server: FastPlatforms,
    baseline: Callable[[], Awaitable[int]] | None,
    runs: int,
    warm_passes: int = 1,
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Warm-up passes (not measured), then `runs` rounds of one pass of ours and one of the
    baseline, alternating so that load on the machine hits both alike; every like counter moves
    before each pass. Without a baseline, only our passes."""
    client = build_client(timeout_seconds=60, user_agent="viralwatch-bench")
    try:
        runner = CollectorRunner(_collector(platform, client, server.url), sink, utc_now, client)
        ours, theirs = [], []
        for n in range(runs + warm_passes):
            server.bump()
            cpu = server.cpu_seconds()
            began = time.perf_counter()
            report = await runner.refresh(limit=10**7, ahead=timedelta(days=1))
            seconds = time.perf_counter() - began
            assert report.status == "ok", report.error_message
            if n < warm_passes:
                continue
            ours.append(
                {
                    "seconds": seconds,
                    "posts": report.observations_written,
                    "requests": report.requests,
                    "server_cpu": server.cpu_seconds() - cpu,
                }
            )
            if baseline is None:
                continue
            server.bump()
            began = time.perf_counter()
            posts = await baseline()
            theirs.append({"seconds": time.perf_counter() - began, "posts": posts})
        return ours, theirs
    finally:
        await client.aclose()


def _rates(passes: list[dict[str, float]]) -> list[float]:
    return [p["posts"] / p["seconds"] for p in passes]


def _figure(
    label: str, ours: list[dict[str, float]], baseline: list[dict[str, float]], baseline_label: str
) -> dict[str, Any]:
    """Medians and min-max of posts/s on both sides, and the ratio of the medians."""
    mine, theirs = _rates(ours), _rates(baseline)
    server_cores = [p["server_cpu"] / p["seconds"] for p in ours if "server_cpu" in p]
    return {
        "figure": label,
        "baseline": baseline_label,
        "viralwatch_posts_per_s": statistics.median(mine),
        "viralwatch_min_max": (min(mine), max(mine)),
        "baseline_posts_per_s": statistics.median(theirs),
        "baseline_min_max": (min(theirs), max(theirs)),
        "ratio": statistics.median(mine) / statistics.median(theirs),
        "requests_per_pass": statistics.median(p["requests"] for p in ours),
        "server_cores": max(server_cores, default=0.0),
    }


def measure_platform(
    platform: str, size: int, server: FastPlatforms, tmp: Path
) -> list[dict[str, Any]]:
    """The refresh figure at `size` posts and, at the first size, the SDK comparison."""
    ids = post_ids(platform, size)
    sink = _sink(tmp / f"{platform}-{size}.db", platform, ids, server.url)
    in_flight = _collector(platform, None, server.url).in_flight
    conn = base.observations_db(str(tmp / f"{platform}-{size}-hand.db"))

    def hand() -> Awaitable[int]:
        return base.handwritten(platform, server.url, ids, conn, in_flight)

    ours, theirs = asyncio.run(_side_by_side(platform, sink, server, hand, RUNS))
    label = f"refresh {platform}, {size:,} posts"
    figures = [_figure(label, ours, theirs, "hand-written aiohttp + orjson + sqlite3.executemany")]
    package, sdk_label, sdk = base.SDKS[platform]
    if size == SIZES[0] and base.installed(package):
        few = ids[:SDK_POSTS]
        small = _sink(tmp / f"{platform}-sdk.db", platform, few, server.url)

        def sdk_storing() -> int:
            sdk_conn = base.observations_db(str(tmp / f"{platform}-sdk-hand.db"))
            try:
                return sdk(server.url, few, sdk_conn)
            finally:
                sdk_conn.close()

        async def sdk_pass() -> int:
            # In a thread where no event loop runs (PRAW warns at each request made in one);
            # nothing else runs meanwhile, and its SQLite connection stays in that thread.
            return await asyncio.to_thread(sdk_storing)

        ours_small, theirs = asyncio.run(_side_by_side(platform, small, server, sdk_pass, RUNS))
        figures.append(
            _figure(f"against {sdk_label}, {len(few):,} posts", ours_small, theirs, sdk_label)
        )
    sink.engine.dispose()
    return figures


def measure_cascades(server: FastPlatforms, tmp: Path) -> dict[str, Any]:
    """500 Bluesky posts that have reposts and quotes, none of them moving: the requests and
    posts/s of a pass against the hand-written getPosts-only pass."""
    ids = post_ids("bluesky", 500, CASCADING)
    sink = _sink(tmp / "cascades.db", "bluesky", ids, server.url)
    conn = base.observations_db(str(tmp / "cascades-hand.db"))

    def hand() -> Awaitable[int]:
        return base.handwritten("bluesky", server.url, ids, conn, 8)

    # Two warm-up passes: each post's quotes, then its reposts (one lookup a post and pass).
    ours, theirs = asyncio.run(_side_by_side("bluesky", sink, server, hand, RUNS, warm_passes=2))
    figure = _figure(
        "Bluesky posts that have reposts and quotes, 500 posts",
        ours,
        theirs,
        f"hand-written, {len(base.batch_urls('bluesky', server.url, ids))} requests",
    )
    sink.engine.dispose()
    return figure


def measure_latency(platform: str, tmp: Path) -> dict[str, Any]:
    """A pass of LATENCY_POSTS with 100 ms per answer against what the quotas allow."""
    with FastPlatforms(latency_seconds=LATENCY_SECONDS) as server:
        ids = post_ids(platform, LATENCY_POSTS)
        sink = _sink(tmp / f"latency-{platform}.db", platform, ids, server.url)
        (one,), _ = asyncio.run(_side_by_side(platform, sink, server, None, 1, warm_passes=0))
        sink.engine.dispose()
    collector = _collector(platform, None, server.url)
    allowed = seconds_allowed(
        collector.spec.quotas, int(one["requests"]), LATENCY_SECONDS, collector.in_flight
    )
    return {
        "figure": f"{platform} pass of {LATENCY_POSTS:,} posts, 100 ms latency",
        "seconds": one["seconds"],
        "requests": one["requests"],
        "allowed_seconds": allowed,
        "ratio": one["seconds"] / allowed,
    }


def measure_all() -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {"refresh": [], "latency": []}
    with tempfile.TemporaryDirectory() as tmp, FastPlatforms() as server:
        for platform in PLATFORMS:
            for size in SIZES:
                results["refresh"] += measure_platform(platform, size, server, Path(tmp))
        results["refresh"].append(measure_cascades(server, Path(tmp)))
        for platform in PLATFORMS if LATENCY_POSTS else ():
            results["latency"].append(measure_latency(platform, Path(tmp)))
    return results


def run() -> dict[str, dict[str, float]]:
    """Every figure flat, for `benchmarks.__main__` and docs/BENCHMARKS.md."""
    results = measure_all()
    flat: dict[str, dict[str, float]] = {}
    for figure in results["refresh"]:
        flat[figure["figure"]] = {
            "viralwatch posts/s": figure["viralwatch_posts_per_s"],
            "viralwatch min posts/s": figure["viralwatch_min_max"][0],
            "viralwatch max posts/s": figure["viralwatch_min_max"][1],
            "baseline posts/s": figure["baseline_posts_per_s"],
            "baseline min posts/s": figure["baseline_min_max"][0],
            "baseline max posts/s": figure["baseline_min_max"][1],
            "ratio": figure["ratio"],
            "requests per pass": figure["requests_per_pass"],
            "server cores used": figure["server_cores"],
        }
    for figure in results["latency"]:
        flat[figure["figure"]] = {
            "seconds": figure["seconds"],
            "requests": figure["requests"],
            "seconds the quotas allow": figure["allowed_seconds"],
            "ratio": figure["ratio"],
        }
    return flat


if __name__ == "__main__":
    from benchmarks import bench_daemon_memory, bench_startup
    from benchmarks.benchmarks_doc import write_benchmarks

    # Every figure of issue 14's table, start-up and memory included, without the other suites.
    write_benchmarks({**bench_startup.run(), **run(), **bench_daemon_memory.run()})
