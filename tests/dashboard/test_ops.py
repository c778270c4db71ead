"""`/healthz`, `/metrics` and a dead daemon on the collectors table (issues 8 and 13)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from pydantic import SecretStr

from collectors.base import RunReport
from config.settings import DashboardSettings
from dashboard.app import create_app
from storage import health
from viralwatch.catalog import dashboard_platforms, settings_model
from viralwatch.metrics import Metrics


def beat(engine, clock, interval=30.0):
    row = health.HeartbeatRow("host:7:ab", "host", 7, clock(), clock(), interval, None)
    health.beat(engine, row)


def test_live_answers_without_a_database_check(dash_client: TestClient) -> None:
    assert dash_client.get("/healthz/live").json() == {"status": "live"}


def test_ready_needs_a_fresh_heartbeat(dash_client, dash_engine, dash_clock) -> None:
    first = dash_client.get("/healthz")
    assert first.status_code == 503
    assert first.json()["checks"] == {"database": "ok", "daemon": "no daemon has run"}
    beat(dash_engine, dash_clock)
    assert dash_client.get("/healthz").json() == {
        "status": "ready",
        "checks": {"database": "ok", "daemon": "ok"},
    }
    beat_at = dash_clock.now
    dash_clock.now += timedelta(seconds=61)  # two intervals missed
    late = dash_client.get("/healthz")
    assert late.status_code == 503
    assert late.json()["checks"]["daemon"] == f"not running since {beat_at.isoformat()}"


def test_collectors_say_daemon_not_running_instead_of_ok(
    dash_client, dash_engine, dash_clock, dash_story
) -> None:
    def states():
        rows = dash_client.get("/api/collectors").json()["collectors"]
        return {row["collector"]: row for row in rows}

    beat(dash_engine, dash_clock)
    assert states()["reddit"]["state"] == "ok"
    dash_clock.now += timedelta(minutes=70)
    reddit = states()["reddit"]
    expected = (
        f"daemon not running since {dash_clock.now - timedelta(minutes=70):%Y-%m-%d %H:%M} UTC"
    )
    assert (reddit["state"], reddit["label"]) == ("daemon_down", expected)
    assert states()["x"]["state"] == "disabled"  # nothing expected from it anyway
    assert expected in dash_client.get("/").text


def test_metrics_render_the_daemons_registry(dash_engine, dash_sink, dash_clock) -> None:
    settings = settings_model()()
    app = create_app(dash_engine, settings, dash_sink, dash_clock, dashboard_platforms())
    metrics = Metrics()
    app.state.metrics_registry = metrics.registry
    now = dash_clock()
    metrics.record_run(
        RunReport("reddit", "refresh", now, now + timedelta(seconds=2), observations_written=5)
    )
    body = TestClient(app, base_url="http://127.0.0.1:8000").get("/metrics").text
    assert 'viralwatch_runs_total{collector="reddit",kind="refresh",status="ok"} 1.0' in body
    assert 'viralwatch_observations_written_total{collector="reddit"} 5.0' in body
    assert (
        'viralwatch_run_duration_seconds_bucket{collector="reddit",kind="refresh",le="2.0"} 1.0'
        in body
    )


def test_healthz_is_open_and_metrics_need_the_token(dash_engine, dash_sink, dash_clock) -> None:
    settings = settings_model()(
        dashboard=DashboardSettings(host="0.0.0.0", token=SecretStr("s3cret-token"))
    )
    app = create_app(dash_engine, settings, dash_sink, dash_clock, dashboard_platforms())
    client = TestClient(app, base_url="http://127.0.0.1:8000")
    assert client.get("/healthz").status_code == 503  # answered, not refused
    assert "s3cret" not in client.get("/healthz").text
    assert client.get("/metrics").status_code == 401
    bearer = {"Authorization": "Bearer s3cret-token"}
    assert client.get("/metrics", headers=bearer).status_code == 200


def test_a_killed_daemon_leaves_a_shaded_gap_until_the_next_start(
    dash_client, dash_engine, dash_clock, dash_story
) -> None:
    from storage.health import HeartbeatRow

    died_at = dash_clock.now - timedelta(hours=3)
    restarted_at = dash_clock.now - timedelta(hours=1)
    killed = HeartbeatRow("host:1:aa", "host", 1, died_at - timedelta(hours=5), died_at, 30.0, None)
    health.beat(dash_engine, killed)
    health.beat(
        dash_engine, HeartbeatRow("host:2:bb", "host", 2, restarted_at, dash_clock.now, 30.0, None)
    )
    series = dash_client.get("/api/videos/bridge-collapse/series?range=24h").json()
    daemon_gaps = [g for g in series["gaps"] if g["collector"] == "daemon"]
    assert [(g["start"], g["end"], g["status"]) for g in daemon_gaps] == [
        (f"{died_at:%Y-%m-%dT%H:%M:%S}Z", f"{restarted_at:%Y-%m-%dT%H:%M:%S}Z", "not_running")
    ]
    page = dash_client.get("/videos/bridge-collapse?range=24h").text
    assert "daemon: not-running" in page
