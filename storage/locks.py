"""Job locks so several daemons sharing one PostgreSQL database split the work.

Each scheduled job (e.g. "reddit:refresh") runs on whichever daemon takes its lock first; the
others skip that run. PostgreSQL session advisory locks are released automatically if a daemon
dies, so a killed process never leaves a job locked. SQLite is the single-daemon store: there the
lock is always granted.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (advisory locks take a bigint)."""
    return zlib.crc32(f"viralwatch:{name}".encode()) - 2**31


@contextmanager
def job_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Hold the lock for job `name` while the block runs; yields whether it was acquired."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    with engine.connect() as conn:
        acquired = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()
        try:
            yield acquired
        finally:
            if acquired:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
