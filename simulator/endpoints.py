"""Collector settings that point every platform at a running simulator (tests and the demo)."""

from __future__ import annotations

from functools import cache

from simulator.model import LEMMY_INSTANCES, MASTODON_INSTANCES, SpreadModel
from simulator.news import feed_path

# Credentials the simulator accepts (it checks that they are sent, not what they are).
SIM_CREDENTIALS: dict[str, dict[str, str]] = {
    "reddit": {"client_id": "sim-client", "client_secret": "sim-secret"},
    "youtube": {"api_key": "sim-key"},
    "bluesky": {"handle": "viralwatch.bsky.social", "app_password": "sim-app-password"},
    "x": {"bearer_token": "sim-bearer"},
    "tiktok": {"client_key": "sim-key", "client_secret": "sim-secret"},
}


@cache
def _default_model() -> SpreadModel:
    """The default seeded model, built once: channel and outlet names never change."""
    return SpreadModel()


def _model_channels(platform: str) -> list[str]:
    return sorted({p.channel for p in _default_model().posts[platform] if p.channel})


def _outlets() -> list[str]:
    return list(dict.fromkeys(p.channel for p in _default_model().posts["rss"] if p.channel))


def collector_section(name: str, root: str) -> dict[str, object]:
    """Settings keys that make collector `name` talk to the simulator served at `root`."""

    def at(platform: str, instance: str | None = None) -> str:
        return f"{root}/{platform}" + (f"/{instance}" if instance else "")

    section: dict[str, object] = {"enabled": True, "base_url": at(name)}
    if name == "mastodon":
        section["instances"] = [at("mastodon", i) for i in MASTODON_INSTANCES]
    elif name == "lemmy":
        section["instances"] = [at("lemmy", i) for i in LEMMY_INSTANCES]
    elif name in ("reddit", "bluesky"):
        section["auth_url"] = at(name)
    elif name == "youtube":
        section["base_url"] = at("youtube")
    elif name == "youtube_rss":
        section["base_url"] = at("youtube")
        section["channels"] = _model_channels("youtube")
    elif name == "rss":
        section["google_news_url"] = at("rss")
        section["feeds"] = [at("rss") + feed_path(outlet) for outlet in _outlets()]
    elif name == "telegram":
        section["channels"] = _model_channels("telegram")
    elif name == "urls":
        section["base_url"] = ""
    section.update(SIM_CREDENTIALS.get(name, {}))
    return section
