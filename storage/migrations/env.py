"""Alembic environment: runs against the engine handed over in config.attributes.

All pending migrations run in one transaction (BEGIN IMMEDIATE on SQLite, where DDL is
transactional through storage.db's pysqlite recipe): a migration that fails midway leaves the
previous version and schema as they were, and the upgrade can simply be retried.
"""

from alembic import context

from storage.db import write_transaction
from storage.models import Base

engine = context.config.attributes["engine"]
with write_transaction(engine) as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    context.run_migrations()
