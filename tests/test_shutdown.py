"""SIGTERM stops a real daemon within its shutdown timeout, even with PostgreSQL frozen
(issue 13: a frozen database once kept it alive for over 60 s). The freeze is a loopback proxy
that accepts and never answers (tests/tcpproxy.py); logs are checked to be one JSON object per
line (`--log-format json`, issue 8)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy.engine import make_url

from tests.helpers import write_sim_config
from tests.tcpproxy import TcpProxy
from tests.test_daemon import read_until

pytestmark = pytest.mark.slow

SHUTDOWN_TIMEOUT_SECONDS = 3


def start_json_daemon(config):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = "from viralwatch.cli import main; main()"
    args = ["--log-format", "json", "--config", str(config), "run", "--no-dashboard"]
    return subprocess.Popen(
        [sys.executable, "-c", command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def test_sigterm_stops_the_daemon_in_bounded_time_while_postgres_is_frozen(tmp_path, sim, db_url):
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("a frozen database needs a database server")
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    config = write_sim_config(tmp_path / "c.toml", sim, proxied, ["hackernews"])
    config.write_text(
        config.read_text()
        + f"\n[daemon]\nheartbeat_seconds = 1\nshutdown_timeout_seconds = {SHUTDOWN_TIMEOUT_SECONDS}\n"
    )
    process = start_json_daemon(config)
    try:
        lines = read_until(process, "hackernews refresh: ok")
        proxy.set_mode("blackhole")
        assert proxy.swallowed.wait(timeout=30), "no database call reached the frozen server"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=SHUTDOWN_TIMEOUT_SECONDS + 20)
        elapsed = time.monotonic() - started
    finally:
        process.kill()
        proxy.close()
    assert elapsed < SHUTDOWN_TIMEOUT_SECONDS + 5, f"took {elapsed:.1f} s"
    events = [json.loads(line) for line in [*lines, *rest.splitlines()] if line.strip()]
    messages = [event["message"] for event in events]
    assert "stopping" in messages
    assert all(set(event) >= {"time", "level", "logger", "message"} for event in events)
    assert "Traceback" not in rest
