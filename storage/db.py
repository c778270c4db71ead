"""Engine factory and schema upgrades. One code path for SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MIGRATIONS = Path(__file__).parent / "migrations"


class StorageError(Exception):
    """The database cannot be used; the message says what to fix."""


def make_engine(url: str, *, sqlite_busy_timeout_ms: int = 5000) -> Engine:
    """An engine for `url`. SQLite gets WAL, NORMAL sync, foreign keys and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise StorageError("storage.url is not a valid database URL; see README") from err
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": sqlite_busy_timeout_ms / 1000}
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    elif parsed.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as err:
        raise StorageError(f"cannot use database backend {parsed.drivername!r}: {err}") from err
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(sqlite_busy_timeout_ms))
        event.listen(engine, "begin", _sqlite_begin)
    return engine


# Execution option that makes a SQLite transaction take the write lock when it begins.
IMMEDIATE = "viralwatch_begin_immediate"


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's documented pysqlite recipe: the driver's own transaction handling off,
        # so transactions begin where SQLAlchemy says (the "begin" listener) and DDL is
        # transactional too.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    return on_connect


def _sqlite_begin(conn: Connection) -> None:
    # A writer must hold the lock from its first read: a deferred transaction that reads a
    # post's latest counters, then writes, would race another writer (issue 7).
    immediate = conn.get_execution_options().get(IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: BEGIN IMMEDIATE on SQLite (writers queue on the busy timeout, so
    what a writer reads stays true until it commits); a plain transaction on PostgreSQL, where
    writers lock the rows they change (SELECT … FOR UPDATE)."""
    with engine.connect() as conn:
        conn.execution_options(**{IMMEDIATE: True})
        with conn.begin():
            yield conn


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


# Advisory-lock key that serialises schema upgrades of daemons starting together on PostgreSQL.
UPGRADE_LOCK_KEY = 0x76697261  # "vira"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision` (idempotent).

    Processes starting at once on one database take turns: the first migrates, the others then
    find the schema current (an advisory lock on PostgreSQL, a lock file beside a SQLite file).
    """
    if engine.dialect.name == "sqlite":
        with _sqlite_upgrade_lock(engine.url.database):
            command.upgrade(alembic_config(engine), revision)
        return
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), revision)
        return
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": UPGRADE_LOCK_KEY})
        try:
            command.upgrade(alembic_config(engine), revision)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": UPGRADE_LOCK_KEY})
            lock.commit()


@contextmanager
def _sqlite_upgrade_lock(database: str | None) -> Iterator[None]:
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.upgrade-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def describe_url(engine: Engine) -> str:
    """The database URL with any password hidden, for logs and messages."""
    return engine.url.render_as_string(hide_password=True)
