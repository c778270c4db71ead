"""What one alert evaluation costs (issue 12), against a threshold rule's pass measured in the
same run. The daemon's alert thread evaluates every rule after each write, so the burst and
overperform rules (the analytics measures, as on the dashboard) must stay cheap next to it.

Same database as benchmarks/bench_dashboard.py: benchmarks/dataset.py's cached one (one video,
10,000 posts, `VIRALWATCH_BENCH_DASHBOARD_OBS` observations). Each rule is evaluated through
`alerts.rules.evaluate` (reads only: nothing fires, so every pass does the full work).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from alerts.measures import Measures
from alerts.rules import Scope, evaluate
from benchmarks.bench_dashboard import _get, _median_ms
from benchmarks.benchmarks_doc import print_figures
from benchmarks.dataset import SLUG, sqlite_dataset
from config.settings import AlertRuleSettings
from dashboard.app import create_app
from storage.db import make_engine
from storage.write import StorageSink
from viralwatch.catalog import dashboard_platforms, settings_model

KINDS = {
    "threshold": {"threshold": 1_000_000},
    "burst": {},
    "burst per platform": {"kind": "burst", "platform": "each"},
    "overperform": {},
    "new_platform": {},
    "digest": {},
}


def run() -> dict[str, dict[str, float]]:
    # Evaluating reads only (nothing fires), so the cached dataset is used as it is.
    data = sqlite_dataset()
    end, observations = data.end, data.observations
    sink = StorageSink(make_engine(f"sqlite:///{data.path}"), lambda: end)
    scope = Scope(sink.engine, SLUG, end, ZoneInfo("UTC"))
    measures = Measures()
    timings = {}
    for name, options in KINDS.items():
        kind = str(options.pop("kind", name))
        rule = AlertRuleSettings.model_validate(
            {"name": "bench", "kind": kind, "targets": ["t"], **options}
        )
        timings[name], _ = _median_ms(lambda r=rule: evaluate(scope, r, measures))
    app = create_app(sink.engine, settings_model()(), sink, lambda: end, dashboard_platforms())
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        page_measures_ms, _ = _median_ms(lambda: _get(client, f"/api/videos/{SLUG}/measures"))
    sink.engine.dispose()
    baseline = max(timings["threshold"], 1e-9)
    figures = {f"{name} rule ms (median)": ms for name, ms in timings.items()}
    figures |= {f"ratio {name} / threshold": ms / baseline for name, ms in timings.items()}
    figures["video page measures ms (api, reference)"] = page_measures_ms
    figures["ratio burst / video page measures"] = timings["burst"] / page_measures_ms
    return {f"alerts.evaluate (10000 posts, {observations} observations, sqlite)": figures}


if __name__ == "__main__":
    print_figures(run())
