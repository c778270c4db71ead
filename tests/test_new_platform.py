"""Adding a platform is its module and a registration (issue 15): a throwaway collector in a
temporary module is configured, scheduled and charted with nothing else in the tree changed.

It runs in a fresh interpreter, so the extra collector never joins this session's registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

THROWAWAY_MODULE = '''
"""Throwaway: a platform that exists only for the new-platform test."""

from datetime import timedelta

from pydantic import Field

from collectors.base import CollectorSpec, PassHooks, Quota
from collectors.registry import register
from config.settings import CollectorSettings


class ThrowawaySettings(CollectorSettings):
    base_url: str = Field("https://throwaway.example", description="API root")
    widgets: int = Field(3, ge=1, description="Widgets per request")


@register
class ThrowawayCollector(PassHooks):
    name = "throwaway"
    spec = CollectorSpec(
        label="Throw Away",
        colour="#123456",
        settings_model=ThrowawaySettings,
        counters=("views", "likes"),
        default_interval=timedelta(minutes=7),
        default_refresh_interval=timedelta(minutes=3),
        quotas=(Quota(60, timedelta(minutes=1), "requests"),),
        batch_size=10,
    )
    notice = None

    def __init__(self, client, clock, config):
        self.config = config

    async def discover(self, video):
        return []

    async def refresh(self, posts):
        return []
'''

# Runs in the child: load config from a file, start the daemon, render the overview.
PROBE = """
import asyncio, json, sys
from pathlib import Path
from fastapi.testclient import TestClient

import throwaway  # the one new module: registering is all it does
from collectors.base import utc_now
from collectors.registry import collector_classes
from dashboard.app import create_app
from viralwatch import catalog, daemon

config = Path(sys.argv[1])
others = [n for n in collector_classes() if n != "throwaway"]
config.write_text(
    f"[storage]\\nurl = 'sqlite:///{config.parent}/db.sqlite'\\n"
    "[collectors.throwaway]\\nwidgets = 5\\n"
    + "".join(f"[collectors.{n}]\\nenabled = false\\n" for n in others)
)
settings = catalog.load_settings(config)
engine, sink = daemon.open_storage(settings, utc_now, migrate=True)

async def schedule():
    d = daemon.Daemon(settings, sink, utc_now)
    d.start()
    jobs = sorted(
        j.id for j in d.scheduler.get_jobs()
        if not j.id.startswith(("daemon:", "storage:"))  # the heartbeat, storage maintenance
    )
    every = d.wiring.cadences["throwaway"]
    cadence = {
        "discover": every.discover_seconds,
        "refresh": every.refresh_seconds,
        "policy": d.sink.scheduling.policy("throwaway").min_interval_seconds,
        "budgets": [q.what for q, _ in d.wiring.gates["throwaway"].quotas],
    }
    await d.stop()
    return jobs, cadence

jobs, cadence = asyncio.run(schedule())
app = create_app(engine, settings, sink, utc_now, catalog.dashboard_platforms())
page = TestClient(app, base_url="http://127.0.0.1:8000")
html = page.get("/").text
print(json.dumps({
    "widgets": settings.collectors.throwaway.widgets,
    "jobs": jobs,
    "cadence": cadence,
    "labelled": "Throw Away" in html,
    "coloured": "#123456" in html,
    "colour": catalog.dashboard_platforms().colour("throwaway"),
}))
"""


def test_a_new_collector_module_is_configured_scheduled_and_charted(tmp_path: Path) -> None:
    (tmp_path / "throwaway.py").write_text(textwrap.dedent(THROWAWAY_MODULE), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    env = {k: v for k, v in env.items() if not k.startswith("VIRALWATCH_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "viralwatch.toml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["widgets"] == 5  # configured: its own section, read from the file
    # Scheduled, and only it (the others are off in the file); its jobs tick and the declared
    # cadence decides when its queries and posts are due (the per-post schedule's policy).
    assert found["jobs"] == ["throwaway:discover", "throwaway:refresh"]
    assert found["cadence"] == {
        "discover": 420,
        "refresh": 180,
        "policy": 180,
        "budgets": ["requests"],  # its declared quota is what the budget gate charges
    }
    assert found["labelled"] and found["coloured"]  # charted: the overview names it
    assert found["colour"] == "#123456"


def test_a_collector_without_its_spec_is_refused_at_import():
    # The declarations travel as one CollectorSpec: a class that spells them out one by one
    # (the shape before issue 15) fails where it registers, not later in a page or a job.
    from collectors.base import PassHooks
    from collectors.registry import register

    class Flat:
        name = "flat"
        label = "Flat"
        notice = None

    with pytest.raises(TypeError, match="does not declare spec"):
        register(Flat)

    class WrongSpec(PassHooks):
        name = "wrong_spec"
        spec = ("Wrong", "#000000")
        notice = None

        async def discover(self, video):
            return []

        async def refresh(self, posts):
            return []

    with pytest.raises(TypeError, match="must be a CollectorSpec"):
        register(WrongSpec)
