"""Storage hot paths against raw-driver baselines measured in the same run (issue 7).

- write (SQLite): `StorageSink.record_observations` (rows, latest counters, both rollups, row
  locks; one transaction per batch) against a bare sqlite3 `executemany` of the same rows into a
  table of the same shape. Target: at least 0.5 of the baseline's rows/s.
- write (PostgreSQL): the same against COPY of the same rows into a table of the same shape.
- rows per reading: a simulated day of 10,000 posts read every 10 minutes as a spread cools
  (most posts stop changing): an unchanged reading costs no row.
- export: `read.iter_observations` + CSV writer against a raw sqlite3 cursor + csv, and peak
  Python memory for 10x more rows (target ratio close to 1: memory stays flat).

`VIRALWATCH_BENCH_QUICK=1` runs a smaller scale for iteration.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
import sqlite3
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks.benchmarks_doc import print_figures
from collectors.base import Observation, PostRef
from dashboard.export import OBSERVATION_COLUMNS, write_csv
from storage import read
from storage.db import make_engine, scratch_schema, upgrade
from storage.write import StorageSink, VideoInput

QUICK = os.environ.get("VIRALWATCH_BENCH_QUICK") == "1"
POSTS = 2_000 if QUICK else 10_000
ROUNDS = 5 if QUICK else 20  # write benchmark: observations = POSTS * ROUNDS
DAY_ROUNDS = 24 if QUICK else 144  # a day read every 10 minutes
START = datetime(2026, 3, 2, tzinfo=UTC)
POSTGRES_URL = os.environ.get(
    "VIRALWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TABLE = (
    "CREATE TABLE obs (post_id INTEGER NOT NULL, observed_at {ts} NOT NULL, views BIGINT, "
    "likes BIGINT, shares BIGINT, comments BIGINT, quotes BIGINT, confirmed_until {ts}, "
    "PRIMARY KEY (post_id, observed_at)){suffix}"
)


def _sink(url: str) -> StorageSink:
    engine = make_engine(url)
    upgrade(engine)
    sink = StorageSink(engine, lambda: START)
    sink.add_video(VideoInput("bench", "bench"))
    sink.record_posts("bench", [PostRef("youtube", f"v{i}") for i in range(POSTS)])
    return sink


def _round(r: int) -> list[Observation]:
    at = START + timedelta(minutes=10 * r)
    # Every counter changes each round, so no reading is stored as "unchanged": the worst case.
    return [
        Observation("youtube", f"v{i}", at, views=r * i + 1, likes=r, comments=i)
        for i in range(POSTS)
    ]


def _ours(sink: StorageSink) -> float:
    batches = [_round(r) for r in range(ROUNDS)]  # built before the clock starts, as below
    began = time.perf_counter()
    for batch in batches:
        sink.record_observations(batch)
    return time.perf_counter() - began


def _raw_rows(r: int, sqlite_text: bool) -> list[tuple[object, ...]]:
    at = START + timedelta(minutes=10 * r)
    # The text form SQLAlchemy stores on SQLite, so the baseline writes the same bytes.
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite_text else at
    return [(i, stamp, r * i + 1, r, None, i, None) for i in range(POSTS)]


def _raw_sqlite(path: Path) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    # The pragmas storage/db.py sets: the baseline gets the same durability, not less.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(TABLE.format(ts="DATETIME", suffix=" WITHOUT ROWID"))
    batches = [_raw_rows(r, True) for r in range(ROUNDS)]
    began = time.perf_counter()
    for rows in batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO obs VALUES (?, ?, ?, ?, ?, ?, ?, NULL)", rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - began
    conn.close()
    return elapsed


def _raw_copy(url: str) -> float:
    engine = create_engine(url)
    batches = [_raw_rows(r, False) for r in range(ROUNDS)]
    with engine.connect() as conn:
        conn.exec_driver_sql(TABLE.format(ts="timestamptz", suffix=""))
        conn.commit()
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        began = time.perf_counter()
        for rows in batches:
            with cursor.copy(
                "COPY obs (post_id, observed_at, views, likes, shares, comments, quotes) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            # One commit per round, as the sink commits one transaction per batch.
            conn.connection.dbapi_connection.commit()  # type: ignore[union-attr]
        elapsed = time.perf_counter() - began
    engine.dispose()
    return elapsed


def _rows_per_reading(path: Path) -> tuple[int, int]:
    """A day of readings as a spread cools: post i keeps changing with a probability that
    decays over the day (half-life 2 hours, 2% still moving at the end)."""
    sink = _sink(f"sqlite:///{path}")
    rng = random.Random(7)
    views = [0] * POSTS
    readings = 0
    for r in range(DAY_ROUNDS):
        moving = 0.02 + 0.9 * math.exp(-r * math.log(2) / 12)
        at = START + timedelta(minutes=10 * r)
        batch = []
        for i in range(POSTS):
            if rng.random() < moving:
                views[i] += rng.randint(1, 50)
            batch.append(Observation("youtube", f"v{i}", at, views=views[i]))
        sink.record_observations(batch)
        readings += len(batch)
    with sink.engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM observations")).scalar_one()
    sink.engine.dispose()
    return readings, int(rows)


def _export(sink: StorageSink) -> int:
    rows = read.iter_observations(sink.engine, read.PostFilter())
    return write_csv(rows, OBSERVATION_COLUMNS, _Null())


def _export_seconds_and_peak(sink: StorageSink) -> tuple[float, int, int]:
    """Seconds (untraced run), peak traced Python memory (second run) and row count."""
    began = time.perf_counter()
    count = _export(sink)
    elapsed = time.perf_counter() - began
    # Traced separately: tracemalloc slows allocation several times and would skew the time.
    tracemalloc.start()
    _export(sink)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak, count


def _raw_export_seconds(path: Path) -> float:
    conn = sqlite3.connect(path)
    began = time.perf_counter()
    writer = csv.writer(_Null())
    cursor = conn.execute(
        "SELECT v.slug, p.platform, p.platform_post_id, p.url, o.observed_at, o.views, o.likes,"
        " o.shares, o.comments, o.quotes, o.confirmed_until FROM observations o"
        " JOIN posts p ON p.id = o.post_id JOIN post_videos l ON l.post_id = p.id"
        " JOIN tracked_videos v ON v.id = l.video_id"
        " ORDER BY o.post_id, o.observed_at"
    )
    for row in cursor:
        writer.writerow(row)
    conn.close()
    return time.perf_counter() - began


class _Null(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def run() -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    rows = POSTS * ROUNDS
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        sink = _sink(f"sqlite:///{tmp_path / 'big.db'}")
        ours = _ours(sink)
        raw = _raw_sqlite(tmp_path / "raw.db")
        results["storage.write_observations (sqlite)"] = {
            "rows": rows,
            "viralwatch rows/s": rows / ours,
            "bare sqlite3 executemany rows/s (baseline)": rows / raw,
            "throughput ratio viralwatch / baseline (target >= 0.5)": raw / ours,
        }
        small = _sink(f"sqlite:///{tmp_path / 'small.db'}")
        for r in range(max(1, ROUNDS // 10)):
            small.record_observations(_round(r))
        small_time, small_peak, small_rows = _export_seconds_and_peak(small)
        big_time, big_peak, big_rows = _export_seconds_and_peak(sink)
        raw_export = _raw_export_seconds(tmp_path / "big.db")
        results["storage.export_observations_csv (sqlite)"] = {
            "rows": big_rows,
            "viralwatch rows/s": big_rows / big_time,
            "time ratio viralwatch / raw sqlite3+csv": big_time / raw_export,
            f"peak memory ratio {big_rows} rows / {small_rows} rows": big_peak / max(small_peak, 1),
            "peak memory MiB (large export)": big_peak / 2**20,
            "baseline small export seconds": small_time,
        }
        readings, stored = _rows_per_reading(tmp_path / "day.db")
        results[f"storage.rows_per_reading ({POSTS} posts, a day every 10 min)"] = {
            "readings": readings,
            "observation rows": stored,
            "rows per reading": stored / readings,
        }
        sink.engine.dispose()
        small.engine.dispose()
    with scratch_schema(POSTGRES_URL, "bench") as url:
        sink = _sink(url)
        ours = _ours(sink)
        sink.engine.dispose()
    with scratch_schema(POSTGRES_URL, "bench") as url:
        raw = _raw_copy(url)
    results["storage.write_observations (postgresql)"] = {
        "rows": rows,
        "viralwatch rows/s": rows / ours,
        "COPY rows/s (baseline)": rows / raw,
        "throughput ratio viralwatch / baseline (target >= 0.5)": raw / ours,
    }
    return results


if __name__ == "__main__":
    print_figures(run())
