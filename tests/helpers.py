"""Test helpers: a config file pointing every collector at the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from config.settings import CollectorsSettings
from simulator.model import LEMMY_INSTANCES, MASTODON_INSTANCES, SIM_VIDEO
from simulator.server import SimulatorServer

# Per-collector keys that point a collector at the simulator (beyond base_url).
CREDENTIALS = {
    "reddit": {"client_id": "sim-client", "client_secret": "sim-secret"},
    "youtube": {"api_key": "sim-key"},
    "bluesky": {"handle": "viralwatch.bsky.social", "app_password": "sim-app-password"},
    "x": {"bearer_token": "sim-bearer"},
    "tiktok": {"client_key": "sim-key", "client_secret": "sim-secret"},
}


def toml_value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def collector_section(name: str, sim: SimulatorServer) -> dict[str, object]:
    """Keys that make collector `name` talk to the simulator."""
    section: dict[str, object] = {"enabled": True, "base_url": sim.base_url(name)}
    if name == "mastodon":
        section["instances"] = [sim.base_url("mastodon", i) for i in MASTODON_INSTANCES]
    elif name == "lemmy":
        section["instances"] = [sim.base_url("lemmy", i) for i in LEMMY_INSTANCES]
    elif name in ("reddit", "bluesky"):
        section["auth_url"] = sim.base_url(name)
    elif name in ("youtube", "youtube_rss"):
        section["base_url"] = sim.base_url("youtube")
    elif name == "rss":
        section["google_news_url"] = sim.base_url("rss")
    section.update(CREDENTIALS.get(name, {}))
    return section


def write_sim_config(
    path: Path,
    sim: SimulatorServer,
    db_url: str,
    enabled: Iterable[str],
    extra: dict[str, dict[str, object]] | None = None,
) -> Path:
    """A viralwatch.toml tracking the simulated footage with only `enabled` collectors on."""
    enabled = set(enabled)
    lines = [f"[storage]\nurl = {toml_value(db_url)}\n", "[scheduler]\njitter_seconds = 0\n"]
    for name in CollectorsSettings.model_fields:
        section = collector_section(name, sim) if name in enabled else {"enabled": False}
        section.update((extra or {}).get(name, {}))
        body = "".join(f"{k} = {toml_value(v)}\n" for k, v in section.items())
        lines.append(f"[collectors.{name}]\n{body}")
    video = "".join(f"{k} = {toml_value(v)}\n" for k, v in SIM_VIDEO.items())
    lines.append(f"[[videos]]\n{video}")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
