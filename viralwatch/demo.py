"""`viralwatch demo`: the whole tool against the simulated internet, on a fast clock.

Starts the simulator on a loopback port with its clock at hour 0 of the example spread, points
every collector at it, and runs the daemon and the dashboard on a local SQLite file. The
simulated clock runs `speed` times faster than real time, so the dashboard shows the footage
spreading over minutes instead of days.

Each demo starts from a fresh database, so totals and charts tell one story. `--continue`
keeps the database and sets the simulated clock to the last moment it recorded.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from collectors.registry import collector_classes
from config.settings import Settings
from simulator.endpoints import collector_section
from simulator.model import SCENARIO_START, SIM_VIDEO
from simulator.server import SimulatorServer
from storage import read
from storage.db import make_engine
from viralwatch import catalog

DEMO_INTERVAL_SECONDS = 20
# The files SQLite keeps next to a database (WAL mode) and our upgrade lock file.
SIDE_FILES = ("-wal", "-shm", ".upgrade-lock")


class DemoError(Exception):
    """The demo cannot use the database it was given; the message says why and what to do."""


def demo_settings(sim_url: str, database: Path, host: str, port: int) -> Settings:
    """Settings with every collector pointed at the simulator and short intervals."""
    collectors = {
        name: {
            **collector_section(name, sim_url),
            "interval_seconds": DEMO_INTERVAL_SECONDS,
            "refresh_interval_seconds": DEMO_INTERVAL_SECONDS,
        }
        for name in collector_classes()
    }
    return catalog.load_settings(
        None,
        storage={"url": f"sqlite:///{database}"},
        dashboard={"host": host, "port": port, "refresh_seconds": 10},
        scheduler={"jitter_seconds": 0},
        collectors=collectors,
        videos=[SIM_VIDEO],
    )


def prepare_database(path: Path, resume: bool, start_hour: float) -> datetime:
    """Get `path` ready for a demo; returns the simulated moment to start at.

    A new demo deletes the previous demo's database (and refuses to touch any other file);
    `resume` keeps it and returns the last moment it recorded.
    """
    if not path.parent.is_dir():
        raise DemoError(f"folder {path.parent} does not exist; pass another --database")
    start = SCENARIO_START + timedelta(hours=start_hour)
    if not path.exists():
        return start
    last = last_demo_moment(path)
    if resume:
        return last or start
    for name in (str(path), *(f"{path}{suffix}" for suffix in SIDE_FILES)):
        Path(name).unlink(missing_ok=True)
    return start


def last_demo_moment(path: Path) -> datetime | None:
    """The simulated time of the last run a demo database recorded; DemoError when `path` is not
    a demo database (so a demo never deletes or mixes with real data)."""
    engine = make_engine(f"sqlite:///{path}")
    try:
        slugs = {video.slug for video in read.list_videos(engine)}
        runs = read.latest_runs(engine)
    except SQLAlchemyError:
        raise DemoError(f"{path} is not a demo database; pass another --database") from None
    finally:
        engine.dispose()
    if slugs - {SIM_VIDEO["slug"]}:
        raise DemoError(f"{path} tracks videos other than the demo's; pass another --database")
    finished = [run.finished_at or run.started_at for run in runs]
    return max(finished, default=None)


def clock_driver(sim: SimulatorServer, speed: float) -> object:
    """A service that moves the simulated clock `speed` seconds per real second."""

    async def drive(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=1)
            except TimeoutError:
                sim.world.clock.advance(speed)

    return drive


DEMO_REQUEST_LOG = 500
"""Requests the demo's simulator remembers (its log is for tests; the demo never reads it)."""


def start_simulator(start: datetime) -> SimulatorServer:
    sim = SimulatorServer()
    sim.world.request_log_limit = DEMO_REQUEST_LOG
    sim.world.clock.set(start)
    return sim.start()


def describe(sim: SimulatorServer, speed: float) -> str:
    hour = (sim.world.now() - sim.world.model.start) / timedelta(hours=1)
    return f"simulated internet at {sim.url} (hour {hour:.1f} of the spread, {speed:g}x speed)"
