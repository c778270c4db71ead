"""Test helpers: a config file pointing every collector at the simulator."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import pytest

from collectors.registry import collector_classes
from simulator.endpoints import collector_section
from simulator.model import SIM_VIDEO
from simulator.server import SimulatorServer

# `make test` runs a cut of the biggest fault and property suites (seconds, not minutes);
# `make reliability` sets VIRALWATCH_TEST_FULL=1 and runs them at full size.
FULL_SIZE = os.environ.get("VIRALWATCH_TEST_FULL") == "1"
full_size_only = pytest.mark.skipif(
    not FULL_SIZE, reason="full size only: VIRALWATCH_TEST_FULL=1 (make reliability)"
)


def sized(default: int, full: int) -> int:
    """`default` in `make test`, `full` when VIRALWATCH_TEST_FULL=1."""
    return full if FULL_SIZE else default


def toml_value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


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
    for name in collector_classes():
        section = collector_section(name, sim.url) if name in enabled else {"enabled": False}
        section.update((extra or {}).get(name, {}))
        body = "".join(f"{k} = {toml_value(v)}\n" for k, v in section.items())
        lines.append(f"[collectors.{name}]\n{body}")
    video = "".join(f"{k} = {toml_value(v)}\n" for k, v in SIM_VIDEO.items())
    lines.append(f"[[videos]]\n{video}")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
