"""`viralwatch demo`: the whole tool against the simulated internet, on a fast clock.

Starts the simulator on a loopback port with its clock at hour 0 of the example spread, points
every collector at it, and runs the daemon and the dashboard on a local SQLite file. The
simulated clock runs `speed` times faster than real time, so the dashboard shows the footage
spreading over minutes instead of days.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from collectors.registry import collector_classes
from config.settings import Settings
from simulator.endpoints import collector_section
from simulator.model import SIM_VIDEO
from simulator.server import SimulatorServer
from viralwatch import catalog

DEMO_INTERVAL_SECONDS = 20


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


def clock_driver(sim: SimulatorServer, speed: float) -> object:
    """A service that moves the simulated clock `speed` seconds per real second."""

    async def drive(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=1)
            except TimeoutError:
                sim.world.clock.advance(speed)

    return drive


def start_simulator(start_hour: float) -> SimulatorServer:
    sim = SimulatorServer()
    sim.world.clock.set(sim.world.model.at(start_hour))
    return sim.start()


def describe(sim: SimulatorServer, speed: float) -> str:
    hour = (sim.world.now() - sim.world.model.start) / timedelta(hours=1)
    return f"simulated internet at {sim.url} (hour {hour:.1f} of the spread, {speed:g}x speed)"
