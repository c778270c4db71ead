"""Secrets never reach logs, stored run errors, exports or the dashboard."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from simulator.world import Fault
from storage.db import make_engine
from storage.models import CollectorRun
from tests.helpers import write_sim_config
from viralwatch.cli import cli

SECRETS = {
    "reddit": {"client_secret": "REDDIT-SECRET-1"},
    "youtube": {"api_key": "YOUTUBE-KEY-2"},
    "bluesky": {"app_password": "BSKY-PASSWORD-3"},
    "x": {"bearer_token": "X-BEARER-4"},
    "tiktok": {"client_secret": "TIKTOK-SECRET-5"},
    "mastodon": {"access_token": "MASTODON-TOKEN-6"},
}


@pytest.mark.parametrize(
    "fault",
    [
        Fault("error", status=401),
        Fault("error", status=500),
        Fault("malformed"),
        Fault("rate_limit"),
    ],
)
def test_secrets_stay_out_of_output_logs_and_database(tmp_path, sim, caplog, fault):
    db = tmp_path / "s.db"
    config = write_sim_config(tmp_path / "c.toml", sim, f"sqlite:///{db}", SECRETS, extra=SECRETS)
    for platform in SECRETS:
        sim.world.set_fault(platform, Fault(fault.kind, status=fault.status))
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(cli, ["--config", str(config), "collect", "--once"])
    exported = CliRunner().invoke(cli, ["--config", str(config), "export", "posts"])
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = " ".join(
            m or "" for m in conn.execute(select(CollectorRun.error_message)).scalars()
        )
    engine.dispose()
    seen = result.output + exported.output + caplog.text + stored
    assert (
        "failed" in result.output
        or "rate_limited" in result.output
        or "auth_failed" in result.output
    )
    for values in SECRETS.values():
        for secret in values.values():
            assert secret not in seen
