"""Dashboard reads against the straightforward SQL they replace, measured in the same run.

A SQLite database holds one video with 10,000 posts (9,000 carrying the footage, 500 of them
quotes; 1,000 reshare edges without counters) and about a million observations
(`VIRALWATCH_BENCH_DASHBOARD_OBS`). It is filled with raw sqlite3 `executemany`, together with the
hourly rollup rows and `posts.latest_*` exactly as `StorageSink.record_observations` would
write them: every post is read once an hour, so both answers can be checked against each other.

- series: `/api/videos/{slug}/series?metric=views` through the ASGI app in process (and
  `counter_series` alone) against the aggregate the rollup replaces: per post and hour the
  highest reading, summed per platform and hour, over the raw observations (raw sqlite3).
  The two answers must agree bucket for bucket.
- pages: the whole video page and the overview through the ASGI app (issue 7 targets: video
  page at most 300 ms, overview at most 100 ms median), with a year of collector runs (800,000
  rows), on SQLite and on a PostgreSQL copy of the same data (loaded with COPY).

`VIRALWATCH_BENCH_DASHBOARD_OBS` sets the observation count (default 10 million).
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from benchmarks.bench_storage import _postgres_schema
from collectors.base import PostRef
from dashboard.app import create_app
from dashboard.series import counter_series
from dashboard.timegrid import Window
from storage import partitions
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput
from viralwatch.catalog import dashboard_platforms, settings_model

SLUG = "bench"
OBSERVATIONS = int(os.environ.get("VIRALWATCH_BENCH_DASHBOARD_OBS", "10000000"))
COLLECTOR_RUNS = int(os.environ.get("VIRALWATCH_BENCH_RUNS", "800000"))  # a year: ~2,200 a day
POSTGRES_URL = os.environ.get(
    "VIRALWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
COUNTED_POSTS = 9_000
QUOTES = 500  # of the counted posts, the last QUOTES quote one of the first ones
RESHARE_EDGES = 1_000
PLATFORMS = ("youtube", "x", "reddit", "bluesky", "mastodon", "telegram")
START = datetime(2024, 3, 1, tzinfo=UTC)
REPEATS = 5
STAMP = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores UTC datetimes in SQLite

BASELINE_SQL = """
SELECT platform, hour, SUM(views) FROM (
    SELECT p.platform AS platform, strftime('%Y-%m-%d %H:00:00', o.observed_at) AS hour,
           MAX(o.views) AS views
    FROM observations o JOIN posts p ON p.id = o.post_id
    JOIN post_videos l ON l.post_id = p.id
    WHERE l.video_id = ?
    GROUP BY o.post_id, hour
) GROUP BY platform, hour ORDER BY hour, platform
"""


def _hours_for(observations: int) -> int:
    # Post k appears in hour a_k, uniform over the first half, then is read every hour: on
    # average 3/4 of the hours each.
    return max(4, round(observations / COUNTED_POSTS / 0.75))


def _fill(path: Path) -> tuple[StorageSink, datetime, int]:
    """The database; returns the sink, the moment the data ends and the observation count."""
    hours = _hours_for(OBSERVATIONS)
    end = START + timedelta(hours=hours)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    moment = [START]
    sink = StorageSink(engine, lambda: moment[0])
    sink.add_video(VideoInput(SLUG, "Benchmark footage", keywords=("bench",)))
    rng = np.random.default_rng(7)
    appear = np.sort(rng.integers(0, max(1, hours // 2), COUNTED_POSTS))
    platform_of = np.arange(COUNTED_POSTS) % len(PLATFORMS)
    refs = []
    for k in range(COUNTED_POSTS):
        platform = PLATFORMS[platform_of[k]]
        parent = k - (COUNTED_POSTS - QUOTES)
        refs.append(
            PostRef(
                platform=platform,
                platform_post_id=f"p{k}",
                url=f"https://{platform}.example/p{k}",
                author=f"author{k}",
                published_at=START + timedelta(hours=int(appear[k])),
                matched_by="keyword:bench",
                parent_platform=PLATFORMS[platform_of[parent]] if parent >= 0 else None,
                parent_platform_post_id=f"p{parent}" if parent >= 0 else None,
                relation="quote" if parent >= 0 else None,
            )
        )
    for e in range(RESHARE_EDGES):
        parent = e % 20
        refs.append(
            PostRef(
                platform=PLATFORMS[platform_of[parent]],
                platform_post_id=f"p{parent}#reshare-{e}",
                author=f"resharer{e}",
                matched_by="cascade",
                parent_platform=PLATFORMS[platform_of[parent]],
                parent_platform_post_id=f"p{parent}",
                relation="reshare",
            )
        )
    sink.record_posts(SLUG, refs)
    count = _fill_observations(path, hours, appear, platform_of, rng)
    return sink, end, count


def _fill_observations(
    path: Path, hours: int, appear: np.ndarray, platform_of: np.ndarray, rng: Any
) -> int:
    """Observations, rollup and latest counters, as record_observations would leave them."""
    conn = sqlite3.connect(path)
    ids = dict(conn.execute("SELECT platform_post_id, id FROM posts"))
    video_id = conn.execute("SELECT id FROM tracked_videos WHERE slug = ?", (SLUG,)).fetchone()[0]
    stamps = [(START + timedelta(minutes=m)).strftime(STAMP) for m in range(hours * 60)]
    rates = rng.integers(5, 500, COUNTED_POSTS)
    deltas = np.zeros((len(PLATFORMS), hours, 4), dtype=np.int64)
    readings = [[0] * hours for _ in PLATFORMS]
    # The same growth per 5-minute bucket (each post is read at minute k % 60 of every hour).
    deltas5 = np.zeros((len(PLATFORMS), hours, 12, 4), dtype=np.int64)
    readings5 = np.zeros((len(PLATFORMS), hours, 12), dtype=np.int64)
    rows: list[tuple[Any, ...]] = []
    latest: list[tuple[Any, ...]] = []
    count = 0
    for k in range(COUNTED_POSTS):
        at_hours = np.arange(int(appear[k]), hours)
        views = (rates[k] * (at_hours - appear[k] + 1) ** 1.3).astype(np.int64)
        counters = np.stack([views, views // 20, views // 100, views // 200], axis=1)
        step = np.diff(counters, axis=0, prepend=np.zeros((1, 4), dtype=np.int64))
        np.add.at(deltas[platform_of[k]], at_hours, step)
        for h in at_hours.tolist():
            readings[platform_of[k]][h] += 1
        minute = k % 60
        np.add.at(deltas5[platform_of[k], :, minute // 5], at_hours, step)
        np.add.at(readings5[platform_of[k], :, minute // 5], at_hours, 1)
        post_id = ids[f"p{k}"]
        rows.extend(
            (post_id, stamps[h * 60 + minute], v, lk, sh, cm)
            for h, v, lk, sh, cm in zip(at_hours.tolist(), *counters.T.tolist(), strict=True)
        )
        last_hour = int(at_hours[-1])
        latest.append((stamps[last_hour * 60 + minute], *counters[-1].tolist(), post_id))
        count += len(at_hours)
        if len(rows) >= 200_000:
            _insert(conn, rows)
            rows.clear()
    _insert(conn, rows)
    with conn:
        conn.executemany(
            "UPDATE posts SET latest_observed_at = ?, latest_views = ?, latest_likes = ?, "
            "latest_shares = ?, latest_comments = ? WHERE id = ?",
            latest,
        )
        _insert_rollup(
            conn,
            "video_hourly",
            [
                (video_id, PLATFORMS[p], stamps[h * 60], *deltas[p, h].tolist(), readings[p][h])
                for p in range(len(PLATFORMS))
                for h in range(hours)
                if readings[p][h]
            ],
        )
        _insert_rollup(
            conn,
            "video_5min",
            [
                (
                    video_id,
                    PLATFORMS[p],
                    stamps[h * 60 + b * 5],
                    *deltas5[p, h, b].tolist(),
                    int(readings5[p, h, b]),
                )
                for p in range(len(PLATFORMS))
                for h in range(hours)
                for b in range(12)
                if readings5[p, h, b]
            ],
        )
    _fill_runs(conn, START + timedelta(hours=hours))
    conn.execute("ANALYZE")
    conn.close()
    return count


def _insert_rollup(conn: sqlite3.Connection, table: str, rows: list[tuple[Any, ...]]) -> None:
    # Quotes stay 0: the benchmark's posts expose views, likes, shares and comments only.
    conn.executemany(
        f"INSERT INTO {table} (video_id, platform, bucket_start, views_delta, "
        "likes_delta, shares_delta, comments_delta, quotes_delta, observations) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
        rows,
    )


def _fill_runs(conn: sqlite3.Connection, end: datetime) -> None:
    """A year of collector runs up to `end` in one bulk INSERT … SELECT, and the newest run of
    each collector and kind as the writer keeps it."""
    step = 365 * 24 * 3600 / COLLECTOR_RUNS
    first = (end - timedelta(days=365)).strftime(STAMP)
    names = ", ".join(f"'{p}'" for p in PLATFORMS)
    with conn:
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO collector_runs (collector, kind, started_at, finished_at, status, "
            "requests, posts_found, observations_written) "
            f"SELECT json_extract(json_array({names}), '$[' || (i % {len(PLATFORMS)}) || ']'), "
            "CASE WHEN i % 2 THEN 'refresh' ELSE 'discover' END, "
            "strftime('%Y-%m-%d %H:%M:%f000', ?, '+' || (i * ?) || ' seconds'), "
            "strftime('%Y-%m-%d %H:%M:%f000', ?, '+' || (i * ? + 2) || ' seconds'), "
            "CASE WHEN i % 97 = 0 THEN 'failed' ELSE 'ok' END, 3, 0, 10 FROM n",
            (COLLECTOR_RUNS - 1, first, step, first, step),
        )
        conn.execute(
            "INSERT INTO collector_latest_runs (collector, kind, run_id) "
            "SELECT collector, kind, max(id) FROM collector_runs GROUP BY collector, kind"
        )


def _insert(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    with conn:
        conn.executemany(
            "INSERT INTO observations (post_id, observed_at, views, likes, shares, comments) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )


def _baseline(path: Path) -> dict[str, dict[str, int]]:
    """Cumulative views per platform and hour, straight from the raw observations."""
    conn = sqlite3.connect(path)
    video_id = conn.execute("SELECT id FROM tracked_videos WHERE slug = ?", (SLUG,)).fetchone()[0]
    result: dict[str, dict[str, int]] = {}
    for platform, hour, views in conn.execute(BASELINE_SQL, (video_id,)):
        result.setdefault(platform, {})[hour] = views
    conn.close()
    return result


def _median_ms(action: Callable[[], Any]) -> tuple[float, Any]:
    result = action()  # warm caches: both sides read a warm SQLite page cache
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000, result


def _check_same(api: dict[str, Any], baseline: dict[str, dict[str, int]]) -> None:
    for platform, values in api["platforms"].items():
        starts = [s.replace("T", " ").removesuffix("Z") for s in api["bucket_starts"]]
        expected = [baseline[platform].get(s) for s in starts]
        got = [v for v, e in zip(values, expected, strict=True) if e is not None]
        if got != [e for e in expected if e is not None]:
            raise AssertionError(f"series and baseline disagree for {platform}")


TABLES = (
    "tracked_videos",
    "posts",
    "observations",
    "video_hourly",
    "video_5min",
    "collector_runs",
    "collector_latest_runs",
)


def _copy_to_postgres(path: Path, url: str) -> None:
    """The SQLite database's rows into an upgraded PostgreSQL schema, table by table, by COPY."""
    engine = make_engine(url)
    upgrade(engine)
    lite = sqlite3.connect(path)
    with engine.begin() as conn:
        first, last = lite.execute(
            "SELECT min(observed_at), max(observed_at) FROM observations"
        ).fetchone()
        months = [datetime.fromisoformat(first).replace(tzinfo=UTC)]
        while months[-1] < datetime.fromisoformat(last).replace(tzinfo=UTC):
            months.append(partitions.next_month(partitions.month_start(months[-1])))
        partitions.ensure_partitions(conn, months)
        conn.exec_driver_sql("SET TIME ZONE 'UTC'")
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for table in TABLES:
            columns = [row[1] for row in lite.execute(f"PRAGMA table_info({table})")]
            listed = ", ".join(columns)
            with cursor.copy(f"COPY {table} ({listed}) FROM STDIN") as copy:
                for row in lite.execute(f"SELECT {listed} FROM {table}"):
                    copy.write_row(row)
        for table in ("tracked_videos", "posts", "collector_runs"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    lite.close()
    engine.dispose()


def _pages(engine: Any, sink: StorageSink, end: datetime) -> dict[str, float]:
    app = create_app(engine, settings_model()(), sink, lambda: end, dashboard_platforms())
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        page_ms, page = _median_ms(lambda: _get(client, f"/videos/{SLUG}"))
        live_ms, _ = _median_ms(lambda: _get(client, f"/live/videos/{SLUG}"))
        overview_ms, _ = _median_ms(lambda: _get(client, "/"))
    return {
        "video page ms (target <= 300)": page_ms,
        "video page KiB": len(page.content) / 1024,
        "video page live refresh ms": live_ms,
        "overview ms (target <= 100)": overview_ms,
    }


def _get(client: TestClient, url: str) -> Any:
    response = client.get(url)
    response.raise_for_status()
    return response


def run() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dashboard.db"
        began = time.perf_counter()
        sink, end, observations = _fill(path)
        fill_seconds = time.perf_counter() - began
        app = create_app(sink.engine, settings_model()(), sink, lambda: end, dashboard_platforms())
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            baseline_ms, baseline = _median_ms(lambda: _baseline(path))
            api_ms, api = _median_ms(
                lambda: _get(client, f"/api/videos/{SLUG}/series?metric=views").json()
            )
            _check_same(api, baseline)
            function_ms, _ = _median_ms(
                lambda: counter_series(sink.engine, SLUG, "views", Window("all", None, end))
            )
        pages = {"sqlite": _pages(sink.engine, sink, end)}
        sink.engine.dispose()
        with _postgres_schema() as url:
            began = time.perf_counter()
            _copy_to_postgres(path, url)
            copy_seconds = time.perf_counter() - began
            engine = make_engine(url)
            pages["postgresql"] = _pages(engine, StorageSink(engine, lambda: end), end)
            pages["postgresql"]["copy from sqlite seconds"] = copy_seconds
            engine.dispose()
    posts = COUNTED_POSTS + RESHARE_EDGES
    results = {
        f"dashboard.series_views ({posts} posts, {observations} observations, sqlite)": {
            "observations": observations,
            "fill seconds (raw sqlite3 + rollup + runs)": fill_seconds,
            "baseline raw aggregate ms": baseline_ms,
            "api /series ms (ASGI in process)": api_ms,
            "counter_series ms (rollup)": function_ms,
            "time ratio api / baseline": api_ms / baseline_ms,
            "time ratio counter_series / baseline": function_ms / baseline_ms,
        },
    }
    for backend, figures in pages.items():
        key = f"dashboard.pages ({posts} posts, {COLLECTOR_RUNS} runs, {backend})"
        results[key] = figures
    return results


if __name__ == "__main__":
    for name, figures in run().items():
        print(f"{name}:")
        for key, value in figures.items():
            print(f"  {key:<45} {value:,.3f}")
