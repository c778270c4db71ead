"""Locks between daemons: one daemon per SQLite file, and short jobs run by one daemon at a time.

Collection itself is shared through row leases (schedule.py, discovery_leases.py); what is left
here is the flock that keeps a second daemon off a SQLite file, and job locks for short jobs such
as storage maintenance (e.g. "storage:maintenance"), which run on whichever daemon takes the lock
first. PostgreSQL session advisory locks are released automatically if a daemon dies, so a
killed process never leaves a job locked. On SQLite the job lock is always granted.
"""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from sqlalchemy import Engine, text

from storage.db import StorageError


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


def hold_daemon_lock(engine: Engine) -> IO[str] | None:
    """On SQLite, the lock that makes this process the file's one daemon: a flock on a file
    beside the database, held until the process exits (the kernel drops it even on kill -9).
    Raises StorageError (one line) when another daemon holds it; None on PostgreSQL, where
    daemons share the work through leases."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database:
        return None
    path = f"{database}.daemon-lock"
    handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (held for the process's life)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StorageError(
            f"another viralwatch daemon is running on {database} (it holds {path}); "
            "stop it first, or use PostgreSQL to run several"
        ) from None
    return handle
