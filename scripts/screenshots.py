"""Regenerate the README screenshots from the demo: `make screenshots`.

Runs what `viralwatch demo` runs (the simulated internet, the demo settings, every collector,
the dashboard) but steps the simulated clock by hand: one collection pass per simulated
`STEP_MINUTES` over the first `HOURS` of the spread, so the charts fill in a minute or two rather
than the demo's real-time pace. Then Debian's Chromium (driven by Playwright, never a
downloaded browser) photographs the overview and the video page at 1440 px.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from config.settings import Settings
from simulator.model import SCENARIO_START, SIM_VIDEO
from simulator.server import SimulatorServer
from viralwatch import daemon
from viralwatch import demo as demo_mode
from viralwatch.cli import start_dashboard

CHROMIUM = Path("/usr/bin/chromium")
OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
HOURS = 36
STEP_MINUTES = 60
PAGES = {"overview": "/", "video": f"/videos/{SIM_VIDEO['slug']}?range=all"}


def collect_spread(settings: Settings, sim: SimulatorServer) -> None:
    engine, sink = daemon.open_storage(settings, sim.world.clock, migrate=True)
    for step in range(HOURS * 60 // STEP_MINUTES + 1):
        sim.world.clock.set(SCENARIO_START + timedelta(minutes=step * STEP_MINUTES))
        asyncio.run(daemon.collect_once(settings, sink, sim.world.clock))
        print(f"collected at hour {step * STEP_MINUTES / 60:g} of {HOURS}", file=sys.stderr)
    engine.dispose()


def photograph(base_url: str, chromium: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900}, timezone_id="UTC")
        for name, path in PAGES.items():
            page.goto(base_url + path, wait_until="networkidle")
            # The first screenful, as a visitor sees it: the README shows it at a glance.
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"wrote {OUT / name}.png", file=sys.stderr)
        browser.close()


def free_address() -> tuple[str, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "127.0.0.1", probe.getsockname()[1]


def main(argv: list[str]) -> int:
    """`screenshots.py [CHROMIUM]`: the browser binary defaults to Debian's."""
    chromium = Path(argv[0]) if argv else CHROMIUM
    if not chromium.exists():
        print(
            f"screenshots: {chromium} is missing; install Debian's chromium package "
            "(apt-get install chromium), then run `make screenshots` again",
            file=sys.stderr,
        )
        return 1
    sim = demo_mode.start_simulator(SCENARIO_START)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = demo_mode.demo_settings(sim.url, Path(tmp) / "demo.db", *free_address())
            collect_spread(settings, sim)
            engine, sink = daemon.open_storage(settings, sim.world.clock)
            dashboard = start_dashboard(settings, engine, sink, sim.world.clock)
            try:
                photograph(dashboard.url, chromium)
            finally:
                dashboard.stop()
                engine.dispose()
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
