"""The outage spool on disk (issue 13): kept writes survive a restart and a kill -9 in replay.

Outages are real: another SQLite connection holding BEGIN EXCLUSIVE, or a loopback TCP proxy
between us and PostgreSQL that the test cuts (tests/tcpproxy.py). The reference for "nothing
lost, nothing twice" is a second database given the same writes with no outage.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from collectors.base import Observation, PostRef, RunReport
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput
from tests.tcpproxy import TcpProxy
from viralwatch.spool import SpoolingSink, spool_path

pytestmark = pytest.mark.reliability("database outages: spool file across restarts and kill -9")

VIDEO = VideoInput("spooled", "Spooled", ("spooled",), (), (), None)
POSTS = [PostRef("hackernews", f"p{i}", f"https://news.example/p{i}") for i in range(3)]


def writes(clock: Any, passes: int) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """A collector's writes over `passes` passes: readings that grow, and a run per pass."""
    yield "record_posts", (VIDEO.slug, POSTS)
    for n in range(passes):
        clock.advance(seconds=300)
        now = clock()
        readings = [
            Observation(p.platform, p.platform_post_id, now, views=10 * n + i)
            for i, p in enumerate(POSTS)
        ]
        yield "record_observations", (readings,)
        yield "record_run", (RunReport("hackernews", "refresh", now, now, requests=1),)


