"""Engine factory and schema upgrades. One code path for SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from config.redact import mask_url

MIGRATIONS = Path(__file__).parent / "migrations"


class StorageError(Exception):
    """The database cannot be used; the message says what to fix."""


def make_engine(url: str, *, sqlite_busy_timeout_ms: int = 5000) -> Engine:
    """An engine for `url`. SQLite gets WAL, NORMAL sync, foreign keys and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise StorageError("storage.url is not a valid database URL; see README") from err
    kwargs: dict[str, Any] = {"json_deserializer": _load_json}
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


def _load_json(text: str | bytes) -> Any:
    """A stored JSON value (posts.extra…): orjson, about 4x stdlib json (issue 14: decoding
    every post's extra was most of `posts_to_refresh`); stdlib json reads what orjson refuses
    (NaN, which stdlib json writes)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


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


@contextmanager
def migration_transaction(engine: Engine) -> Iterator[Connection]:
    """The schema upgrade's one write transaction. On SQLite, foreign keys are off inside it
    (SQLite's documented procedure for rebuilding a table: with them on, dropping the old
    `posts` would cascade into observations) and checked before commit."""
    with engine.connect() as conn:
        is_sqlite = conn.dialect.name == "sqlite"
        # The driver connection, before any BEGIN: the pragma is a no-op inside a transaction.
        raw: Any = conn.connection.dbapi_connection
        if is_sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            conn.execution_options(**{IMMEDIATE: True})
            with conn.begin():
                yield conn
                if is_sqlite and (
                    broken := conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                ):
                    raise StorageError(f"upgrade left a dangling reference in {broken[0]}")
        finally:
            if is_sqlite:
                raw.execute("PRAGMA foreign_keys=ON")


def conflict_insert(connection: Connection, table: Any) -> Any:
    """A dialect insert that supports ON CONFLICT (SQLite and PostgreSQL both do)."""
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


@contextmanager
def scratch_schema(base_url: str, prefix: str) -> Iterator[str]:
    """A URL on a fresh PostgreSQL schema of `base_url`, dropped on exit. It is addressed
    through search_path, so tests and benchmarks share one database without seeing each
    other's tables. Raises OperationalError when the server cannot be reached."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


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
    """The database URL with every secret hidden (user-info and query-string passwords alike),
    for logs and messages."""
    return mask_url(engine.url.render_as_string(hide_password=False))


UPGRADE_HINT = "run `viralwatch db upgrade` (or `viralwatch run`) to migrate it"


class SchemaNotCurrent(StorageError):
    """The database has no schema, or one this version does not match; the message says which."""


def check_schema(engine: Engine) -> None:
    """Raise SchemaNotCurrent unless the schema is at this version's head; StorageError when the
    database cannot be reached.

    Read-only: it creates nothing, not even an empty SQLite file, so commands that only read can
    call it first (issue 10: only `run`, `collect` and `db upgrade` migrate).
    """
    where = describe_url(engine)
    database = engine.url.database
    is_sqlite_file = engine.dialect.name == "sqlite" and database and database != ":memory:"
    if is_sqlite_file and not Path(str(database)).is_file():
        raise SchemaNotCurrent(f"database {where} does not exist yet; {UPGRADE_HINT}")
    script = ScriptDirectory.from_config(alembic_config(engine))
    head = script.get_current_head()
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except OperationalError as err:
        reason = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
        raise StorageError(f"cannot open database {where}: {mask_url(reason)}") from None
    if current == head:
        return
    if current is None:
        raise SchemaNotCurrent(f"database {where} has no viralwatch schema; {UPGRADE_HINT}")
    if current not in {rev.revision for rev in script.walk_revisions()}:
        raise SchemaNotCurrent(
            f"database {where} has schema {current}, newer than this viralwatch knows ({head}); "
            "upgrade viralwatch"
        )
    raise SchemaNotCurrent(
        f"database {where} has schema {current}, older than this viralwatch's {head}; "
        + UPGRADE_HINT
    )
