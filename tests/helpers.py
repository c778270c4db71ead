"""Test helpers: a fresh PostgreSQL schema per test, a config file pointing every collector at
the simulator."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from collectors.registry import collector_classes
from simulator.endpoints import collector_section
from simulator.model import SIM_VIDEO
from simulator.server import LoopbackServer, SimulatorServer
from storage.db import make_engine, scratch_schema, upgrade


def database_url(backend: str, sqlite_file: Path, prefix: str) -> Iterator[str]:
    """A real, empty database URL for a fixture to `yield from`: a SQLite file, or a fresh
    PostgreSQL schema when VIRALWATCH_TEST_POSTGRES_URL names a server (without it the
    PostgreSQL variant skips, and fails in CI, where it must run)."""
    if backend == "sqlite":
        yield f"sqlite:///{sqlite_file}"
        return
    base = os.environ.get("VIRALWATCH_TEST_POSTGRES_URL", "")
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but VIRALWATCH_TEST_POSTGRES_URL is not set")
        pytest.skip("set VIRALWATCH_TEST_POSTGRES_URL to run the PostgreSQL variant")
    yield from postgres_schema_url(base, prefix)


def migrated_engine(url: str) -> Iterator[Engine]:
    """An engine on `url` with the schema at head, disposed after the test."""
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def postgres_schema_url(base_url: str, prefix: str) -> Iterator[str]:
    """A fresh schema per test, dropped afterwards, addressed through search_path (for a
    fixture to `yield from`). Unreachable PostgreSQL skips, or fails in CI, where it must run."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_schema(base_url, prefix))
        except OperationalError as err:
            if os.environ.get("CI") == "true":
                pytest.fail(f"PostgreSQL at {base_url} is unreachable in CI: {err}")
            pytest.skip(f"PostgreSQL unreachable: {err}")
        yield url


def sim_collector(name: str, sim: SimulatorServer, client: httpx.AsyncClient, clock: Any) -> Any:
    """Collector `name` configured as the demo configures it against `sim`."""
    cls = collector_classes()[name]
    config = cls.spec.settings_model(**collector_section(name, sim.url))
    return cls(client=client, clock=clock, config=config)


def served_on_loopback(fake: Any) -> Iterator[Any]:
    """`fake.app()` served on a loopback port for a fixture to `yield from`, with its address
    set as `fake.url`."""
    with LoopbackServer(fake.app()) as server:
        fake.url = server.url
        yield fake


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
