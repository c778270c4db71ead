"""Collectors by name. Built-ins are listed in one explicit tuple: no folder scanning."""

from __future__ import annotations

import importlib
from typing import Any

# One line per platform module; importing a module runs its @register decorator.
BUILTIN_COLLECTORS: tuple[str, ...] = (
    "collectors.mastodon",
    "collectors.hackernews",
    "collectors.reddit",
    "collectors.youtube",
    "collectors.youtube_rss",
    "collectors.lemmy",
    "collectors.telegram",
    "collectors.rss",
    "collectors.urls",
    "collectors.bluesky",
    "collectors.x",
    "collectors.tiktok",
    "collectors.dailymotion",
)

_REGISTRY: dict[str, type[Any]] = {}


def register(cls: type[Any]) -> type[Any]:
    """Class decorator: make a collector known under its `name`. Duplicates raise ValueError."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"collector name {name!r} is registered twice")
    _REGISTRY[name] = cls
    return cls


def collector_classes() -> dict[str, type[Any]]:
    """Every registered collector class by name, built-ins first in their listed order (which
    decides, e.g., that the YouTube Data API rather than the feeds refreshes YouTube posts),
    whatever order their modules happened to be imported in."""
    for module in BUILTIN_COLLECTORS:
        importlib.import_module(module)
    rank = {module: index for index, module in enumerate(BUILTIN_COLLECTORS)}
    ordered = sorted(_REGISTRY.items(), key=lambda item: rank.get(item[1].__module__, len(rank)))
    return dict(ordered)
