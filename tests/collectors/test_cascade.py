"""Cascade lookups only for posts whose counters moved, within one budget per pass (issue 14):
the gate on its own, then Bluesky and Reddit through the simulator's request log."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qs

from hypothesis import given
from hypothesis import strategies as st

from collectors.base import KnownPost
from collectors.cascade import CascadeGate
from tests.collectors.test_bluesky import sim_collector as bluesky_collector
from tests.collectors.test_reddit import _sim_collector as reddit_collector

_BLUESKY_CASCADES = ("app.bsky.feed.getQuotes", "app.bsky.feed.getRepostedBy")

counts = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(["quotes", "reposts"]),
        st.integers(0, 5),
    ),
    max_size=30,
)


@given(st.lists(counts, min_size=1, max_size=4), st.integers(0, 6))
def test_gate_never_exceeds_the_budget_nor_asks_twice_per_post_or_without_movement(passes, budget):
    gate = CascadeGate(budget)
    seen: dict[str, int] = {}
    for readings in passes:
        gate.begin_pass()
        latest = {f"{which} {post}": count for post, which, count in readings}
        chosen = gate.choose([gate.candidate(*k.split(" ")[::-1], n) for k, n in latest.items()])
        assert len(chosen) <= budget
        assert max(Counter(c.post_id for c in chosen).values(), default=0) <= 1
        for lookup in chosen:
            assert lookup.count > seen.get(lookup.key, 0)  # its counter moved
            gate.looked_up(lookup)
            seen[lookup.key] = lookup.count


def _bluesky_cascades(sim, since: int) -> list[str]:
    asked = [r for r in sim.world.requests[since:] if r.path.endswith(_BLUESKY_CASCADES)]
    return [parse_qs(r.query)["uri"][0] for r in asked]


async def test_bluesky_looks_up_each_moved_post_once_per_pass_and_nothing_unmoved(
    sim, http_client, clock
):
    posts = sim.world.model.visible("bluesky", sim.world.now())
    known = [KnownPost("bluesky", p.id) for p in posts]
    now = sim.world.now()
    moved = {p.id for p in posts if p.counters(now)["shares"] or p.counters(now)["quotes"]}
    collector = bluesky_collector(sim, http_client, clock, login=False)
    per_pass = []
    for _ in range(4):
        before = len(sim.world.requests)
        collector.begin_pass()
        assert await collector.refresh(known)
        per_pass.append(_bluesky_cascades(sim, before))
    assert per_pass[0] and all(set(asked) <= moved for asked in per_pass)
    assert all(max(Counter(asked).values(), default=0) <= 1 for asked in per_pass)
    # A post whose quotes and reposts both moved has the second looked up on the next pass;
    # after that the same counters never cost a cascade request again.
    assert per_pass[2] == per_pass[3] == []
    # Counters that move again are looked up again: only those posts.
    sim.world.clock.advance(3600)
    later = sim.world.now()
    grown = {
        p.id
        for p in posts
        if p.counters(later)["shares"] > p.counters(now)["shares"]
        or p.counters(later)["quotes"] > p.counters(now)["quotes"]
    }
    before = len(sim.world.requests)
    collector.begin_pass()
    await collector.refresh(known)
    asked = _bluesky_cascades(sim, before)
    assert asked and set(asked) <= grown and max(Counter(asked).values()) <= 1


async def test_bluesky_cascade_budget_covers_the_whole_pass_not_each_slice(sim, http_client, clock):
    posts = sim.world.model.visible("bluesky", sim.world.now())
    known = [KnownPost("bluesky", p.id) for p in posts]
    collector = bluesky_collector(sim, http_client, clock, login=False)
    collector.cascades.per_pass = 2
    before = len(sim.world.requests)
    collector.begin_pass()
    half = len(known) // 2
    await collector.refresh(known[:half])
    await collector.refresh(known[half:])
    assert len(_bluesky_cascades(sim, before)) == 2
    # The next pass has a budget of its own.
    before = len(sim.world.requests)
    collector.begin_pass()
    await collector.refresh(known)
    assert len(_bluesky_cascades(sim, before)) == 2


async def test_reddit_asks_duplicates_once_per_moved_post_and_never_when_nothing_moved(
    sim, http_client, clock, sim_video
):
    collector = reddit_collector(http_client, sim, clock)
    refs = await collector.discover(sim_video)
    known = [KnownPost("reddit", r.platform_post_id) for r in refs]
    now = sim.world.now()
    moved = {r.platform_post_id for r in refs}
    moved = {p for p in moved if sim.world.model.get("reddit", p).counters(now)["shares"]}
    collector.begin_pass()
    await collector.refresh(known)
    asked = [r.path.rsplit("/", 1)[-1] for r in sim.world.requests_to("reddit", "/duplicates")]
    assert asked and set(asked) <= moved and max(Counter(asked).values()) == 1
    collector.begin_pass()
    await collector.refresh(known)
    assert len(sim.world.requests_to("reddit", "/duplicates")) == len(asked)
