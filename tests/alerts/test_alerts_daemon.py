"""The daemon calls the alerts hook after each write: a real `viralwatch run` process, the
simulator, and the loopback receiver (issue 12)."""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import select

from storage.db import make_engine
from storage.models import Alert
from tests.alerts.conftest import URL_SECRETS
from tests.helpers import write_sim_config
from tests.test_daemon import read_until, start

pytestmark = pytest.mark.slow

ALERTS = """
[alerts]
public_base_url = "https://desk.example.org"

[[alerts.rules]]
name = "spread"
kind = "new_platform"
targets = ["hook"]
"""


def test_running_daemon_sends_a_new_platform_alert_after_its_first_write(
    tmp_path, sim, receiver, monkeypatch
):
    db = tmp_path / "daemon.db"
    config = write_sim_config(tmp_path / "c.toml", sim, f"sqlite:///{db}", ["hackernews"])
    config.write_text(config.read_text(encoding="utf-8") + ALERTS, encoding="utf-8")
    monkeypatch.setenv("VIRALWATCH_ALERTS__TARGETS__HOOK", receiver.url)
    process = start(config)
    lines = read_until(process, "alert 1: spread")
    assert receiver.arrived.wait(timeout=30), "".join(lines)
    process.send_signal(signal.SIGINT)
    lines += read_until(process, "stopping")
    assert process.wait(timeout=30) == 0, "".join(lines)
    (body,) = receiver.bodies()
    assert "hackernews" in body and "the footage reached a new platform" in body
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(select(Alert.rule)).scalars().all() == ["spread"]
    engine.dispose()
    output = "".join(lines)
    assert not any(secret in output for secret in URL_SECRETS)