def apply(sink: StorageSink, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
    for op, args in batch:
        getattr(sink, op)(*args)


def stored(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a write leaves, without surrogate ids, to compare two databases."""
    queries = {
        "runs": "SELECT collector, kind, started_at, status FROM collector_runs",
        "observations": "SELECT p.platform_post_id, o.observed_at, o.views FROM observations o"
        " JOIN posts p ON p.id = o.post_id",
        "hourly": "SELECT platform, bucket_start, views_delta FROM video_hourly",
        "5min": "SELECT platform, bucket_start, views_delta FROM video_5min",
        "latest": "SELECT platform_post_id, latest_views, latest_observed_at FROM posts",
    }
    with engine.connect() as conn:
        return {
            k: sorted(tuple(map(plain, row)) for row in conn.execute(text(q)))
            for k, q in queries.items()
        }


def plain(value: Any) -> Any:
    """A timestamp as naive UTC whichever backend returned it (SQLite gives text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, str) and value[:2] == "20" and value[4:5] == "-":
        return plain(datetime.fromisoformat(value))
    return value


def reference(tmp_path: Path, batch: list[tuple[str, tuple[Any, ...]]], clock: Any) -> Any:
    engine = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    upgrade(engine)
    sink = StorageSink(engine, clock)
    sink.add_video(VIDEO)
    apply(sink, batch)
    return stored(engine)


@contextmanager
def sqlite_locked(path: Path) -> Iterator[None]:
    holder = sqlite3.connect(path, isolation_level=None, timeout=30)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("COMMIT")
        holder.close()


@pytest.fixture
def outage(db_url: str, tmp_path: Path) -> Iterator[tuple[Any, Callable[[], Any]]]:
    """(engine, outage()): a locked SQLite file, or PostgreSQL behind a cut TCP proxy."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        engine = make_engine(db_url, sqlite_busy_timeout_ms=50)
        upgrade(engine)
        yield engine, lambda: sqlite_locked(Path(str(url.database)))
        engine.dispose()
        return
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    engine = make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
    upgrade(engine)

    @contextmanager
    def cut() -> Iterator[None]:
        proxy.set_mode("down")
        try:
            yield
        finally:
            proxy.set_mode("forward")

    yield engine, cut
    engine.dispose()
    proxy.close()


def test_writes_kept_during_an_outage_are_stored_by_the_next_daemon(outage, clock, tmp_path):
    engine, cut = outage
    spool = tmp_path / "state" / "outage.spool"
    StorageSink(engine, clock).add_video(VIDEO)
    batch = list(writes(clock, passes=4))
    with cut():
        first = SpoolingSink(engine, clock, max_items=1000, spool_path=spool)
        apply(first, batch)
        assert first.pending_items == 3 + 4 * 3 + 4
        first.close()  # the daemon stops (or dies) before the database is back
    restarted = SpoolingSink(engine, clock, max_items=1000, spool_path=spool)
    assert restarted.pending_items == first.pending_items
    assert restarted.flush()
    assert stored(engine) == reference(tmp_path, batch, clock)
    assert spool.read_text() == ""  # everything stored: nothing left to replay
    restarted.close()
    assert SpoolingSink(engine, clock, 1000, spool).pending_items == 0


def test_a_replay_that_stored_writes_before_a_kill_stores_them_once(tmp_path, clock):
    """The window a kill can hit: a write committed, its acknowledgement not yet on disk."""
    path = tmp_path / "v.db"
    engine = make_engine(f"sqlite:///{path}", sqlite_busy_timeout_ms=50)
    upgrade(engine)
    StorageSink(engine, clock).add_video(VIDEO)
    batch = list(writes(clock, passes=3))
    spool = tmp_path / "v.spool"
    with sqlite_locked(path):
        kept = SpoolingSink(engine, clock, max_items=1000, spool_path=spool)
        apply(kept, batch)
        kept.close()
    apply(StorageSink(engine, clock), batch)  # stored, never acknowledged
    again = SpoolingSink(engine, clock, max_items=1000, spool_path=spool)
    assert again.flush()
    assert stored(engine) == reference(tmp_path, batch, clock)


def test_the_spool_file_keeps_only_the_newest_writes_within_its_bound(tmp_path, clock):
    path = tmp_path / "v.db"
    engine = make_engine(f"sqlite:///{path}", sqlite_busy_timeout_ms=20)
    upgrade(engine)
    spool = tmp_path / "v.spool"
    runs = []
    with sqlite_locked(path):
        sink = SpoolingSink(engine, clock, max_items=3, spool_path=spool)
        for _ in range(10):
            clock.advance(seconds=60)
            runs.append(RunReport("hackernews", "refresh", clock(), clock(), status="failed"))
            sink.record_run(runs[-1])
        sink.close()
    with spool.open("a") as cut_short:  # a kill during an append leaves half a line
        cut_short.write('{"n": 11, "op": "record_run", "si')
    restarted = SpoolingSink(engine, clock, max_items=3, spool_path=spool)
    assert restarted.pending_items == 3
    assert restarted.flush()
    newest = [("record_run", (run,)) for run in runs[-3:]]
    assert stored(engine)["runs"] == reference(tmp_path, newest, clock)["runs"]


def test_a_second_process_on_the_same_spool_keeps_its_writes_in_memory(tmp_path, clock, caplog):
    engine = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    first = SpoolingSink(engine, clock, 10, tmp_path / "v.spool")
    second = SpoolingSink(engine, clock, 10, tmp_path / "v.spool")
    assert "in use by another process" in caplog.text
    first.close()
    second.close()


REPLAYER = """
import sys
from datetime import UTC, datetime
from sqlalchemy import event
from storage.db import make_engine
from viralwatch.spool import SpoolingSink, spool_path
engine = make_engine(sys.argv[1], sqlite_busy_timeout_ms=120_000)
# One line per committed write: the test waits on these instead of polling the spool.
event.listen(engine, "commit", lambda conn: print("committed", flush=True))
sink = SpoolingSink(engine, lambda: datetime.now(UTC), 100_000, spool_path=__import__("pathlib").Path(sys.argv[2]))
print("stored" if sink.flush() else "kept", flush=True)
"""


def acknowledged(spool: Path) -> int:
    return spool.read_text().count('"done"')


def test_kill_9_during_the_replay_loses_nothing_and_stores_nothing_twice(tmp_path, clock):
    path = tmp_path / "v.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url, sqlite_busy_timeout_ms=50)
    upgrade(engine)
    StorageSink(engine, clock).add_video(VIDEO)
    batch = list(writes(clock, passes=150))
    spool = tmp_path / "v.spool"
    impatient = make_engine(url, sqlite_busy_timeout_ms=0)  # each kept write fails at once
    with sqlite_locked(path):
        kept = SpoolingSink(impatient, clock, max_items=100_000, spool_path=spool)
        apply(kept, batch)
        kept.close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen(
        [sys.executable, "-c", REPLAYER, url, str(spool)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    timer = threading.Timer(60, child.kill)
    timer.start()
    try:
        # Each commit the replay prints is when its acknowledgements can have grown.
        for _committed in child.stdout:  # type: ignore[union-attr]
            if acknowledged(spool) >= 20:
                break
        # Freeze the replay where it is (its next write waits on the lock), then kill it there.
        with sqlite_locked(path):
            done = acknowledged(spool)
            child.send_signal(signal.SIGKILL)
            child.wait(30)
    finally:
        timer.cancel()
        if child.poll() is None:
            child.kill()
    assert 20 <= done < len(batch), "the kill did not land during the replay"
    survivor = SpoolingSink(engine, clock, max_items=100_000, spool_path=spool)
    assert survivor.pending_items > 0
    assert survivor.flush()
    assert stored(engine) == reference(tmp_path, batch, clock)
    runs = stored(engine)["runs"]
    assert len(runs) == 150 and len(set(runs)) == 150


def test_the_spool_file_sits_beside_a_sqlite_file_unless_configured(tmp_path):
    sqlite = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    assert spool_path("", sqlite) == tmp_path / "v.db.spool"
    assert spool_path(str(tmp_path / "state" / "s"), sqlite) == tmp_path / "state" / "s"
    server = make_engine("postgresql+psycopg://u@127.0.0.1:1/db")  # never connected
    assert spool_path("", server) is None  # memory only, unless configured
