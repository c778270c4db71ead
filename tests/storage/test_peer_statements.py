"""Reading peers at an age runs the same statements whatever the number of peers (issue 13).

A statement per number of peers grew the demo's memory while its dashboard was open: the
engine's compiled cache and each SQLite connection's statement cache kept hundreds of them, each
of megabytes, and every new post made another.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, event

from collectors.base import Observation, PostRef
from storage.measures_read import PEERS_PER_STATEMENT, peer_readings_at_age
from storage.write import StorageSink, VideoInput

T0 = datetime(2026, 2, 27, tzinfo=UTC)
POSTS = PEERS_PER_STATEMENT + 5  # two statements' worth


def seed(sink: StorageSink) -> None:
    """Post i published at minute i, read 10 and 50 minutes later (views 10i+1, 10i+2)."""
    sink.add_video(VideoInput(slug="v", title="V", keywords=("v",)))
    published = {f"p{i}": T0 + timedelta(minutes=i) for i in range(POSTS)}
    sink.record_posts(
        "v", [PostRef("reddit", pid, published_at=at) for pid, at in published.items()]
    )
    sink.record_observations(
        [
            Observation(
                "reddit", f"p{i}", published[f"p{i}"] + timedelta(minutes=m), views=10 * i + k
            )
            for i in range(POSTS)
            for k, m in ((1, 10), (2, 50))
        ]
    )


def test_peer_readings_use_one_statement_whatever_the_number_of_peers(
    engine: Engine, sink: StorageSink
) -> None:
    seed(sink)
    statements: set[str] = set()

    def remember(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("SELECT"):  # not SQLite's BEGIN
            statements.add(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        for peers in range(1, POSTS + 1):
            # Half an hour old by `before`: the first `peers` posts qualify.
            before = T0 + timedelta(minutes=30 + peers - 1)
            found = peer_readings_at_age(engine, "reddit", 0.5, before=before, limit=POSTS)
            assert len(found) == peers
            for row in found:
                i = int(row.published_at.astimezone(UTC).minute)
                assert [value for _, value in row.readings] == [10 * i + 1, 10 * i + 2]
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    # The peers query and the probes: not one statement more for each number of peers.
    assert len(statements) == 2
