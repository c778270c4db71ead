"""Apprise URLs are secrets: set from the environment, never in logs, CLI output, API answers,
CSV, the database or error messages; targets show as masked labels (issue 12)."""

from __future__ import annotations

import csv
import io
import logging

from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from alerts.service import build_alert_service
from collectors.base import Observation, PostRef
from dashboard.alerts_routes import alerts_router
from storage import alert_rules
from storage.db import make_engine, upgrade
from storage.models import Alert, AlertDelivery
from storage.write import StorageSink, VideoInput
from tests.alerts.conftest import URL_SECRETS
from viralwatch.catalog import load_settings
from viralwatch.cli import cli

CONFIG = """
log_level = "DEBUG"

[storage]
url = "{db_url}"

[alerts]
public_base_url = "https://desk.example.org"
delivery_attempts = 2
retry_backoff_seconds = 0

[[alerts.rules]]
name = "million"
kind = "threshold"
targets = ["hook"]
threshold = 1000000

[[alerts.rules]]
name = "spread"
kind = "new_platform"
targets = ["hook", "broken"]
"""


def write_config(tmp_path, db_url):
    path = tmp_path / "viralwatch.toml"
    path.write_text(CONFIG.format(db_url=db_url), encoding="utf-8")
    return path


def test_apprise_urls_never_leak(
    tmp_path, db_url, receiver, monkeypatch, caplog, clock, root_logging
):
    monkeypatch.setenv("VIRALWATCH_ALERTS__TARGETS__HOOK", receiver.url)
    broken = f"json://127.0.0.1:9/{URL_SECRETS[1]}-broken"  # nothing listens on port 9
    monkeypatch.setenv("VIRALWATCH_ALERTS__TARGETS__BROKEN", broken)
    config = write_config(tmp_path, db_url)
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    outputs = [runner.invoke(cli, ["--config", str(config), "alerts", "test", "million"])]
    assert outputs[0].exit_code == 0, outputs[0].output
    assert "hook (json://127.0.0.1): sent" in outputs[0].output
    assert "test message for rule million" in receiver.bodies()[0]
    failing = runner.invoke(cli, ["--config", str(config), "alerts", "test", "spread"])
    assert failing.exit_code != 0
    assert "broken (json://127.0.0.1): FAILED" in failing.output
    outputs.append(failing)

    # The CLI's logging setup replaced pytest's capture handler: put it back for the daemon side.
    root_logging.handlers[:] = [caplog.handler]
    root_logging.setLevel(logging.DEBUG)
    settings = load_settings(config)
    engine = make_engine(db_url)
    upgrade(engine)
    try:
        sink = StorageSink(engine, clock)
        sink.add_video(VideoInput("clip", "The clip"))
        sink.record_posts("clip", [PostRef("youtube", "v1", author="=cmd|'/c calc'!A1")])
        sink.record_observations([Observation("youtube", "v1", clock(), views=2_000_000)])
        service = build_alert_service(engine, settings.alerts, clock, sleep=lambda s: None)
        assert service.run_once() == 2
        outputs.append(runner.invoke(cli, ["--config", str(config), "alerts", "list"]))
        client = TestClient(_app(engine))
        api = client.get("/api/alerts")
        exported = client.get("/export/alerts.csv")
        with engine.connect() as conn:
            stored = repr(conn.execute(select(Alert.__table__)).all()) + repr(
                conn.execute(select(AlertDelivery.__table__)).all()
            )
    finally:
        engine.dispose()
    listing = outputs[-1].output
    assert "broken (json://127.0.0.1): failed (2 tries)" in listing
    assert "hook (json://127.0.0.1): sent (1 tries)" in listing
    assert api.status_code == 200 and len(api.json()["alerts"]) == 2
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["target"] for r in rows} == {"hook (json://127.0.0.1)", "broken (json://127.0.0.1)"}
    assert {r["status"] for r in rows} == {"sent", "failed"}
    # Apprise's and urllib3's debug lines, which print request URLs, were captured (redacted).
    assert "JSON POST URL" in outputs[0].output and "JSON POST URL" in caplog.text
    assert '"POST *** HTTP/1.1" 200' in caplog.text
    seen = "".join(o.output for o in outputs) + caplog.text + api.text + exported.text + stored
    for secret in URL_SECRETS:
        assert secret not in seen


def test_unknown_target_name_is_one_line_naming_the_rule(tmp_path, db_url):
    config = write_config(tmp_path, db_url)
    result = CliRunner().invoke(cli, ["--config", str(config), "alerts", "list"])
    assert result.exit_code == 2
    assert "alerts" in result.output and "rules.0.targets names 'hook'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_alerts_test_names_the_config_and_dashboard_rules_for_an_unknown_one(
    tmp_path, db_url, monkeypatch, clock
):
    monkeypatch.setenv("VIRALWATCH_ALERTS__TARGETS__HOOK", "json://127.0.0.1:9/x")
    monkeypatch.setenv("VIRALWATCH_ALERTS__TARGETS__BROKEN", "json://127.0.0.1:9/y")
    config = write_config(tmp_path, db_url)
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    engine = make_engine(db_url)
    try:
        stored = {"name": "from-the-page", "kind": "digest", "targets": ["hook"]}
        alert_rules.add_rule(engine, stored, clock())
    finally:
        engine.dispose()
    result = runner.invoke(cli, ["--config", str(config), "alerts", "test", "nope"])
    assert result.exit_code == 2
    assert "no alert rule 'nope'; configured rules: from-the-page, million, spread" in (
        result.output
    )


def _app(engine) -> FastAPI:
    app = FastAPI()
    app.include_router(alerts_router(engine))
    return app
