"""Daemons killed with SIGKILL and daemons sharing PostgreSQL (issue 8): real processes against
the simulator, whose clock runs ahead so every reading moves."""

from __future__ import annotations

import itertools
import queue
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import text

from collectors.base import utc_now
from simulator.world import Fault
from storage.db import make_engine
from tests.helpers import SIM_VIDEO, write_sim_config
from tests.storage.growth_check import violations
from tests.test_daemon import merged_output, start, wait_for_all

pytestmark = pytest.mark.slow

REFRESH_SECONDS = 10
LEASE_SECONDS = 30  # longer than any one pass here, as it must be
DISCOVER_SECONDS = 10


def config_for(tmp_path, sim, db_url):
    extra = {
        name: {"refresh_interval_seconds": REFRESH_SECONDS, "interval_seconds": DISCOVER_SECONDS}
        for name in ("hackernews", "mastodon")
    }
    path = write_sim_config(tmp_path / "c.toml", sim, db_url, ["hackernews", "mastodon"], extra)
    # Every post young: read at the collector's interval, the schedule's fastest.
    schedule = f"tick_seconds = 1\nlease_seconds = {LEASE_SECONDS}\nyoung_hours = 1000000.0\n"
    path.write_text(path.read_text() + f"\n[schedule]\n{schedule}")
    return path


@pytest.fixture
def moving_sim(sim) -> Iterator[object]:
    """The simulator with its clock running 150x wall time, so counters change between reads."""
    stop = threading.Event()

    def drive() -> None:
        while not stop.wait(0.2):
            sim.world.clock.advance(30)

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    yield sim
    stop.set()
    thread.join()


def rows(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def wait_until(lines, condition, timeout=60.0, what="condition"):
    """Check `condition` whenever a daemon prints a line (a pass that stored readings prints
    one), until it holds; fail once `timeout` passes without it."""
    deadline = time.monotonic() + timeout
    while not condition():
        try:
            lines.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            raise AssertionError(f"{what} not reached within {timeout:g} s") from None


@contextmanager
def lease_notices(engine):
    """A connection told (LISTEN/NOTIFY) of every lease a daemon takes, as its owner."""
    channel = f"lease_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION notify_lease() RETURNS trigger AS $$ BEGIN "
            f"PERFORM pg_notify('{channel}', NEW.lease_owner); RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER notify_lease AFTER UPDATE OF lease_owner ON post_schedule "
            "FOR EACH ROW WHEN (NEW.lease_owner IS NOT NULL) EXECUTE FUNCTION notify_lease()"
        )
    raw = engine.raw_connection()
    try:
        listener = raw.driver_connection
        listener.autocommit = True
        listener.execute(f"LISTEN {channel}")
        yield listener
    finally:
        raw.invalidate()


REFRESHABLE = """
    SELECT p.id, p.latest_observed_at FROM posts p
    WHERE NOT p.is_gone AND (p.relation IS NULL OR p.relation != 'reshare')
"""


def assert_no_post_read_twice_within_its_interval(engine):
    readings = rows(engine, "SELECT post_id, observed_at FROM observations ORDER BY 1, 2")
    by_post: dict[int, list] = {}
    for post_id, at in readings:
        by_post.setdefault(post_id, []).append(at)
    for post_id, times in by_post.items():
        for before, after in itertools.pairwise(times):
            gap = (as_time(after) - as_time(before)).total_seconds()
            assert gap >= REFRESH_SECONDS - 0.01, f"post {post_id} read twice {gap:.2f} s apart"


def as_time(value):
    from tests.storage.growth_check import _utc

    return _utc(value)


