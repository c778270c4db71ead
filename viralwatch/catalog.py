"""What the collector registry tells the other packages, read in one place.

`config/settings.py` and `dashboard/` may not import collectors, so the composition root reads
the registry and hands them what they need: the `Settings` class with one section per collector,
and the dashboard's platform list with labels and colours. Adding a collector to the registry is
then enough for it to be configured, scheduled and charted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collectors.registry import collector_classes
from config.settings import Settings, settings_class
from config.settings import load_settings as load_settings_of
from dashboard.platforms import Platforms, PlatformStyle


def settings_model() -> type[Settings]:
    """The Settings class for the registered collectors (built once per set of collectors)."""
    return settings_class(
        tuple((name, cls.settings_model, cls.label) for name, cls in collector_classes().items())
    )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings for the registered collectors from `config_file` and the environment; raises
    ConfigError with one readable line."""
    return load_settings_of(config_file, settings_model(), **overrides)


def dashboard_platforms() -> Platforms:
    """Every registered collector as the dashboard shows it, in registry order."""
    return Platforms(
        tuple(
            PlatformStyle(name, cls.label, cls.colour) for name, cls in collector_classes().items()
        )
    )
