"""Which collectors will run and why not: settings and the registry only, no database, so
`viralwatch collectors` stays light."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from collectors.registry import collector_classes
from config.settings import CollectorSettings, Settings


@dataclass(slots=True)
class CollectorPlan:
    """What the daemon will do with each registered collector."""

    name: str
    state: str  # "enabled", "disabled" (by config) or "missing credentials"
    detail: str = ""
    config: CollectorSettings | None = None


def plan_collectors(settings: Settings, only: Sequence[str] = ()) -> list[CollectorPlan]:
    """Every registered collector with whether it will run and why not."""
    sections = settings.collectors.sections()
    classes = collector_classes()
    unknown = [name for name in only if name not in classes]
    if unknown:
        raise ValueError(f"unknown collector {unknown[0]!r}; known: {', '.join(sorted(classes))}")
    plans = []
    for name in classes:
        config = sections.get(name)
        if only and name not in only:
            continue
        if config is None or not config.enabled:
            plans.append(CollectorPlan(name, "disabled", "enabled = false in config", config))
        elif missing := config.missing_credentials():
            keys = ", ".join(f"collectors.{name}.{key}" for key in missing)
            plans.append(CollectorPlan(name, "missing credentials", f"set {keys}", config))
        else:
            plans.append(CollectorPlan(name, "enabled", "", config))
    return plans
