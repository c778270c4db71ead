"""The fault matrix (issue 13): every platform meets every fault switch of the simulator.

For each pair the run ends (no hang, no exception), is recorded with a failure the dashboard
shows (failed / rate_limited) unless the platform's answer stayed readable, a healthy platform
run alongside is unaffected, and no reading is invented: every stored counter equals the
simulator's or is empty. The full matrix takes minutes: a diagonal of it (every fault and every
platform once) runs in every `make test`, the full one under `make reliability`.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from collectors.http import RequestPolicy, use_policy
from collectors.runner import CollectorRunner
from simulator.server import SimulatorServer
from simulator.world import Fault, World
from storage import read
from tests.helpers import full_size_only, sim_collector

PLATFORMS = [
    "hackernews",
    "lemmy",
    "mastodon",
    "telegram",
    "rss",
    "reddit",
    "youtube",
    "youtube_rss",
    "bluesky",
    "x",
    "tiktok",
    "dailymotion",
]
# Collectors that send credentials: a 403 to them may well mean the credentials.
CREDENTIALED = {"reddit", "youtube", "bluesky", "x", "tiktok"}
# The simulator platform each collector talks to.
SERVED_BY = {"youtube_rss": "youtube"}

FAULTS: dict[str, Fault] = {
    "429 with Retry-After": Fault("rate_limit", retry_after_seconds=120),
    "429 without Retry-After": Fault("rate_limit", retry_header=""),
    "429 absurd Retry-After": Fault("rate_limit", retry_header="999999999"),
    "429 Retry-After in 2099": Fault("rate_limit", retry_header="Thu, 01 Jan 2099 00:00:00 GMT"),
    "500": Fault("error", status=500),
    "502 proxy page": Fault("down"),
    "403 bot wall": Fault("error", status=403, body="<html>Access denied</html>"),
    "timeout": Fault("slow", delay_seconds=1.5),
    "connection reset": Fault("reset"),
    "drip-fed body": Fault("drip", body='{"items": []}' * 20, delay_seconds=0.1),
    "oversized body": Fault("oversized", size_bytes=3_000_000),
    "gzip bomb": Fault("gzip_bomb", size_bytes=300 * 1024 * 1024),
    "truncated JSON": Fault("malformed"),
    "HTML instead": Fault("body", body="<html><body>Maintenance</body></html>"),
    "malformed XML": Fault("body", body="<rss><channel><item><title>x", content_type="text/xml"),
    "empty object": Fault("body", body="{}"),
    "empty body": Fault("body", body=""),
    "redirect loop": Fault("redirect_loop"),
    "numbers as strings": Fault("drift", mutation="numbers_as_strings"),
    "nulls": Fault("drift", mutation="nulls"),
    "huge numbers": Fault("drift", mutation="huge_numbers"),
    "1e400": Fault("drift", mutation="inf"),
    "renamed fields": Fault("drift", mutation="renamed_keys"),
}
# Faults after which the answer may still be readable (the run may be ok, with nothing made up).
READABLE = {"numbers as strings", "nulls", "huge numbers", "1e400", "renamed fields"}
READABLE |= {"empty object", "empty body", "HTML instead", "malformed XML", "403 bot wall"}


@pytest.fixture(scope="module")
def matrix_sim():
    """One simulated internet for the whole matrix (each case sets and clears its fault)."""
    world = World()
    world.clock.advance(30 * 3600)
    with SimulatorServer(world) as server:
        yield server


@pytest.fixture
def sim(matrix_sim):
    yield matrix_sim
    matrix_sim.world.faults.clear()


def build_runner(name: str, sim, client: httpx.AsyncClient, sink, clock) -> CollectorRunner:
    return CollectorRunner(sim_collector(name, sim, client, clock), sink, clock, client)


async def run_pair(platform, fault_name, sim, sink, clock, engine, video):
    healthy_name = "hackernews" if platform != "hackernews" else "dailymotion"
    policy = RequestPolicy(deadline_seconds=1.0, max_body_bytes=2_000_000, attempts=1)
    limits = httpx.Timeout(0.5)
    async with (
        httpx.AsyncClient(timeout=limits, follow_redirects=True) as faulty_client,
        httpx.AsyncClient(timeout=limits, follow_redirects=True) as healthy_client,
    ):
        faulty = build_runner(platform, sim, use_policy(faulty_client, policy), sink, clock)
        # The healthy platform keeps generous limits: a loaded machine must not fail it.
        healthy_client.timeout = httpx.Timeout(10)
        healthy = build_runner(healthy_name, sim, healthy_client, sink, clock)
        fault = FAULTS[fault_name]
        sim.world.set_fault(SERVED_BY.get(platform, platform), fault)
        report, other = await asyncio.wait_for(
            asyncio.gather(faulty.discover([video]), healthy.discover([video])), timeout=60
        )
        refreshed = await asyncio.wait_for(faulty.refresh(), timeout=60)
    assert other.status == "ok", f"{healthy_name} was affected: {other.error_message}"
    if fault_name not in READABLE:
        assert report.status in ("failed", "rate_limited"), report
        assert report.error_message and "\n" not in report.error_message
    if fault.kind == "rate_limit":
        assert report.status == "rate_limited"
        assert report.retry_at is not None and (report.retry_at - clock()).total_seconds() <= 3600
    allowed = {"ok", "failed", "rate_limited"} | (
        {"auth_failed"} if platform in CREDENTIALED else set()
    )
    # Issue 8: a keyless source behind a bot wall is unavailable, never paused as auth_failed.
    assert {report.status, refreshed.status} <= allowed
    assert_nothing_invented(sim, engine)


def assert_nothing_invented(sim, engine) -> None:
    """Every stored reading is the simulator's counter at that time, or empty."""
    now = sim.world.now()
    for post in read.iter_posts(engine, read.PostFilter()):
        if post.latest_observed_at is None:
            continue
        platform = "youtube" if post.platform == "youtube_rss" else post.platform
        model = _model_post(sim, platform, post.platform_post_id)
        if model is None:
            continue
        counters = model.counters(now)
        for stored, real in (
            (post.likes, counters.get("likes")),
            (post.views, counters.get("views")),
        ):
            assert stored is None or real is None or stored <= max(real, 0) * 10 + 10, (
                post.platform,
                post.platform_post_id,
                stored,
                real,
            )


def _model_post(sim, platform, post_id):
    for candidate in sim.world.model.posts.get(platform, []):
        if (
            candidate.id == post_id
            or post_id.endswith(f"/{candidate.id}")
            or candidate.id in post_id
        ):
            return candidate
    return None


# Each fault on one platform, each platform under some fault: every row and column once.
DIAGONAL = [(PLATFORMS[i % len(PLATFORMS)], name) for i, name in enumerate(FAULTS)]


@pytest.mark.parametrize(("platform", "fault_name"), sorted(set(DIAGONAL)))
async def test_fault_matrix_diagonal(
    platform, fault_name, sim, sink, clock, engine, tracked_sim_video, db_url
):
    if "postgresql" in db_url:
        pytest.skip("the matrix speaks to collectors; one database is enough")
    await run_pair(platform, fault_name, sim, sink, clock, engine, tracked_sim_video)


@pytest.mark.slow
@full_size_only
@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("fault_name", list(FAULTS))
async def test_fault_matrix_full(
    platform, fault_name, sim, sink, clock, engine, tracked_sim_video, db_url
):
    if "postgresql" in db_url:
        pytest.skip("the matrix speaks to collectors; one database is enough")
    await run_pair(platform, fault_name, sim, sink, clock, engine, tracked_sim_video)
