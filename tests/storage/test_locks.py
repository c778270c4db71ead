"""Job locks: one daemon per job at a time on PostgreSQL; always granted on SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage.db import StorageError, make_engine
from storage.locks import hold_daemon_lock, job_lock, lock_key


def test_second_holder_is_refused_until_the_first_releases(db_url):
    first_engine, second_engine = make_engine(db_url), make_engine(db_url)
    is_postgres = first_engine.dialect.name == "postgresql"
    with job_lock(first_engine, "reddit:refresh") as first:
        assert first is True
        with job_lock(second_engine, "reddit:refresh") as second:
            assert second is (not is_postgres)
        with job_lock(second_engine, "reddit:discover") as other_job:
            assert other_job is True
    with job_lock(second_engine, "reddit:refresh") as after_release:
        assert after_release is True
    first_engine.dispose()
    second_engine.dispose()


def test_a_dead_holder_releases_its_lock(db_url):
    engine = make_engine(db_url)
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks exist on PostgreSQL only")
    holder = engine.connect()
    holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key("x:refresh")})
    with job_lock(engine, "x:refresh") as while_held:
        assert while_held is False
    holder.invalidate()  # the connection drops, as when a daemon is killed
    with job_lock(engine, "x:refresh") as acquired:
        assert acquired is True
    engine.dispose()


def test_concurrent_upgrades_of_one_database_take_turns(db_url):
    import threading

    from storage.db import upgrade

    engines = [make_engine(db_url) for _ in range(3)]
    errors = []

    def run(engine):
        try:
            upgrade(engine)
        except Exception as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with engines[0].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tracked_videos")).scalar() == 0
    for engine in engines:
        engine.dispose()


def test_one_daemon_per_sqlite_file_and_none_needed_on_postgresql(db_url):
    engine = make_engine(db_url)
    held = hold_daemon_lock(engine)
    if engine.dialect.name == "postgresql":
        assert held is None and hold_daemon_lock(engine) is None
        return
    with pytest.raises(StorageError, match="another viralwatch daemon is running on"):
        hold_daemon_lock(make_engine(db_url))
    assert held is not None
    held.close()  # the first daemon exits: the next one may start
    hold_daemon_lock(engine).close()
    engine.dispose()
