"""Two writers on one post (issue 7): the read-modify-write of a post's latest counters is
serialised, so the rollups always add up to the latest counters.

The writers are paused at exact points by the database itself (a trigger calling a gate:
a Python function on SQLite, an advisory lock on PostgreSQL), never by sleeping.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, func, select, text

from collectors.base import Observation, PostRef
from storage.db import make_engine, upgrade
from storage.models import Post, Video5Min, VideoHourly
from storage.write import StorageSink, VideoInput
from tests.conftest import FakeClock

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 1, 12, 10, tzinfo=UTC)
T2 = datetime(2026, 3, 1, 12, 20, tzinfo=UTC)


class Writer(threading.Thread):
    """A writer thread that keeps what went wrong for the test to raise."""

    def __init__(self, sink: StorageSink, reading: Observation) -> None:
        super().__init__()
        self.sink, self.reading = sink, reading
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.sink.record_observations([self.reading])
        except BaseException as err:  # re-raised by finish()
            self.error = err

    def finish(self) -> None:
        self.join(30)
        assert not self.is_alive(), "writer did not finish"
        if self.error is not None:
            raise self.error


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """Poll a condition the other threads make true (a state check, not a timed pause)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pause.wait(0.01)


def _views(engine: Engine) -> tuple[int, int, int, datetime]:
    with engine.connect() as conn:
        hourly = conn.execute(select(func.sum(VideoHourly.views_delta))).scalar_one()
        fine = conn.execute(select(func.sum(Video5Min.views_delta))).scalar_one()
        latest, at = conn.execute(select(Post.latest_views, Post.latest_observed_at)).one()
    return int(hourly), int(fine), latest, at


def _start_at_100(engine: Engine) -> None:
    upgrade(engine)
    sink = StorageSink(engine, FakeClock(T0))
    sink.add_video(VideoInput("clip", "The clip"))
    sink.record_posts("clip", [PostRef("youtube", "v")])
    sink.record_observations([Observation("youtube", "v", T0, views=100)])


def _sqlite_gates(engine_a: Engine, engine_b: Engine) -> tuple[threading.Event, ...]:
    """A pauses inside its transaction when it inserts the 150 reading; `b_writing` is set when
    B issues the statement that starts its write (legacy: the INSERT after its unlocked read;
    fixed: BEGIN IMMEDIATE)."""
    a_paused, release, b_writing = threading.Event(), threading.Event(), threading.Event()

    def gate_a(_views: Any) -> int:
        a_paused.set()
        release.wait(20)
        return 0

    def trace_b(statement: str) -> None:
        if statement.startswith(("BEGIN IMMEDIATE", "INSERT INTO observations")):
            b_writing.set()

    @event.listens_for(engine_a, "connect")
    def _a(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("gate", 1, gate_a)

    @event.listens_for(engine_b, "connect")
    def _b(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("gate", 1, lambda _views: 0)
        dbapi_connection.set_trace_callback(trace_b)

    engine_a.dispose()  # later connections get the gate
    with engine_a.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER gate_150 AFTER INSERT ON observations WHEN NEW.views = 150 "
            "BEGIN SELECT gate(NEW.views); END"
        )
    return a_paused, release, b_writing


def _run_two_writers_sqlite(url: str) -> Engine:
    engine_a, engine_b = make_engine(url), make_engine(url)
    _start_at_100(engine_a)
    a_paused, release, b_writing = _sqlite_gates(engine_a, engine_b)
    sink_a = StorageSink(engine_a, FakeClock(T1))
    sink_b = StorageSink(engine_b, FakeClock(T2))
    writer_a = Writer(sink_a, Observation("youtube", "v", T1, views=150))
    writer_b = Writer(sink_b, Observation("youtube", "v", T2, views=152))
    writer_a.start()
    assert a_paused.wait(20), "writer A never reached its insert"
    writer_b.start()
    assert b_writing.wait(20), "writer B never started writing"
    release.set()
    writer_a.finish()
    writer_b.finish()
    engine_b.dispose()
    return engine_a


def _run_two_writers_postgres(url: str) -> Engine:
    engine_a, engine_b = make_engine(url), make_engine(url)
    key = random.randint(1, 2**31)
    # Backends of each writer: other sessions on the server (xdist workers, other suites) may
    # be waiting on advisory locks of their own.
    a_pids: set[int] = set()
    b_pids: set[int] = set()

    @event.listens_for(engine_a, "connect")
    def _a(dbapi_connection: Any, _record: Any) -> None:
        a_pids.add(dbapi_connection.info.backend_pid)

    @event.listens_for(engine_b, "connect")
    def _b(dbapi_connection: Any, _record: Any) -> None:
        b_pids.add(dbapi_connection.info.backend_pid)

    _start_at_100(engine_a)

    with engine_a.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION gate() RETURNS trigger AS $$ BEGIN "
            f"PERFORM pg_advisory_lock({key}); PERFORM pg_advisory_unlock({key}); "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER gate_150 AFTER INSERT ON observations FOR EACH ROW "
            "WHEN (NEW.views = 150) EXECUTE FUNCTION gate()"
        )
    holder = engine_a.connect()
    holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
    holder.commit()

    def waiting(locktype: str, pids: set[int]) -> bool:
        with engine_a.connect() as conn:
            rows = conn.execute(
                text("SELECT pid FROM pg_locks WHERE NOT granted AND locktype = :t"),
                {"t": locktype},
            ).all()
        return any(r[0] in pids for r in rows)

    sink_a = StorageSink(engine_a, FakeClock(T1))
    sink_b = StorageSink(engine_b, FakeClock(T2))
    writer_a = Writer(sink_a, Observation("youtube", "v", T1, views=150))
    writer_b = Writer(sink_b, Observation("youtube", "v", T2, views=152))
    writer_a.start()
    wait_until(lambda: waiting("advisory", a_pids), "writer A to pause inside its transaction")
    writer_b.start()
    wait_until(
        lambda: not writer_b.is_alive() or waiting("transactionid", b_pids),
        "writer B to finish or wait for A's row lock",
    )
    holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    holder.commit()
    holder.close()
    writer_a.finish()
    writer_b.finish()
    engine_b.dispose()
    return engine_a


def test_two_writers_on_one_post_keep_rollups_and_latest_true(db_url: str) -> None:
    # Issue 7: at 100 views, writers recording 150 (12:10) and 152 (12:20) side by side left
    # both rollups at 202 and latest_observed_at back at 12:10.
    if db_url.startswith("sqlite"):
        engine = _run_two_writers_sqlite(db_url)
    else:
        engine = _run_two_writers_postgres(db_url)
    try:
        assert _views(engine) == (152, 152, 152, T2)
    finally:
        engine.dispose()
