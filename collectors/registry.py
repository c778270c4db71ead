"""Collectors by name. Built-ins are listed in one explicit tuple: no folder scanning.

A collector class declares everything the rest of the house needs to know of it: its `name` and
one `CollectorSpec` (see collectors/base.py). `register` refuses a class that leaves either out,
so a new platform fails at import, not later in the settings, scheduler or dashboard that read
them; `stored_platform` says which platform its posts are stored under.
"""

from __future__ import annotations

import importlib
from typing import Any

from collectors.base import COUNTERS, Collector, CollectorSpec

# One line per platform module; importing a module runs its @register decorator. The order is
# the dashboard's display order, and where two collectors store one platform (youtube,
# youtube_rss) the first listed refreshes its posts.
BUILTIN_COLLECTORS: tuple[str, ...] = (
    "collectors.youtube",
    "collectors.x",
    "collectors.tiktok",
    "collectors.reddit",
    "collectors.bluesky",
    "collectors.mastodon",
    "collectors.telegram",
    "collectors.hackernews",
    "collectors.lemmy",
    "collectors.dailymotion",
    "collectors.youtube_rss",
    "collectors.rss",
    "collectors.urls",
)

# The members the Collector protocol asks of a class: name, spec and the `notice` default.
DECLARATIONS: tuple[str, ...] = tuple(Collector.__annotations__)
# Its methods: the runner calls each directly (`begin_pass` comes with `base.PassHooks`).
METHODS: tuple[str, ...] = ("discover", "refresh", "begin_pass")

_REGISTRY: dict[str, type[Any]] = {}


def register(cls: type[Any]) -> type[Any]:
    """Class decorator: make a collector known under its `name`.

    Raises ValueError for a duplicate name, TypeError when the class leaves out a declaration
    or method of the protocol or names a counter that is not in COUNTERS."""
    missing = [attr for attr in (*DECLARATIONS, *METHODS) if not hasattr(cls, attr)]
    if missing:
        raise TypeError(f"collector {cls.__name__} does not declare {', '.join(missing)}")
    if not isinstance(cls.spec, CollectorSpec):
        raise TypeError(f"collector {cls.name!r}: `spec` must be a CollectorSpec")
    unknown = [c for c in cls.spec.counters if c not in COUNTERS]
    if unknown:
        raise TypeError(f"collector {cls.name!r}: unknown counters {unknown}; use {COUNTERS}")
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"collector name {name!r} is registered twice")
    _REGISTRY[name] = cls
    return cls


def stored_platform(collector: type[Collector] | Collector) -> str:
    """The platform a collector's posts are stored under: its own name unless its spec says."""
    return collector.spec.platform or collector.name


def collector_classes() -> dict[str, type[Any]]:
    """Every registered collector class by name, built-ins first in their listed order (which
    decides, e.g., that the YouTube Data API rather than the feeds refreshes YouTube posts),
    whatever order their modules happened to be imported in; others (a plugin, a test's) after
    them in the order they registered."""
    for module in BUILTIN_COLLECTORS:
        importlib.import_module(module)
    rank = {module: index for index, module in enumerate(BUILTIN_COLLECTORS)}
    ordered = sorted(_REGISTRY.items(), key=lambda item: rank.get(item[1].__module__, len(rank)))
    return dict(ordered)
