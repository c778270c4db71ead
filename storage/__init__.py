"""Storage: models, engine factory, the one writer and the readers.

Owns the schema (models.py and the Alembic migrations), the engine (db.py), the one writer of
posts and readings (write.py, the Sink collectors hand records to) with its growth accounting
(growth.py), the readers (read.py: plain typed rows for the dashboard and exports;
measures_read.py: the rows the measures are computed from), the alerts tables (alert_store.py),
heartbeats (health.py), retention (maintenance.py), PostgreSQL partitions (partitions.py), each
post's refresh schedule and leases (schedule.py, discovery_leases.py), stored budgets
(budgets.py) and locks between daemons (locks.py). read.py also re-exports the record
vocabulary the read side needs (COUNTERS, Clock), so the dashboard knows no collector.

May import: collectors.base (the record types) and config.redact (URLs masked in errors).
"""
