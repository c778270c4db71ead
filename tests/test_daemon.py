"""The daemon as a user runs it: a real process, real scheduler, simulator, SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
from sqlalchemy import select

from simulator.world import Fault
from storage.db import make_engine
from storage.models import CollectorRun, Observation
from tests.helpers import write_sim_config

pytestmark = pytest.mark.slow


def start(config):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from viralwatch.cli import main; main()",
            "--config",
            str(config),
            "run",
            "--no-dashboard",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def read_until(process, needle, timeout=60):
    """Lines the process printed, up to the first containing `needle` (killed on timeout)."""
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if needle in line:
                return lines
    finally:
        timer.cancel()
    raise AssertionError(f"{needle!r} never printed; output:\n{''.join(lines)}")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_daemon_collects_on_schedule_and_stops_cleanly(tmp_path, sim, stop_signal):
    db = tmp_path / "daemon.db"
    config = write_sim_config(tmp_path / "c.toml", sim, f"sqlite:///{db}", ["hackernews"])
    process = start(config)
    read_until(process, "hackernews refresh: ok, +0 posts, +2 observations")
    process.send_signal(stop_signal)
    tail = read_until(process, "stopping")
    assert process.wait(timeout=30) == 0, "".join(tail)
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        kinds = {row.kind for row in conn.execute(select(CollectorRun.kind))}
        observations = conn.execute(select(Observation.id)).all()
    assert kinds == {"discover", "refresh"}
    assert len(observations) >= 2
    engine.dispose()


def test_daemon_keeps_running_when_one_platform_is_down(tmp_path, sim):
    sim.world.set_fault("mastodon", Fault("down"))
    config = write_sim_config(
        tmp_path / "c.toml", sim, f"sqlite:///{tmp_path / 'd.db'}", ["mastodon", "hackernews"]
    )
    process = start(config)
    lines = read_until(process, "hackernews refresh: ok, +0 posts, +2 observations")
    assert any("mastodon: server error HTTP 502" in line for line in lines)
    assert process.poll() is None  # still running
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
