"""Test helpers: a fresh PostgreSQL schema per test, a config file pointing every collector at
the simulator."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event
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
    """An engine on `url` with the schema at head, disposed after the test.

    A fresh database starts as a copy of one this test process migrated once (HEAD_TEMPLATE):
    running every migration again per test was a large share of the suite's time. Anything
    else (a file that already exists, another backend) is upgraded as before."""
    engine = make_engine(url)
    if not HEAD_TEMPLATE.copy_into(engine):
        upgrade(engine)
    yield engine
    engine.dispose()


class HeadTemplate:
    """The schema at head, built by the real `upgrade` once per test process (so once per
    xdist worker) and copied into each fresh test database: a SQLite file copied with SQLite's
    backup API, or, on PostgreSQL, the statements the upgrade ran, replayed in one transaction
    into the test's empty schema. tests/test_head_template.py checks that a copy and a real
    upgrade give the same schema."""

    def __init__(self) -> None:
        self._sqlite: Path | None = None
        self._postgres: list[tuple[str, Any, bool]] | None = None

    def copy_into(self, engine: Engine) -> bool:
        """Bring the empty database behind `engine` to head; False where it cannot."""
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            if Path(database).exists():
                return False
            source = sqlite3.connect(self.sqlite_file())
            with closing(source), closing(sqlite3.connect(database)) as target:
                source.backup(target)
            return True
        options = engine.url.query.get("options", "")
        if engine.dialect.name != "postgresql" or "search_path" not in str(options):
            return False
        with engine.begin() as conn:
            if conn.exec_driver_sql(_TABLES_IN_SCHEMA).scalar():
                return False
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            for statement, params, many in self.postgres_statements():
                (cursor.executemany if many else cursor.execute)(statement, params)
        return True

    def sqlite_file(self) -> Path:
        if self._sqlite is None:
            folder = Path(tempfile.mkdtemp(prefix="viralwatch-head-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            engine = make_engine(f"sqlite:///{folder / 'head.db'}")
            upgrade(engine)
            engine.dispose()
            self._sqlite = folder / "head.db"
        return self._sqlite

    def postgres_statements(self) -> list[tuple[str, Any, bool]]:
        """What `upgrade` sent on an empty schema, less its advisory lock (taken on another
        connection around the migrations, and no part of the schema)."""
        if self._postgres is None:
            recorded: list[tuple[str, Any, bool]] = []
            base = os.environ["VIRALWATCH_TEST_POSTGRES_URL"]
            for url in postgres_schema_url(base, "head"):
                engine = make_engine(url)

                @event.listens_for(engine, "before_cursor_execute")
                def record(
                    _conn: Any, _cur: Any, sql: str, params: Any, _ctx: Any, many: bool
                ) -> None:
                    if "pg_advisory_" not in sql:
                        recorded.append((sql, params, many))

                upgrade(engine)
                engine.dispose()
            self._postgres = recorded
        return self._postgres


# Tables already in the schema named by search_path (a fresh test schema has none).
_TABLES_IN_SCHEMA = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
HEAD_TEMPLATE = HeadTemplate()


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
