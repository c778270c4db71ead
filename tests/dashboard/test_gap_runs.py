"""The gap reader (issue 7): the video page reads the runs that open or close a gap, not every
run of its window, and must find the very same gaps."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from collectors.base import RunReport
from dashboard.gaps import FAILING, find_gaps
from dashboard.timegrid import Window
from storage import read
from storage.models import CollectorLatestRun, CollectorRun
from storage.write import StorageSink
from tests.conftest import FakeClock

STATUSES = ("ok", "ok", "failed", "rate_limited", "auth_failed", "disabled")
RUNS = st.lists(
    st.tuples(
        st.sampled_from(("youtube", "reddit", "bluesky")),
        st.sampled_from(STATUSES),
        st.integers(0, 600),  # minutes after the start
    ),
    max_size=40,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(runs=RUNS, window=st.tuples(st.integers(0, 600), st.integers(1, 600)) | st.none())
def test_gaps_from_the_gap_reader_equal_gaps_from_every_run(
    engine: Engine, sink: StorageSink, clock: FakeClock, runs: list, window: tuple | None
) -> None:
    with engine.begin() as conn:
        conn.execute(delete(CollectorLatestRun))
        conn.execute(delete(CollectorRun))
    start = clock()
    for n, (collector, status, minute) in enumerate(runs):
        at = start + timedelta(minutes=minute, seconds=n)  # distinct times, as runs have
        kind = "refresh" if n % 2 else "discover"
        sink.record_run(RunReport(collector, kind, at, at, status=status, error_message=str(n)))
    if window is None:
        chosen = Window("all", None, start + timedelta(hours=11))
    else:
        since = start + timedelta(minutes=window[0])
        chosen = Window("custom", since, since + timedelta(minutes=window[1]))
    every = read.runs_between(engine, chosen.since, chosen.until)
    few = read.gap_runs(engine, chosen.since, chosen.until, tuple(FAILING))
    assert find_gaps(few, chosen) == find_gaps(every, chosen)
    assert len(few) <= len(every)
