"""Every dashboard and export query stays on an index (issue 7): EXPLAIN each statement the
readers send over a seeded database and fail on a full scan of a big table.

Statements are captured with SQLAlchemy's public `before_cursor_execute` event while every
reader in storage/read.py runs, then explained on their own connection with the same
parameters. PostgreSQL is asked with sequential scans and merge and hash joins discouraged (the
seeded tables are small enough that it would rightly scan them otherwise): a "Seq Scan" left in
the plan, or an index scan without an index condition, means no index can serve the query.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event

from collectors.base import Observation, PostRef, RunReport
from storage import measures_read, read
from storage.write import StorageSink, VideoInput
from tests.conftest import FakeClock

BIG_TABLES = ("observations", "posts", "collector_runs", "video_hourly", "video_5min")


def _seed(sink: StorageSink, clock: FakeClock) -> None:
    start = clock()
    for v in range(3):
        slug = f"clip{v}"
        sink.add_video(VideoInput(slug, f"Clip {v}"))
        published = start - timedelta(hours=1)  # peers for overperformance
        refs = [
            PostRef("youtube", f"{slug}-y{i}", author=f"a{i}", published_at=published)
            for i in range(20)
        ]
        refs += [PostRef("bluesky", f"{slug}-b{i}", matched_by="manual") for i in range(5)]
        sink.record_posts(slug, refs)
        edges = [
            PostRef(
                "bluesky",
                f"{slug}-r{i}",
                parent_platform="bluesky",
                parent_platform_post_id=f"{slug}-b0",
                relation="reshare",
            )
            for i in range(5)
        ]
        sink.record_posts(None, edges)
    for step in range(12):
        at = start + timedelta(minutes=10 * step)
        sink.record_observations(
            [
                Observation("youtube", f"clip{v}-y{i}", at, views=step * i, likes=step)
                for v in range(3)
                for i in range(20)
            ]
        )
        sink.record_run(RunReport("youtube", "refresh", at, at, status="ok"))
        status = "failed" if step % 4 == 1 else "ok"
        sink.record_run(RunReport("bluesky", "discover", at, at, status=status))


def _run_every_reader(engine: Engine, clock: FakeClock) -> None:
    now = clock()
    hour_ago = now - timedelta(hours=1)
    some_post = read.find_post(engine, "youtube", "clip0-y3")
    assert some_post is not None
    read.list_videos(engine)
    read.platform_totals(engine)
    read.platform_totals(engine, video="clip0", platforms=["youtube"])
    for minutes in (5, 60):
        for video in (None, "clip0"):
            read.rollup_deltas(engine, video, bucket_minutes=minutes, since=hour_ago, until=now)
            read.rollup_deltas(
                engine, video, bucket_minutes=minutes, since=hour_ago, by_platform=False
            )
        read.rollup_deltas(engine, "clip0", bucket_minutes=minutes, by_platform=False)
    read.rollup_deltas(engine, "clip0", bucket_minutes=5, platforms=["youtube"], since=hour_ago)
    read.rollup_totals_before(engine, "clip0", now.replace(minute=35))
    read.appearance_times(engine, "clip0")
    read.appearance_times(engine, "clip0", platforms=["youtube"])
    read.first_appearances(engine, "clip0")
    read.first_appearances(engine, "clip0", platforms=["youtube"])
    for sort in read.POST_SORTS:
        read.list_posts(engine, "clip0", sort=sort)
    read.list_posts(engine, "clip0", platforms=["youtube"], author="a1", descending=False)
    read.count_reshares(engine, "clip0", platforms=["bluesky"])
    read.get_post(engine, some_post.id)
    read.child_posts(engine, "bluesky", "clip0-b0")
    read.child_posts(engine, "bluesky", "clip0-b0", reshares=False)
    read.cascade_posts(engine, "clip0")
    read.reshare_groups(engine, "clip0")
    read.reshare_groups(engine, parent=("bluesky", "clip0-b0"))
    read.manual_posts(engine)
    read.post_observations(engine, some_post.id)
    read.post_observations(engine, some_post.id, since=hour_ago, until=now)
    read.counters_at(engine, [some_post.id], hour_ago)
    read.runs_between(engine, hour_ago, now)
    read.gap_runs(engine, hour_ago, now, ("failed", "rate_limited"))
    read.gap_runs(engine, None, now, ("failed",))
    read.latest_runs(engine)
    # Measures (issue 11): the video page, the post page, the leaderboard and the posts table.
    measures_read.platform_hourly_growth(engine, "clip0", since=hour_ago, until=now)
    measures_read.platform_hourly_growth(engine, "clip0", "likes", platforms=["youtube"])
    measures_read.growth_since(engine, hour_ago)
    measures_read.growth_since(engine, None, video="clip0", platforms=["youtube"])
    measures_read.growth_since(engine, hour_ago, video="clip0", post_ids=[some_post.id])
    measures_read.data_version(engine, "clip0")  # the measures cache asks it every request
    measures_read.post_readings(engine, some_post.id)
    measures_read.peer_readings_at_age(engine, "youtube", 0.5, before=now, limit=10)
    measures_read.platform_pickups(engine, "clip0", ["youtube"])
    # Exports of one video (a filter-less export reads every row by definition).
    video = read.PostFilter(video="clip0")
    list(read.iter_posts(engine, video))
    list(read.iter_observations(engine, video))
    list(read.iter_observations(engine, read.PostFilter("clip0", "youtube", hour_ago, now)))
    read.count_rows(engine, "posts", video)
    read.count_rows(engine, "observations", video)


def _sqlite_full_scans(conn: Any, statement: str, parameters: Any) -> list[str]:
    plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    scans = []
    for row in plan:
        match = re.match(r"SCAN (\w+)", row[-1])
        if match and match[1] in (*BIG_TABLES, "child"):
            scans.append(row[-1])
    return scans


def _postgres_full_scans(conn: Any, statement: str, parameters: Any) -> list[str]:
    for method in ("seqscan", "mergejoin", "hashjoin"):
        conn.exec_driver_sql(f"SET enable_{method} = off")
    (plan,) = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    scans = []

    def walk(node: dict[str, Any]) -> None:
        relation = re.sub(r"_p\d{6}$", "", node.get("Relation Name", ""))
        kind = node["Node Type"]
        if relation in BIG_TABLES:
            unbounded = kind == "Seq Scan" or (
                "Index" in kind and "Index Cond" not in node and "Filter" not in node
            )
            if unbounded:
                scans.append(f"{kind} on {node['Relation Name']}")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return scans


def test_every_dashboard_and_export_query_uses_an_index(engine: Engine, sink, clock) -> None:
    _seed(sink, clock)
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        _run_every_reader(engine, clock)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) > 30
    explain = _sqlite_full_scans if engine.dialect.name == "sqlite" else _postgres_full_scans
    problems = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            scans = explain(conn, statement, parameters)
            if scans:
                problems.append(f"{scans}: {' '.join(statement.split())[:300]}")
    assert problems == [], "\n".join(problems)


def _is_sorted_in_memory(conn: Any, statement: str, parameters: Any) -> bool:
    if conn.dialect.name == "sqlite":
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return any("TEMP B-TREE" in row[-1] for row in plan)
    conn.exec_driver_sql("SET enable_seqscan = off")
    (plan,) = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes = [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if node["Node Type"] in ("Sort", "Incremental Sort"):
            return True
        nodes.extend(node.get("Plans", []))
    return False


def test_overperformance_peers_are_read_from_an_index_in_their_order(
    engine: Engine, sink, clock
) -> None:
    # Issue 7: the leaderboard asks for peers 20 times a page; sorting every post of the
    # platform for each (100,000 on a big store) to keep 50 was most of its time.
    _seed(sink, clock)
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "published_at" in statement and "LIMIT" in statement.upper():
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        peers = measures_read.peer_readings_at_age(
            engine, "youtube", 0.5, before=clock() + timedelta(hours=2), limit=10
        )
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(peers) == 10 and len(statements) == 1
    with engine.connect() as conn:
        assert not _is_sorted_in_memory(conn, *statements[0])
