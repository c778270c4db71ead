"""Shared fixtures: real databases (SQLite file, PostgreSQL), the simulator, a fake clock.

`make test TEST_WORKERS=3` runs files in parallel on xdist workers (a file on one worker), so a test
keeps to its own things: databases from the `db_url`/`engine` fixtures or tests.helpers (a fresh
SQLite file or PostgreSQL schema), files under `tmp_path`, ports from the OS (port 0), and
random PostgreSQL advisory-lock keys and NOTIFY channels (those are server-wide; filter pg_locks
by your own backends). It waits on events (a line, a queue, NOTIFY), never on sleeps, with
timeouts that allow for a loaded machine; it does not time itself (benchmarks do that).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from collectors.base import TrackedVideo
from simulator.model import SCENARIO_START, SIM_VIDEO
from simulator.server import SimulatorServer
from simulator.world import World
from storage.write import StorageSink, VideoInput
from tests.helpers import database_url, migrated_engine

REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


class FakeClock:
    """A clock tests move by hand: `clock()` is now, `clock.advance(seconds=…)` moves it."""

    def __init__(self, start: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shared_fixtures() -> Path:
    """../shared/fixtures (real recorded API bodies); skips cleanly where it is absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is not present (it exists on the project's machines)")
    return SHARED_FIXTURES


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A real, empty database URL: a SQLite file, or a fresh PostgreSQL schema."""
    yield from database_url(request.param, tmp_path / "viralwatch.db", "t")


@pytest.fixture
def engine(db_url: str) -> Iterator[object]:
    yield from migrated_engine(db_url)


@pytest.fixture
def sink(engine: object, clock: FakeClock) -> StorageSink:
    return StorageSink(engine, clock)  # type: ignore[arg-type]


@pytest.fixture
def sim_video() -> TrackedVideo:
    """The simulated footage as collectors see it."""
    return TrackedVideo(
        slug=SIM_VIDEO["slug"],
        title=SIM_VIDEO["title"],
        keywords=tuple(SIM_VIDEO["keywords"]),
        hashtags=tuple(SIM_VIDEO["hashtags"]),
        urls=tuple(SIM_VIDEO["urls"]),
        started_at=SCENARIO_START,
    )


@pytest.fixture
def tracked_sim_video(sink: StorageSink, sim_video: TrackedVideo) -> TrackedVideo:
    """The simulated footage, stored as a tracked video."""
    sink.add_video(VideoInput.of(sim_video, "cli"))
    return sim_video


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    """A fresh simulated internet on a loopback port, its clock 30 h into the spread."""
    world = World()
    world.clock.advance(30 * 3600)
    with SimulatorServer(world) as server:
        yield server


@pytest.fixture
async def http_client() -> object:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client
