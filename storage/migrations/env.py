"""Alembic environment: runs against the engine handed over in config.attributes.

All pending migrations run in one transaction (BEGIN IMMEDIATE on SQLite, where DDL is
transactional through storage.db's pysqlite recipe): a migration that fails midway leaves the
previous version and schema as they were, and the upgrade can simply be retried. On SQLite
foreign keys are checked at the end rather than enforced (see storage.db.migration_transaction),
so a table can be rebuilt without cascading into its children.
"""

from alembic import context

from storage.db import migration_transaction
from storage.models import Base

engine = context.config.attributes["engine"]
with migration_transaction(engine) as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    context.run_migrations()
