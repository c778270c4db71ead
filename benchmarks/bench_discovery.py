"""Discovery with high-water marks (issue 8): what a burst and the quiet passes after it cost.

Hacker News discovery runs against the simulator with a burst of BURST new stories, writing to a
real SQLite file, with its marks (the runner) and, as the baseline measured in the same run,
without them (the collector alone, as before marks: every pass reads its page cap again and
never gets past it). Figures: stories found, passes and requests until the burst is all found,
and requests of a quiet pass afterwards, as ratios against the baseline.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from benchmarks.benchmarks_doc import print_figures
from collectors.base import TrackedVideo
from collectors.hackernews import HackerNewsCollector, HackerNewsSettings
from collectors.runner import CollectorRunner
from simulator.endpoints import collector_section
from simulator.model import SIM_VIDEO
from simulator.server import SimulatorServer
from simulator.world import World
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput

BURST = int(os.environ.get("VIRALWATCH_BENCH_BURST", "2000"))
PASSES = 12


def _video() -> TrackedVideo:
    return TrackedVideo(
        slug=str(SIM_VIDEO["slug"]),
        title=str(SIM_VIDEO["title"]),
        keywords=tuple(SIM_VIDEO["keywords"]),
        urls=tuple(SIM_VIDEO["urls"]),
        started_at=datetime.fromisoformat(str(SIM_VIDEO["started_at"])),
    )


async def _passes(marked: bool, folder: Path) -> dict[str, float]:
    world = World()
    world.clock.advance(30 * 3600)
    with SimulatorServer(world) as sim:
        engine = make_engine(f"sqlite:///{folder / ('marked.db' if marked else 'plain.db')}")
        upgrade(engine)
        sink = StorageSink(engine, world.clock)
        video = _video()
        sink.add_video(VideoInput.of(video, source="bench"))
        async with httpx.AsyncClient(timeout=60) as client:
            config = HackerNewsSettings(**collector_section("hackernews", sim.url))
            collector = HackerNewsCollector(client, world.clock, config)
            runner = CollectorRunner(collector, sink, world.clock, client)
            found: set[str] = set()

            async def one_pass() -> None:
                world.clock.advance(900)  # the collector's 15-minute discovery cadence
                if marked:
                    await runner.discover([video])
                    return
                # Without marks: the collector alone, one page per query as before issue 8.
                found.update(r.platform_post_id for r in await collector.discover(video))

            await one_pass()
            now = world.now()
            burst = set(world.model.add_burst("hackernews", BURST, now, now + timedelta(hours=1)))
            # The burst lands within the hour after a pass: more posts than one page holds.
            world.clock.advance(3600)
            first = len(world.requests)
            passes = 0
            while passes < PASSES:
                await one_pass()
                passes += 1
                if marked:
                    found = {p for (p,) in _stored(engine)}
                if burst <= found:
                    break
            spent = len(world.requests) - first
            # Then a pass with nothing new: what marks cost when there is nothing to find.
            quiet = len(world.requests)
            await one_pass()
            quiet = len(world.requests) - quiet
        engine.dispose()
    return {
        "burst found": len(burst & found),
        "passes": passes,
        "requests until found (or gave up)": spent,
        "requests of a quiet pass": quiet,
    }


def _stored(engine) -> list[tuple[str]]:
    with engine.connect() as conn:
        return list(conn.exec_driver_sql("SELECT platform_post_id FROM posts"))


def run() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as folder:
        marked = asyncio.run(_passes(True, Path(folder)))
        plain = asyncio.run(_passes(False, Path(folder)))
    figures = {f"marks: {k}": v for k, v in marked.items()}
    figures |= {f"baseline (no marks): {k}": v for k, v in plain.items()}
    # max(..., 1): the baseline may find none of the burst, and a ratio must stay finite.
    figures["found ratio marks / baseline"] = marked["burst found"] / max(plain["burst found"], 1)
    figures["quiet-pass requests ratio marks / baseline"] = marked[
        "requests of a quiet pass"
    ] / max(plain["requests of a quiet pass"], 1)
    return {f"discovery, Hacker News burst of {BURST}": figures}


if __name__ == "__main__":
    print_figures(run())
