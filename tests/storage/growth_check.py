"""The growth invariant (storage/growth.py) checked on a live database, and a writer entry point
for separate processes (importable by multiprocessing's spawn)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Engine, text

from collectors.base import Observation
from storage.db import make_engine
from storage.growth import COUNTERS
from storage.write import StorageSink

Reading = tuple[str, str, datetime, tuple[int | None, ...]]  # platform, post id, at, counters


def violations(engine: Engine, video: str) -> list[str]:
    """What breaks the invariant for `video` in one consistent snapshot (empty when it holds)."""
    sums = ", ".join(f"coalesce(sum({c}_delta), 0)" for c in COUNTERS)
    latest = ", ".join(f"coalesce(sum(latest_{c}), 0)" for c in COUNTERS)
    problems = []
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        vid = conn.execute(text("SELECT id FROM tracked_videos WHERE slug = :s"), {"s": video})
        video_id = vid.scalar_one()
        for table in ("video_hourly", "video_5min"):
            grown = {
                r[0]: tuple(r[1:])
                for r in conn.execute(
                    text(
                        f"SELECT platform, {sums} FROM {table} WHERE video_id = :v "
                        "GROUP BY platform"
                    ),
                    {"v": video_id},
                )
            }
            totals = {
                r[0]: tuple(r[1:])
                for r in conn.execute(
                    text(
                        f"SELECT platform, {latest} FROM posts JOIN post_videos l "
                        "ON l.post_id = posts.id WHERE l.video_id = :v GROUP BY platform"
                    ),
                    {"v": video_id},
                )
            }
            for platform, total in totals.items():
                growth = grown.get(platform, (0,) * len(COUNTERS))
                if growth != total:
                    problems.append(f"{table} {platform}: growth {growth} != latest {total}")
        newest = conn.execute(
            text(
                "SELECT p.id, p.latest_observed_at, max(o.observed_at), max(o.confirmed_until) "
                "FROM posts p JOIN post_videos l ON l.post_id = p.id "
                "LEFT JOIN observations o ON o.post_id = p.id "
                "WHERE l.video_id = :v GROUP BY p.id, p.latest_observed_at"
            ),
            {"v": video_id},
        )
        for post_id, latest_at, row_max, confirmed_max in newest:
            expected = max((t for t in (row_max, confirmed_max) if t is not None), default=None)
            if latest_at != expected:
                problems.append(f"post {post_id}: latest_observed_at {latest_at} != {expected}")
    return problems


def lost_or_duplicated(engine: Engine, video: str, readings: list[Reading]) -> list[str]:
    """Readings neither stored as a row nor inside a confirmed span of an equal row, and rows no
    reading accounts for."""
    fed: dict[tuple[str, str], dict[Any, tuple[int | None, ...]]] = defaultdict(dict)
    for platform, post_id, at, values in readings:
        fed[(platform, post_id)][at] = values
    stored: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT p.platform, p.platform_post_id, o.observed_at, o.confirmed_until, "
                f"{', '.join('o.' + c for c in COUNTERS)} FROM observations o "
                "JOIN posts p ON p.id = o.post_id JOIN post_videos l ON l.post_id = p.id "
                "JOIN tracked_videos v ON v.id = l.video_id "
                "WHERE v.slug = :s ORDER BY o.observed_at"
            ),
            {"s": video},
        )
        for platform, post_id, at, until, *values in rows:
            stored[(platform, post_id)].append((_utc(at), _utc(until), tuple(values)))
    problems = []
    for key, times in fed.items():
        by_time = {at: values for at, _, values in stored[key]}
        for at, values in times.items():
            if by_time.get(at) == values:
                continue
            if not any(
                row_values == values and until is not None and row_at < at <= until
                for row_at, until, row_values in stored[key]
            ):
                problems.append(f"{key} reading at {at} {values} is lost")
        for at, _, values in stored[key]:
            if times.get(at) != values:
                problems.append(f"{key} row at {at} {values} was never read")
    return problems


def _utc(moment: datetime | str | None) -> datetime | None:
    if moment is None:
        return None
    if isinstance(moment, str):  # SQLite hands raw SQL the stored UTC text
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@cache
def _sink(url: str) -> StorageSink:
    return StorageSink(make_engine(url), lambda: datetime.now(UTC))


def write_batches(url: str, video: str, batches: list[list[Reading]]) -> list[str]:
    """Write `batches` one transaction each and check the invariant after every one."""
    sink = _sink(url)
    problems = []
    for batch in batches:
        sink.record_observations([Observation(p, k, at, *values) for p, k, at, values in batch])
        problems += violations(sink.engine, video)
    return problems
