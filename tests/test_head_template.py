"""The `engine` fixtures start from a copy of a database migrated once per test process
(tests/helpers.py, HeadTemplate): that copy must be the schema a real upgrade leaves."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from storage.db import make_engine, upgrade
from tests.helpers import database_url, migrated_engine

SQLITE_SCHEMA = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
POSTGRES_SCHEMA = {
    "relations": "SELECT relname, relkind, reloptions::text FROM pg_class "
    "WHERE relnamespace = current_schema()::regnamespace",
    "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default "
    "FROM information_schema.columns WHERE table_schema = current_schema()",
    "indexes": "SELECT tablename, indexname, replace(indexdef, current_schema() || '.', '') "
    "FROM pg_indexes WHERE schemaname = current_schema()",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
    "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace",
    "partitions": "SELECT inhrelid::regclass::text, pg_get_expr(c.relpartbound, c.oid) "
    "FROM pg_inherits JOIN pg_class c ON c.oid = inhrelid "
    "WHERE c.relnamespace = current_schema()::regnamespace",
}


def schema_of(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every table, column, index, constraint and partition, and the Alembic version."""
    queries = {"sqlite": SQLITE_SCHEMA} if engine.dialect.name == "sqlite" else POSTGRES_SCHEMA
    with engine.connect() as conn:
        found = {k: sorted(map(tuple, conn.execute(text(q)))) for k, q in queries.items()}
        found["version"] = [tuple(conn.execute(text("SELECT * FROM alembic_version")).one())]
    return found


def test_a_test_database_from_the_template_has_the_schema_a_real_upgrade_leaves(
    db_url: str, tmp_path: Path
) -> None:
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    for upgraded_url in database_url(backend, tmp_path / "upgraded.db", "up"):
        upgraded = make_engine(upgraded_url)
        upgrade(upgraded)
        for copied in migrated_engine(db_url):
            assert schema_of(copied) == schema_of(upgraded)
            assert schema_of(copied)["version"] != []
        upgraded.dispose()
