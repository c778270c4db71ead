"""What the collector registry tells the other packages, read in one place.

`config/settings.py` and `dashboard/` may not import collectors, so the composition root reads
the registry and hands them what they need: the `Settings` class with one section per collector,
and the dashboard's platform list with labels and colours. Adding a collector to the registry is
then enough for it to be configured, scheduled and charted.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from collectors.base import CollectorSpec
from collectors.registry import collector_classes
from config.settings import CollectorSettings, Settings, settings_class
from config.settings import load_settings as load_settings_of
from dashboard.platforms import Platforms, PlatformStyle


def settings_model() -> type[Settings]:
    """The Settings class for the registered collectors (built once per set of collectors)."""
    return settings_class(
        tuple(
            (name, cls.spec.settings_model, cls.spec.label)
            for name, cls in collector_classes().items()
        )
    )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings for the registered collectors from `config_file` and the environment; raises
    ConfigError with one readable line."""
    return load_settings_of(config_file, settings_model(), **overrides)


def dashboard_platforms() -> Platforms:
    """Every registered collector as the dashboard shows it, in registry order."""
    return Platforms(
        tuple(
            PlatformStyle(name, cls.spec.label, cls.spec.colour)
            for name, cls in collector_classes().items()
        )
    )


# The example config's collector sections sit between these lines; a test keeps them equal to
# what `collectors_example` writes, so a new collector reaches the example with nothing to edit.
EXAMPLE_FILE = Path(__file__).resolve().parent.parent / "config" / "viralwatch.example.toml"
EXAMPLE_BEGIN = "# --- collectors, generated from the registry: python -m viralwatch.catalog ---"
EXAMPLE_END = "# --- end of the generated collectors ---"


def collectors_example() -> str:
    """Every collector's `[collectors.<name>]` section with its keys and defaults, as TOML."""
    return "\n".join(_example_section(name, cls.spec) for name, cls in collector_classes().items())


def _example_section(name: str, spec: CollectorSpec) -> str:
    lines = [_commented(f"[collectors.{name}]", spec.label)]
    lines += [f"# quota: {q.requests:,} {q.what} per {_span(q.per)}" for q in spec.quotas]
    cadence = {
        "interval_seconds": int(spec.default_interval.total_seconds()),
        "refresh_interval_seconds": int(spec.default_refresh_interval.total_seconds()),
    }
    shared = CollectorSettings.model_fields
    for key, field in spec.settings_model.model_fields.items():
        description = field.description or ""
        if description.startswith("Unused"):
            continue
        default = cadence.get(key, field.get_default(call_default_factory=True))
        # Only a collector's own keys get a comment: the shared ones are explained above.
        note = "" if key in shared and key != "base_url" else description
        if isinstance(default, SecretStr) or "SecretStr" in str(field.annotation):
            env = f"VIRALWATCH_COLLECTORS__{name.upper()}__{key.upper()}"
            lines.append(_commented(f'# {key} = "..."', f"{description} (better: {env})"))
        elif default is None:
            lines.append(_commented(f"# {key} = ...", note))
        else:
            lines.append(_commented(f"{key} = {json.dumps(default, ensure_ascii=False)}", note))
    return "\n".join(lines) + "\n"


def _commented(code: str, comment: str) -> str:
    return f"{code:<39} # {comment}" if comment else code


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"


def write_example(path: Path = EXAMPLE_FILE) -> None:
    """Rewrite the generated part of the example config from the registry."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(EXAMPLE_BEGIN + "\n")
    _, _, tail = rest.partition(EXAMPLE_END + "\n")
    generated = f"{EXAMPLE_BEGIN}\n\n{collectors_example()}\n{EXAMPLE_END}\n"
    path.write_text(head + generated + tail, encoding="utf-8")


if __name__ == "__main__":
    write_example()
