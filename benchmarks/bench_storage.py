"""Storage hot paths against raw-driver baselines measured in the same run.

- write: `StorageSink.record_observations` (Core bulk insert + latest counters + hourly rollup,
  one transaction per batch) against plain sqlite3 `executemany` of the same rows (the
  PERFORMANCE.md ceiling). Target: within 3x of the raw insert while doing three times the work.
- export: `read.iter_observations` + CSV writer against a raw sqlite3 cursor + csv; and peak
  Python memory for 10x more rows (target ratio close to 1: memory stays flat).
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collectors.base import Observation, PostRef
from dashboard.export import OBSERVATION_COLUMNS, write_csv
from storage import read
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput

POSTS = 2_000
ROUNDS = int(os.environ.get("VIRALWATCH_BENCH_ROUNDS", "50"))  # observations = POSTS * ROUNDS
START = datetime(2022, 3, 2, tzinfo=UTC)


def _filled(path: Path, rounds: int) -> tuple[StorageSink, float]:
    """A database with POSTS posts and POSTS*rounds observations; returns the sink and seconds."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    moment = [START]
    sink = StorageSink(engine, lambda: moment[0])
    sink.add_video(VideoInput("bench", "bench"))
    sink.record_posts("bench", [PostRef("youtube", f"v{i}") for i in range(POSTS)])
    began = time.perf_counter()
    for r in range(rounds):
        at = START + timedelta(minutes=10 * r)
        sink.record_observations(
            [
                Observation("youtube", f"v{i}", at, views=r * i, likes=r, comments=i)
                for i in range(POSTS)
            ]
        )
    return sink, time.perf_counter() - began


def _raw_insert(path: Path, rounds: int) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE obs (post_id INTEGER, observed_at TEXT, views INTEGER, likes INTEGER,"
        " shares INTEGER, comments INTEGER, quotes INTEGER, UNIQUE(post_id, observed_at))"
    )
    began = time.perf_counter()
    for r in range(rounds):
        at = (START + timedelta(minutes=10 * r)).isoformat()
        with conn:
            conn.executemany(
                "INSERT INTO obs VALUES (?, ?, ?, ?, NULL, ?, NULL)",
                [(i, at, r * i, r, i) for i in range(POSTS)],
            )
    elapsed = time.perf_counter() - began
    conn.close()
    return elapsed


def _export(sink: StorageSink) -> int:
    rows = read.iter_observations(sink.engine, read.PostFilter())
    return write_csv(rows, OBSERVATION_COLUMNS, _Null())


def _export_seconds_and_peak(sink: StorageSink) -> tuple[float, int, int]:
    """Seconds (untraced run), peak traced Python memory (second run) and row count."""
    began = time.perf_counter()
    count = _export(sink)
    elapsed = time.perf_counter() - began
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
        " o.shares, o.comments, o.quotes FROM observations o JOIN posts p ON p.id = o.post_id"
        " JOIN tracked_videos v ON v.id = p.video_id ORDER BY o.post_id, o.observed_at"
    )
    for row in cursor:
        writer.writerow(row)
    conn.close()
    return time.perf_counter() - began


class _Null(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def run() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        small, _ = _filled(tmp_path / "small.db", max(1, ROUNDS // 10))
        sink, ours = _filled(tmp_path / "big.db", ROUNDS)
        raw = _raw_insert(tmp_path / "raw.db", ROUNDS)
        rows = POSTS * ROUNDS
        small_time, small_peak, small_rows = _export_seconds_and_peak(small)
        big_time, big_peak, big_rows = _export_seconds_and_peak(sink)
        raw_export = _raw_export_seconds(tmp_path / "big.db")
    return {
        "storage.write_observations (sqlite)": {
            "rows": rows,
            "viralwatch rows/s": rows / ours,
            "raw sqlite3 executemany rows/s (baseline)": rows / raw,
            "time ratio viralwatch / baseline": ours / raw,
        },
        "storage.export_observations_csv (sqlite)": {
            "rows": big_rows,
            "viralwatch rows/s": big_rows / big_time,
            "time ratio viralwatch / raw sqlite3+csv": big_time / raw_export,
            f"peak memory ratio {big_rows} rows / {small_rows} rows": big_peak / max(small_peak, 1),
            "peak memory MiB (large export)": big_peak / 2**20,
            "baseline small export seconds": small_time,
        },
    }
