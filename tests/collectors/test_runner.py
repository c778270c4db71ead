"""The runner owns failures: every error branch, against the simulator and real databases."""

from __future__ import annotations

import logging
import socket
from dataclasses import replace
from datetime import timedelta

import pytest

from collectors.base import AuthFailed, Observation, PostRef, TrackedVideo
from collectors.hackernews import HackerNewsCollector, HackerNewsSettings
from collectors.runner import REFRESH_SLICE, CollectorRunner
from simulator.world import Fault
from storage import read
from storage.write import StorageSink
from tests.collectors.declared import Declared


def runner_for(base_url, http_client, sink, clock):
    collector = HackerNewsCollector(http_client, clock, HackerNewsSettings(base_url=base_url))
    return CollectorRunner(collector, sink, clock, http_client)


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_successful_passes_store_posts_and_observations(
    sim, http_client, sink, clock, engine, tracked_sim_video
):
    runner = runner_for(sim.base_url("hackernews"), http_client, sink, clock)
    found = await runner.discover([tracked_sim_video])
    refreshed = await runner.refresh()
    assert (found.status, refreshed.status) == ("ok", "ok")
    assert found.posts_found == refreshed.observations_written == 2
    assert found.requests >= 1 and refreshed.requests == 1
    runs = {run.kind: run for run in read.latest_runs(engine)}
    assert runs["discover"].posts_found == 2 and runs["refresh"].observations_written == 2


async def test_rate_limit_defers_the_next_run_until_retry_after(
    sim, http_client, sink, clock, engine, tracked_sim_video
):
    runner = runner_for(sim.base_url("hackernews"), http_client, sink, clock)
    sim.world.set_fault("hackernews", Fault("rate_limit", count=1, retry_after_seconds=120))
    report = await runner.discover([tracked_sim_video])
    assert report.status == "rate_limited"
    assert report.retry_at == clock() + timedelta(seconds=120)
    requests_before = len(sim.world.requests)
    skipped = await runner.discover([tracked_sim_video])
    assert skipped.status == "rate_limited" and len(sim.world.requests) == requests_before
    clock.advance(seconds=121)
    assert (await runner.discover([tracked_sim_video])).status == "ok"
    assert read.latest_runs(engine)[0].status == "ok"


async def test_failure_is_logged_once_and_recovery_once(
    sim, http_client, sink, clock, tracked_sim_video, caplog
):
    runner = runner_for(sim.base_url("hackernews"), http_client, sink, clock)
    sim.world.set_fault("hackernews", Fault("error", count=2, status=503))
    caplog.set_level(logging.INFO, logger="viralwatch.runner")
    first = await runner.discover([tracked_sim_video])
    second = await runner.discover([tracked_sim_video])
    third = await runner.discover([tracked_sim_video])
    assert (first.status, second.status, third.status) == ("failed", "failed", "ok")
    messages = [r.getMessage() for r in caplog.records]
    assert sum("HTTP 503" in m for m in messages) == 1
    assert messages[-1] == "hackernews: discover recovered"
    assert first.error_message == "hackernews: server error HTTP 503; will retry"


async def test_malformed_response_is_a_one_line_failure(
    sim, http_client, sink, clock, engine, tracked_sim_video
):
    runner = runner_for(sim.base_url("hackernews"), http_client, sink, clock)
    sim.world.set_fault("hackernews", Fault("malformed"))
    report = await runner.discover([tracked_sim_video])
    assert report.status == "failed"
    assert "malformed response" in report.error_message and "\n" not in report.error_message


async def test_unreachable_platform_fails_cleanly(http_client, sink, clock, tracked_sim_video):
    runner = runner_for(closed_port_url(), http_client, sink, clock)
    report = await runner.discover([tracked_sim_video])
    assert report.status == "failed"
    assert report.error_message.startswith("hackernews: cannot reach http://127.0.0.1:")