def test_three_daemons_on_postgresql_share_the_work_and_take_over_a_killed_ones_leases(
    tmp_path, moving_sim, db_url
):
    if not db_url.startswith("postgresql"):
        pytest.skip("several daemons share PostgreSQL; SQLite refuses a second")
    sim = moving_sim
    sim.world.set_fault("mastodon", Fault("slow", delay_seconds=0.1))  # passes take a while
    config = config_for(tmp_path, sim, db_url)
    daemons = [start(config) for _ in range(3)]
    lines = merged_output(*daemons)
    engine = make_engine(db_url)
    victim = daemons[0]
    try:
        wait_for_all(lines, ["collecting with"] * 3, timeout=90)
        leased = "SELECT post_id, lease_until FROM post_schedule WHERE lease_owner LIKE :o"
        owner = f"{victim.pid}:%"
        with lease_notices(engine) as listener:
            notices = listener.notifies(timeout=60)
            taken = next((n for n in notices if n.payload.startswith(f"{victim.pid}:")), None)
            notices.close()
            assert taken is not None, "the victim took no lease within 60 s"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed_at = utc_now()
        held = {post_id: as_time(until) for post_id, until in rows(engine, leased, o=owner)}

        def taken_over() -> bool:
            latest = dict(rows(engine, REFRESHABLE))
            return all(
                latest[p] is not None and as_time(latest[p]) > until for p, until in held.items()
            ) and all(at is not None and as_time(at) > killed_at for at in latest.values())

        # Every post is read after the kill, the victim's own once its leases expired.
        wait_until(
            lines, taken_over, timeout=LEASE_SECONDS + 60, what="survivors reading every post"
        )
    finally:
        for process in daemons[1:]:
            process.send_signal(signal.SIGINT)
    assert [process.wait(timeout=30) for process in daemons[1:]] == [0, 0]
    assert_no_post_read_twice_within_its_interval(engine)
    runs = rows(
        engine,
        "SELECT collector, started_at, finished_at FROM collector_runs "
        "WHERE kind = 'discover' ORDER BY started_at",
    )
    spans: dict[str, list] = {}
    for collector, started, finished in runs:
        spans.setdefault(collector, []).append((as_time(started), as_time(finished)))
    assert set(spans) == {"hackernews", "mastodon"}
    for collector, runs_of in spans.items():
        for (_, end), (start_next, _) in itertools.pairwise(runs_of):
            # One query per collector: never run twice at once, nor again within its interval.
            assert end <= start_next, f"{collector} discovery ran twice at once"
        for (before, _), (after, _) in itertools.pairwise(runs_of):
            # ... nor again within its interval, whichever daemon ran it.
            assert after - before >= timedelta(seconds=DISCOVER_SECONDS - 0.5), collector
    engine.dispose()


def snapshot(engine):
    return rows(
        engine,
        "SELECT post_id, observed_at, views, likes, shares, comments, quotes FROM observations",
    )


def test_kill_9_at_random_moments_loses_and_duplicates_nothing_and_the_schedule_resumes(
    tmp_path, moving_sim, db_url
):
    config = config_for(tmp_path, moving_sim, db_url)
    engine = None
    kept: set = set()
    randomly = random.Random(8)
    for _ in range(20):
        daemon = start(config)
        wait_for_all(merged_output(daemon), ["collecting with"], timeout=90)
        # Killed at a random moment of its work (a timer, so the test waits only on the exit).
        threading.Timer(randomly.uniform(0.0, 2.5), daemon.send_signal, [signal.SIGKILL]).start()
        daemon.wait(timeout=15)
        engine = engine or make_engine(db_url)
        now = snapshot(engine)
        assert len(now) == len(set(now)), "an observation was stored twice"
        assert kept <= set(now), "a committed observation was lost"
        kept = set(now)
    assert engine is not None and kept
    # The schedule resumes: a new daemon reads every post again, once the dead leases expire.
    restarted_at = utc_now()
    daemon = start(config)
    try:
        wait_until(
            merged_output(daemon),
            lambda: all(
                at is not None and as_time(at) > restarted_at for _, at in rows(engine, REFRESHABLE)
            ),
            timeout=LEASE_SECONDS + 60,
            what="every post read after the restart",
        )
    finally:
        daemon.send_signal(signal.SIGINT)
    assert daemon.wait(timeout=30) == 0
    assert kept <= set(snapshot(engine))
    assert violations(engine, SIM_VIDEO["slug"]) == []
    engine.dispose()
