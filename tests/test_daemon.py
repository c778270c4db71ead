"""The daemon as a user runs it: a real process, real scheduler, simulator, SIGINT/SIGTERM."""

from __future__ import annotations

import itertools
import os
import queue
import signal
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from collectors.base import RunReport, utc_now
from simulator.world import Fault
from storage.db import make_engine, upgrade
from storage.models import CollectorRun, Observation
from storage.write import StorageSink
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
        observations = conn.execute(select(Observation.post_id)).all()
    assert kinds == {"discover", "refresh"}
    assert len(observations) >= 2
    engine.dispose()


def test_daemon_keeps_running_when_one_platform_is_down(tmp_path, sim):
    sim.world.set_fault("mastodon", Fault("down"))
    config = write_sim_config(
        tmp_path / "c.toml", sim, f"sqlite:///{tmp_path / 'd.db'}", ["mastodon", "hackernews"]
    )
    process = start(config)
    # Mastodon fails only after its retries with backoff, so the lines come in either order.
    needles = [
        "hackernews refresh: ok, +0 posts, +2 observations",
        "mastodon: server error HTTP 502",
    ]
    wait_for_all(merged_output(process), needles)
    assert process.poll() is None  # still running
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0


def merged_output(*processes):
    """One queue of (process index, line) fed by a reader thread per process."""
    lines = queue.Queue()
    for index, process in enumerate(processes):
        threading.Thread(
            target=lambda i=index, p=process: [lines.put((i, line)) for line in p.stdout],
            daemon=True,
        ).start()
    return lines


def wait_for_all(lines, needles, timeout=60):
    """Consume merged output until every needle has been printed, in any order (a needle
    listed twice must be printed twice)."""
    missing, seen = list(needles), []
    while missing:
        try:
            index, line = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{missing} never printed; output:\n{''.join(seen)}") from None
        seen.append(f"[{index}] {line}")
        for needle in missing:
            if needle in line:
                missing.remove(needle)
                break


def test_daemons_sharing_postgresql_never_run_the_same_discovery_at_once(tmp_path, sim, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("leases split work on PostgreSQL only")
    sim.world.set_fault("hackernews", Fault("slow", delay_seconds=0.2))
    config = write_sim_config(tmp_path / "c.toml", sim, db_url, ["hackernews", "mastodon"])
    daemons = [start(config), start(config)]
    lines = merged_output(*daemons)
    try:
        # Whichever daemon takes each job runs it; the work completes once between them.
        started = ["collecting with", "collecting with"]  # both daemons handle signals now
        done = ["hackernews refresh: ok, +0 posts, +2 observations", "mastodon refresh: ok"]
        wait_for_all(lines, started + done)
    finally:
        for process in daemons:
            process.send_signal(signal.SIGINT)
    assert [process.wait(timeout=30) for process in daemons] == [0, 0]
    engine = make_engine(db_url)
    with engine.connect() as conn:
        runs = conn.execute(
            select(
                CollectorRun.collector,
                CollectorRun.kind,
                CollectorRun.started_at,
                CollectorRun.finished_at,
            ).order_by(CollectorRun.started_at)
        ).all()
    engine.dispose()
    by_job = {}
    for collector, kind, started, finished in runs:
        # Refresh passes may overlap: they read different posts (tests/test_daemon_leases.py).
        if kind == "discover":
            by_job.setdefault((collector, kind), []).append((started, finished))
    assert ("hackernews", "discover") in by_job
    for job, spans in by_job.items():
        for (_, end), (start_next, _) in itertools.pairwise(spans):
            assert end <= start_next, f"{job} ran in two daemons at once"


def test_daemon_expires_old_collector_runs(tmp_path, sim):
    # Issue 7: collector_runs grew forever; the daemon applies storage retention.
    db = tmp_path / "r.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    sink = StorageSink(engine, utc_now)
    now = utc_now()
    for days in (300, 200, 100):
        at = now - timedelta(days=days)
        sink.record_run(RunReport("reddit", "discover", at, at, status="ok"))
    engine.dispose()
    config = write_sim_config(tmp_path / "c.toml", sim, f"sqlite:///{db}", ["hackernews"])
    process = start(config)
    read_until(process, "storage maintenance: expired 2 collector runs")
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        reddit = conn.execute(
            select(CollectorRun.started_at).where(CollectorRun.collector == "reddit")
        ).scalars()
        assert [at.date() for at in reddit] == [(now - timedelta(days=100)).date()]
    engine.dispose()
