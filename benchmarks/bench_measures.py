"""The video page with all measures (issue 11) against the same page's cost without them.

Same database as benchmarks/bench_dashboard.py (one video, 10,000 posts, `VIRALWATCH_BENCH_
DASHBOARD_OBS` observations, default one million), filled by its `_fill`. Measured in one run:
- the whole video page through the ASGI app (cumulative charts, table, cascade and measures:
  velocity per platform and hour, bursts, forecast and spread);
- the measures alone (`/api/videos/{slug}/measures`: the same call the page makes);
- the page without measures, as the difference of the two;
- a post page (velocity, overperformance against up to 200 peers) and the leaderboard.
Target: the video page within the dashboard's latency target, a median of 300 ms.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from benchmarks.bench_dashboard import (
    COUNTED_POSTS,
    RESHARE_EDGES,
    SLUG,
    _fill,
    _get,
    _median_ms,
)
from dashboard.app import create_app
from viralwatch.catalog import dashboard_platforms, settings_model

TARGET_MS = 300.0


def run() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        sink, end, observations = _fill(Path(tmp) / "measures.db")
        app = create_app(sink.engine, settings_model()(), sink, lambda: end, dashboard_platforms())
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            page_ms, _ = _median_ms(lambda: _get(client, f"/videos/{SLUG}"))
            measures_ms, _ = _median_ms(lambda: _get(client, f"/api/videos/{SLUG}/measures"))
            post_ms, _ = _median_ms(lambda: _get(client, "/posts/5000"))
            growing_ms, _ = _median_ms(lambda: _get(client, "/growing"))
        sink.engine.dispose()
    without_ms = max(page_ms - measures_ms, 1e-9)
    posts = COUNTED_POSTS + RESHARE_EDGES
    return {
        f"dashboard.measures ({posts} posts, {observations} observations, sqlite)": {
            "video page with measures ms (median)": page_ms,
            "measures alone ms (api /measures)": measures_ms,
            "video page without measures ms (difference)": without_ms,
            "time ratio page with / without measures": page_ms / without_ms,
            "post page ms": post_ms,
            "growing-now leaderboard ms": growing_ms,
            f"video page under {TARGET_MS:g} ms (1 = yes)": float(page_ms < TARGET_MS),
        }
    }


if __name__ == "__main__":
    for name, figures in run().items():
        print(f"{name}:")
        for key, value in figures.items():
            print(f"  {key:<45} {value:,.3f}")