class ExplodingCollector(Declared):
    """A real collector object whose discovery has a bug (raises a non-collector error)."""

    name = "exploding"

    async def discover(self, video: TrackedVideo):
        raise KeyError("bug")

    async def refresh(self, posts):
        raise AuthFailed("exploding: access denied (HTTP 401); check its credentials")


async def test_unexpected_errors_are_logged_with_traceback_and_recorded(
    sink, clock, tracked_sim_video, engine, caplog
):
    runner = CollectorRunner(ExplodingCollector(), sink, clock)
    report = await runner.discover([tracked_sim_video])
    assert report.status == "failed"
    assert "unexpected KeyError" in report.error_message
    assert any(r.exc_info for r in caplog.records)


async def test_rejected_credentials_pause_the_collector(sink, clock, tracked_sim_video):
    runner = CollectorRunner(ExplodingCollector(), sink, clock)
    sink.record_posts(tracked_sim_video.slug, [])
    report = await runner.refresh()
    # No posts to refresh yet: the collector is never asked, so nothing fails.
    assert report.status == "ok"
    from collectors.base import PostRef

    sink.record_posts(tracked_sim_video.slug, [PostRef("exploding", "1")])
    failed = await runner.refresh()
    assert failed.status == "auth_failed"
    paused = await runner.refresh()
    assert paused.status == "auth_failed" and "paused" in paused.error_message


class CountingCollector(ExplodingCollector):
    """Reads every post (views = 1) without HTTP; counts the passes it was told of."""

    name = "counting"

    def __init__(self, clock):
        self.clock, self.passes, self.slices = clock, 0, 0

    def begin_pass(self):
        self.passes += 1

    async def refresh(self, posts):
        self.slices += 1
        return [Observation(p.platform, p.platform_post_id, self.clock(), views=1) for p in posts]


class CountingSink(StorageSink):
    """The real sink, counting the transactions that store observations."""

    def __init__(self, engine, clock):
        super().__init__(engine, clock)
        self.observation_writes: list[int] = []

    def record_observations(self, observations):
        self.observation_writes.append(len(observations))
        return super().record_observations(observations)


async def test_a_pass_stores_its_slices_readings_together_and_starts_one_budget(
    engine, clock, tracked_sim_video, sink
):
    # Issue 14: a transaction per 500-post slice was four statements and a commit each.
    posts = [PostRef("counting", f"p{n}") for n in range(3 * REFRESH_SLICE + 1)]
    sink.record_posts(tracked_sim_video.slug, posts)
    counting_sink = CountingSink(engine, clock)
    collector = CountingCollector(clock)
    report = await CollectorRunner(collector, counting_sink, clock).refresh()
    assert report.observations_written == len(posts)
    assert (collector.slices, collector.passes) == (4, 1)
    assert counting_sink.observation_writes == [len(posts)]


class BatchedCollector(CountingCollector):
    """Reads 10 posts a request with 20 requests in flight: a slice holds 4 rounds of them."""

    name = "batched"
    spec = replace(CountingCollector.spec, batch_size=10)
    in_flight = 20


async def test_a_slice_holds_several_rounds_of_the_collectors_declared_requests(
    engine, clock, tracked_sim_video, sink
):
    # The batch size is read from the collector's spec: 10 posts x 20 in flight x 4 rounds.
    posts = [PostRef("batched", f"p{n}") for n in range(1_200)]
    sink.record_posts(tracked_sim_video.slug, posts)
    collector = BatchedCollector(clock)
    report = await CollectorRunner(collector, sink, clock).refresh()
    assert report.observations_written == len(posts)
    assert collector.slices == 2  # 800 then 400, not 500, 500 and 200


def test_register_refuses_a_collector_without_the_protocols_pass_hook():
    # The runner calls `begin_pass` directly (it was found through getattr); a class that
    # neither inherits PassHooks nor defines it fails at import, naming the method.
    from collectors.registry import register

    class NoHooks:
        name = "no-hooks"
        spec = Declared.spec
        notice = None

        async def discover(self, video):
            return []

        async def refresh(self, posts):
            return []

    with pytest.raises(TypeError, match="does not declare begin_pass"):
        register(NoHooks)
