"""Driver-level statements for the observation writer's hot path, on SQLite or PostgreSQL.

A batch of readings costs a fixed handful of statements, whatever its size: one read of the
posts' latest state (locked), then one bulk statement per table written. SQLAlchemy Core is
skipped here on purpose: compiling and type-processing every row cost several times the
database's own work (issue 7, benchmarks/bench_storage.py). On SQLite a bulk statement is an
`executemany` of pre-built SQL text; on PostgreSQL it is COPY, straight into `observations` or
into a temporary staging table that one `UPDATE … FROM` applies (per-row statements, even
pipelined, and psycopg's pure-Python array dumping both cost more than the database's work).

Timestamps travel in the form the backend stores them: SQLite keeps the UTC text that
SQLAlchemy writes ("YYYY-MM-DD HH:MM:SS.ffffff", which sorts like time), PostgreSQL
timezone-aware datetimes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from storage.growth import COUNTERS, PostState

# Keys per IN (...) lookup on SQLite: well under its 32,766 bound-parameter limit.
LOOKUP_CHUNK = 500
# Tables `update_rows` and `add_rollup` may write: names go into SQL text, so only these.
UPDATABLE = ("posts", "post_schedule", "observations")
ROLLUP_TABLES = ("video_hourly", "video_5min")
_COUNTER_COLUMNS = ", ".join(COUNTERS)
_LATEST_COLUMNS = ", ".join(f"p.latest_{c}" for c in COUNTERS)
# A post's schedule inputs and its videos (SQLite's group_concat comes back as "1,2").
_PLAN_COLUMNS = (
    "s.born_at, s.interval_seconds, s.last_count, s.last_read_at, "
    "(SELECT {} FROM post_videos l WHERE l.post_id = p.id)"
)


@dataclass(slots=True)
class LockedPost:
    """A post of the batch as read under its lock: what the writer and the schedule need."""

    id: int
    video_ids: tuple[int, ...]
    is_gone: bool
    state: PostState
    schedule: tuple[Any, ...] | None
    """(born_at, interval_seconds, last_count, last_read_at) as datetimes, or None when the
    post has no schedule row (gone, a reshare edge)."""


class DriverSql:
    """The hot path's statements on one connection, inside the writer's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.is_sqlite = conn.dialect.name == "sqlite"
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self.cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        self._formatted: dict[datetime, str] = {}
        self._plan = _PLAN_COLUMNS.format(
            "group_concat(l.video_id)" if self.is_sqlite else "array_agg(l.video_id)"
        )

    def timestamp(self, moment: datetime) -> Any:
        if not self.is_sqlite:
            return moment
        # A batch shares a handful of times (one clock reading per request): format each once.
        text = self._formatted.get(moment)
        if text is None:
            text = self._formatted[moment] = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return text

    def moment(self, stored: Any) -> datetime | None:
        """A stored timestamp as an aware datetime (the inverse of `timestamp`)."""
        if stored is None or not isinstance(stored, str):
            return stored
        return datetime.fromisoformat(stored).replace(tzinfo=UTC)

    def _marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    # --- the batch's posts, locked ----------------------------------------------------------

    def lock_posts(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], LockedPost]:
        """The batch's posts by (platform, post id), each with its links, latest state and
        schedule row, locked until commit (BEGIN IMMEDIATE already holds SQLite's one write
        lock; PostgreSQL locks the rows in one global order, platform then post id by code
        point, so two writers never deadlock)."""
        unique = sorted(set(keys))
        rows = self._sqlite_posts(unique) if self.is_sqlite else self._postgres_posts(unique)
        found = {}
        for platform, post_key, post_id, is_gone, at, row_at, *rest in rows:
            latest, (born, interval, count, read_at, videos) = rest[: len(COUNTERS)], rest[-5:]
            if isinstance(videos, str):  # SQLite hands the ids back as text ("1,2")
                videos = videos.split(",")
            plan = None
            if born is not None:
                plan = (self.moment(born), interval, count, self.moment(read_at))
            state = PostState(at, tuple(latest), row_at)
            video_ids = tuple(sorted(int(v) for v in videos or ()))
            found[(platform, post_key)] = LockedPost(post_id, video_ids, bool(is_gone), state, plan)
        return found

    def _select_posts(self, where: str) -> str:
        return (
            "SELECT p.platform, p.platform_post_id, p.id, p.is_gone, p.latest_observed_at, "
            f"p.latest_row_at, {_LATEST_COLUMNS}, {self._plan} FROM posts p "
            f"LEFT JOIN post_schedule s ON s.post_id = p.id WHERE {where}"
        )

    def _sqlite_posts(self, keys: list[tuple[str, str]]) -> list[Any]:
        by_platform: dict[str, list[str]] = defaultdict(list)
        for platform, post_key in keys:
            by_platform[platform].append(post_key)
        rows = []
        for platform, post_keys in by_platform.items():
            for start in range(0, len(post_keys), LOOKUP_CHUNK):
                chunk = post_keys[start : start + LOOKUP_CHUNK]
                where = f"p.platform = ? AND p.platform_post_id IN ({self._marks(len(chunk))})"
                rows += self.cursor.execute(self._select_posts(where), (platform, *chunk))
        return rows

    def _postgres_posts(self, keys: list[tuple[str, str]]) -> list[Any]:
        # The keys go in by COPY: one statement locks them all, whatever their number.
        staged = self._stage("keys", "posts", ("platform", "platform_post_id"), keys)
        batch = f"(p.platform, p.platform_post_id) IN (SELECT * FROM {staged})"
        self.cursor.execute(
            "SELECT p.platform, p.platform_post_id, p.id, p.is_gone, p.latest_observed_at, "
            f"p.latest_row_at, {_LATEST_COLUMNS} FROM posts p WHERE {batch} "
            'ORDER BY p.platform COLLATE "C", p.platform_post_id COLLATE "C" FOR UPDATE OF p'
        )
        locked = self.cursor.fetchall()
        # Links and schedule rows in a statement of their own, after the locks: its snapshot
        # sees a link that a linker holding a lock committed while this writer waited for it
        # (a subquery of the locking statement would read the older snapshot).
        self.cursor.execute(
            f"SELECT p.id, {self._plan} FROM posts p "
            f"LEFT JOIN post_schedule s ON s.post_id = p.id WHERE {batch}"
        )
        plans = {row[0]: row[1:] for row in self.cursor.fetchall()}
        return [(*row, *plans[row[2]]) for row in locked]

    def _stage(
        self, name: str, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> str:
        """COPY `rows` into the temporary table `_staged_<name>`, shaped like `columns` of
        `table` (PostgreSQL), and return its name. Each session makes it once (IF NOT EXISTS is
        cheap, and one made in a transaction that rolled back is simply made again); it is
        emptied at commit, and here, should one transaction stage twice."""
        staged = f"_staged_{name}"
        self.cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staged} ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(columns)} FROM {table} WITH NO DATA"
        )
        self.cursor.execute(f"DELETE FROM {staged}")
        with self.cursor.copy(f"COPY {staged} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return staged

    # --- writes -------------------------------------------------------------------------------

    def row_at_or_before(self, post_id: int, at: Any) -> tuple[Any, ...] | None:
        """The post's newest row at or before `at`: (observed_at, counters…, confirmed_until)."""
        self.cursor.execute(
            f"SELECT observed_at, {_COUNTER_COLUMNS}, confirmed_until FROM observations "
            f"WHERE post_id = {self.mark} AND observed_at <= {self.mark} "
            "ORDER BY observed_at DESC LIMIT 1",
            (post_id, at),
        )
        row = self.cursor.fetchone()
        return None if row is None else tuple(row)

    def insert_observations(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows that may exist already (late readings): an existing one is kept."""
        if rows:
            self.cursor.executemany(
                f"INSERT INTO observations (post_id, observed_at, {_COUNTER_COLUMNS}) "
                f"VALUES ({self._marks(7)}) ON CONFLICT (post_id, observed_at) DO NOTHING",
                rows,
            )

    def insert_new_observations(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows known not to exist yet: COPY on PostgreSQL, executemany on SQLite."""
        if not rows:
            return
        columns = f"post_id, observed_at, {_COUNTER_COLUMNS}"
        if self.is_sqlite:
            self.cursor.executemany(
                f"INSERT INTO observations ({columns}) VALUES ({self._marks(7)})", rows
            )
            return
        with self.cursor.copy(f"COPY observations ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def update_rows(
        self,
        table: str,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[Sequence[Any]],
        constants: str = "",
    ) -> None:
        """Set `columns` of the `table` rows matching `keys`: each row is the new values, then
        the key values. `constants` is more assignments (SQL text) for every row."""
        if table not in UPDATABLE:
            raise ValueError(f"{table!r} is not updated in bulk")
        if not rows:
            return
        extra = f", {constants}" if constants else ""
        if self.is_sqlite:
            assignments = ", ".join(f"{c} = ?" for c in columns)
            match = " AND ".join(f"{k} = ?" for k in keys)
            self.cursor.executemany(f"UPDATE {table} SET {assignments}{extra} WHERE {match}", rows)
            return
        staged = self._stage(table, table, (*columns, *keys), rows)
        assignments = ", ".join(f"{c} = s.{c}" for c in columns)
        match = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        self.cursor.execute(
            f"UPDATE {table} t SET {assignments}{extra} FROM {staged} s WHERE {match}"
        )

    def add_rollup(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Add (video_id, platform, bucket_start, deltas…, baselines…, observations) rows to a
        rollup table, in key order: two writers then lock shared buckets in the same order."""
        if table not in ROLLUP_TABLES:
            raise ValueError(f"{table!r} is not a rollup table")
        if not rows:
            return
        sums = [*(f"{c}_delta" for c in COUNTERS), *(f"{c}_baseline" for c in COUNTERS)]
        increments = ", ".join(
            f"{column} = {table}.{column} + excluded.{column}" for column in (*sums, "observations")
        )
        self.cursor.executemany(
            f"INSERT INTO {table} (video_id, platform, bucket_start, {', '.join(sums)}, "
            f"observations) VALUES ({self._marks(4 + len(sums))}) "
            f"ON CONFLICT (video_id, platform, bucket_start) DO UPDATE SET {increments}",
            sorted(rows),
        )
