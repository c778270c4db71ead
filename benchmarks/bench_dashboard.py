"""Dashboard and export reads at issue 7's size, on SQLite and PostgreSQL (issues 7 and 11).

The dataset is benchmarks/dataset.py's (10,000 posts, 10 million observations, a year of
collector runs; cached under bench-results/, smaller with `VIRALWATCH_BENCH_OBS` and
`VIRALWATCH_BENCH_RUNS`). Every figure is a median of REPEATS warm requests through the ASGI
app in process:

- the video page's HTML and its live data (`/live/videos/{slug}`, what the page refreshes
  from) for every range, with all measures (velocity, bursts, forecast, overperformance,
  spread) computed, as the first request after new data; the measures computed alone; and the
  page repeated within the minute with no new data (measures reused);
- the overview, a post page, the series API, the collectors table, the "growing now"
  leaderboard, and the first row of an unfiltered observations export.

Targets (issue 7): video page at most 300 ms, overview at most 100 ms median. The series API is
also compared with the raw SQL aggregate over observations it replaces (SQLite, same run), and
both answers must agree bucket for bucket.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from benchmarks.benchmarks_doc import print_figures
from benchmarks.dataset import (
    COLLECTOR_RUNS,
    POSTS,
    SLUG,
    Dataset,
    postgres_dataset,
    sqlite_dataset,
)
from dashboard.app import create_app
from dashboard.context import Dashboard
from dashboard.measures import video_measures
from dashboard.params import View, parse_window
from storage import read
from storage.db import make_engine
from storage.write import StorageSink
from viralwatch.catalog import dashboard_platforms, settings_model

REPEATS = int(os.environ.get("VIRALWATCH_BENCH_REPEATS", "5"))
RANGES = ("1h", "24h", "7d", "all")
VIDEO_TARGET_MS = 300.0
OVERVIEW_TARGET_MS = 100.0

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


CPU_MS: dict[str, float] = {}
"""Median process CPU time of the requests measured last, by name: on a machine shared with other
work, wall time mostly measures the others; this process's CPU time (the whole request on
SQLite, the client side on PostgreSQL) does not."""


def _median_ms(
    action: Callable[[], Any], repeats: int = REPEATS, name: str = ""
) -> tuple[float, Any]:
    result = action()  # warm: both sides read a warm page cache
    times, cpu = [], []
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = action()
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    if name:
        CPU_MS[name] = statistics.median(cpu) * 1000
    return statistics.median(times) * 1000, result


def _get(client: TestClient, url: str) -> Any:
    response = client.get(url)
    response.raise_for_status()
    return response


def _baseline(data: Dataset) -> dict[str, dict[str, int]]:
    """Cumulative views per platform and hour, straight from the raw observations."""
    conn = sqlite3.connect(data.path)
    video_id = conn.execute("SELECT id FROM tracked_videos WHERE slug = ?", (SLUG,)).fetchone()[0]
    result: dict[str, dict[str, int]] = {}
    for platform, hour, views in conn.execute(BASELINE_SQL, (video_id,)):
        result.setdefault(platform, {})[hour] = views
    conn.close()
    return result


def _check_same(api: dict[str, Any], baseline: dict[str, dict[str, int]]) -> None:
    for platform, values in api["platforms"].items():
        starts = [s.replace("T", " ").removesuffix("Z") for s in api["bucket_starts"]]
        expected = [baseline[platform].get(s) for s in starts]
        got = [v for v, e in zip(values, expected, strict=True) if e is not None]
        if got != [e for e in expected if e is not None]:
            raise AssertionError(f"series and baseline disagree for {platform}")


def _video_pages(client: TestClient, dash: Dashboard) -> dict[str, float]:
    """Each range's page, live data and measures: first as the request after new data (the
    measures cache emptied first, so they are computed), then as a repeated request within the
    minute with no new data (measures reused: dashboard/measures_cache.py)."""
    figures: dict[str, float] = {}
    worst = 0.0
    for name in RANGES:
        query = f"?range={name}"

        def fresh(url: str) -> Any:
            dash.measures.clear()
            return _get(client, url)

        page = f"/videos/{SLUG}{query}"
        live = f"/live/videos/{SLUG}{query}"
        page_ms, found = _median_ms(lambda u=page: fresh(u), name=name)
        live_ms, _ = _median_ms(lambda u=live: fresh(u), name=f"{name} live")
        view = View(parse_window(name, None, None, dash.clock()), ())
        measures_ms, _ = _median_ms(
            lambda v=view: video_measures(
                dash.engine, SLUG, v.window, (), dash.clock(), dash.platforms
            ),
            name=f"{name} measures",
        )
        warm_ms, _ = _median_ms(lambda u=page: _get(client, u), name=f"{name} warm")
        worst = max(worst, page_ms, live_ms)
        figures[f"video page {name} HTML ms (measures computed)"] = page_ms
        figures[f"video page {name} HTML CPU ms (this process)"] = CPU_MS[name]
        figures[f"video page {name} data ms (live JSON, measures computed)"] = live_ms
        figures[f"video page {name} data CPU ms (this process)"] = CPU_MS[f"{name} live"]
        figures[f"video page {name} measures computed ms"] = measures_ms
        figures[f"video page {name} measures computed CPU ms"] = CPU_MS[f"{name} measures"]
        figures[f"video page {name} HTML ms, repeated (measures reused)"] = warm_ms
        figures[f"video page {name} HTML CPU ms, repeated"] = CPU_MS[f"{name} warm"]
        figures[f"video page {name} KiB"] = len(found.content) / 1024
    figures[f"video page worst / target {VIDEO_TARGET_MS:g} ms"] = worst / VIDEO_TARGET_MS
    return figures


def _first_export_row(engine: Engine) -> Any:
    rows = read.iter_observations(engine, read.PostFilter())
    first = next(rows)
    rows.close()  # type: ignore[attr-defined]
    return first


def _pages(engine: Engine, data: Dataset) -> dict[str, float]:
    sink = StorageSink(engine, lambda: data.end)
    app = create_app(engine, settings_model()(), sink, lambda: data.end, dashboard_platforms())
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        figures = _video_pages(client, app.state.dashboard)
        others = {
            "overview": "/",
            "post page": "/posts/5000",
            "series API (views, all)": f"/api/videos/{SLUG}/series?metric=views&bucket=1h",
            "collectors table": "/api/collectors",
            "growing-now leaderboard": "/growing",
        }
        for name, url in others.items():
            figures[f"{name} ms"], _ = _median_ms(lambda u=url: _get(client, u), name=name)
            figures[f"{name} CPU ms (this process)"] = CPU_MS[name]
    figures["unfiltered export first row ms"], _ = _median_ms(lambda: _first_export_row(engine))
    figures[f"overview / target {OVERVIEW_TARGET_MS:g} ms"] = (
        figures["overview ms"] / OVERVIEW_TARGET_MS
    )
    return figures


def run() -> dict[str, dict[str, float]]:
    began = time.perf_counter()
    data = sqlite_dataset()
    prepare_seconds = time.perf_counter() - began
    engine = make_engine(f"sqlite:///{data.path}")
    size = f"{POSTS} posts, {data.observations} observations, {COLLECTOR_RUNS} runs"
    results: dict[str, dict[str, float]] = {}
    figures = _pages(engine, data)
    app = create_app(
        engine,
        settings_model()(),
        StorageSink(engine, lambda: data.end),
        lambda: data.end,
        dashboard_platforms(),
    )
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        api_ms, api = _median_ms(
            # Hourly buckets, as the raw aggregate it is checked against (auto would pick 6 h).
            lambda: _get(client, f"/api/videos/{SLUG}/series?metric=views&bucket=1h").json()
        )
    baseline_ms, baseline = _median_ms(lambda: _baseline(data), repeats=1)
    _check_same(api, baseline)
    figures["dataset ready seconds (cached after the first run)"] = prepare_seconds
    figures["raw SQL aggregate for the series ms (baseline)"] = baseline_ms
    figures["time ratio series API / raw aggregate"] = api_ms / baseline_ms
    results[f"dashboard ({size}, sqlite)"] = figures
    engine.dispose()
    began = time.perf_counter()
    url = postgres_dataset(data)
    prepare_seconds = time.perf_counter() - began
    engine = make_engine(url)
    figures = _pages(engine, data)
    figures["dataset ready seconds (COPY on the first run)"] = prepare_seconds
    results[f"dashboard ({size}, postgresql)"] = figures
    engine.dispose()
    return results


if __name__ == "__main__":
    print_figures(run())
