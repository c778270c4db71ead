"""The benchmark dataset of issue 7, built once and cached under bench-results/.

One video with 10,000 posts (9,000 carrying the footage, 500 of them quotes; 1,000 reshare edges
without counters), `VIRALWATCH_BENCH_OBS` observations (default 10 million; every post read once
an hour from when it appeared) and a year of collector runs (`VIRALWATCH_BENCH_RUNS`, default
800,000). Observations, both rollups and `posts.latest_*` are bulk-loaded with raw sqlite3
`executemany`, consistent with what `StorageSink.record_observations` would have written, so
the dashboard's rollup answers can be checked against the raw rows.

The SQLite file is kept as bench-results/dataset-<observations>-<runs>-v<VERSION>.db and the
PostgreSQL copy (loaded by COPY) as schema bench_ds_<observations>_<runs>_v<VERSION>_pg<N>; a rerun
finds them and only applies newer migrations. `make clean` removes the SQLite file.
Quick checks: `VIRALWATCH_BENCH_OBS=1000000 VIRALWATCH_BENCH_RUNS=20000 make bench`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from collectors.base import PostRef
from storage import partitions
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput

VERSION = 1  # bump when the generated rows change: old caches are then ignored
# Bump when the PostgreSQL copy changes (2: post_videos is copied too; without it the video
# pages read no posts on PostgreSQL).
POSTGRES_VERSION = 2
SLUG = "bench"
OBSERVATIONS = int(
    os.environ.get(
        "VIRALWATCH_BENCH_OBS", os.environ.get("VIRALWATCH_BENCH_DASHBOARD_OBS", "10000000")
    )
)
COLLECTOR_RUNS = int(os.environ.get("VIRALWATCH_BENCH_RUNS", "800000"))  # a year: ~2,200 a day
POSTGRES_URL = os.environ.get(
    "VIRALWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CACHE = Path("bench-results")
COUNTED_POSTS = 9_000
QUOTES = 500  # of the counted posts, the last QUOTES quote one of the first ones
RESHARE_EDGES = 1_000
POSTS = COUNTED_POSTS + RESHARE_EDGES
PLATFORMS = ("youtube", "x", "reddit", "bluesky", "mastodon", "telegram")
START = datetime(2024, 3, 1, tzinfo=UTC)
STAMP = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores UTC datetimes in SQLite


@dataclass(frozen=True)
class Dataset:
    path: Path
    end: datetime
    """The moment the data ends (the dashboard's "now")."""
    observations: int


def _key() -> str:
    return f"{OBSERVATIONS}_{COLLECTOR_RUNS}_v{VERSION}"


def sqlite_dataset() -> Dataset:
    """The cached SQLite dataset (built on first use), upgraded to the current schema."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"dataset-{_key()}.db"
    meta = path.with_suffix(".json")
    if not (path.exists() and meta.exists()):
        building = path.with_suffix(".building")
        building.unlink(missing_ok=True)
        end, count = _fill(building)
        building.rename(path)
        Path(f"{building}.upgrade-lock").unlink(missing_ok=True)
        meta.write_text(json.dumps({"end": end.isoformat(), "observations": count}))
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    info = json.loads(meta.read_text())
    return Dataset(path, datetime.fromisoformat(info["end"]), int(info["observations"]))


def postgres_dataset(data: Dataset) -> str:
    """The URL of a PostgreSQL schema holding a COPY of `data` (built on first use)."""
    schema = f"bench_ds_{_key()}_pg{POSTGRES_VERSION}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        ready = conn.execute(
            text(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = :s "
                "AND table_name = 'bench_ready'"
            ),
            {"s": schema},
        ).first()
        if ready is None:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    engine = make_engine(rendered)
    if ready is None:
        _copy_to_postgres(data.path, engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE bench_ready (done INTEGER)")
    else:
        upgrade(engine)
    engine.dispose()
    return rendered


def _hours_for(observations: int) -> int:
    # Post k appears in hour a_k, uniform over the first half, then is read every hour: on
    # average 3/4 of the hours each.
    return max(4, round(observations / COUNTED_POSTS / 0.75))


def _fill(path: Path) -> tuple[datetime, int]:
    """The database; returns the moment the data ends and the observation count."""
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
    engine.dispose()
    return end, count


def _fill_observations(
    path: Path, hours: int, appear: np.ndarray, platform_of: np.ndarray, rng: Any
) -> int:
    """Observations, rollup and latest counters, as record_observations would leave them."""
    conn = sqlite3.connect(path)
    ids = dict(conn.execute("SELECT platform_post_id, id FROM posts"))
    video_id = conn.execute("SELECT id FROM tracked_videos WHERE slug = ?", (SLUG,)).fetchone()[0]
    stamps = [(START + timedelta(minutes=m)).strftime(STAMP) for m in range(hours * 60)]
    rates = rng.integers(5, 500, COUNTED_POSTS)
    # Per bucket: growth of the four counters, then the part of it that is first readings.
    deltas = np.zeros((len(PLATFORMS), hours, 8), dtype=np.int64)
    readings = [[0] * hours for _ in PLATFORMS]
    # The same growth per 5-minute bucket (each post is read at minute k % 60 of every hour).
    deltas5 = np.zeros((len(PLATFORMS), hours, 12, 8), dtype=np.int64)
    readings5 = np.zeros((len(PLATFORMS), hours, 12), dtype=np.int64)
    rows: list[tuple[Any, ...]] = []
    latest: list[tuple[Any, ...]] = []
    count = 0
    for k in range(COUNTED_POSTS):
        at_hours = np.arange(int(appear[k]), hours)
        views = (rates[k] * (at_hours - appear[k] + 1) ** 1.3).astype(np.int64)
        counters = np.stack([views, views // 20, views // 100, views // 200], axis=1)
        step = np.diff(counters, axis=0, prepend=np.zeros((1, 4), dtype=np.int64))
        np.add.at(deltas[platform_of[k], :, :4], at_hours, step)
        deltas[platform_of[k], at_hours[0], 4:] += counters[0]
        for h in at_hours.tolist():
            readings[platform_of[k]][h] += 1
        minute = k % 60
        np.add.at(deltas5[platform_of[k], :, minute // 5, :4], at_hours, step)
        deltas5[platform_of[k], at_hours[0], minute // 5, 4:] += counters[0]
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
        f"INSERT INTO {table} (video_id, platform, bucket_start, views_delta, likes_delta, "
        "shares_delta, comments_delta, views_baseline, likes_baseline, shares_baseline, "
        "comments_baseline, quotes_delta, quotes_baseline, observations) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?)",
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


TABLES = (
    "tracked_videos",
    "posts",
    "post_videos",
    "observations",
    "video_hourly",
    "video_5min",
    "collector_runs",
    "collector_latest_runs",
)


def _copy_to_postgres(path: Path, engine: Engine) -> None:
    """The SQLite database's rows into an upgraded PostgreSQL schema, table by table, by COPY."""
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
