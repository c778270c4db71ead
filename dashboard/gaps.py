"""Gaps: periods when a collector was failing, or no daemon was running, so charts show missing
data, not zeros.

A killed daemon records no failing run, so its silence is read from the heartbeats (issue 13):
the time between a daemon's last beat and the next daemon's start is a gap of every collector,
shown as `daemon: not running`. The growth a first reading after it shows covers that whole span.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard.timegrid import Window
from storage.health import MISSED_BEATS, HeartbeatRow
from storage.read import RunRow

FAILING = {
    "failed": "failing",
    "rate_limited": "rate-limited",
    "auth_failed": "credentials rejected",
}


@dataclass(frozen=True, slots=True)
class Gap:
    """A period when a collector was failing: its data there is missing, not zero."""

    collector: str
    status: str
    start: datetime
    end: datetime
    message: str | None


def find_gaps(
    runs: Sequence[RunRow],
    window: Window,
    collectors: Iterable[str] | None = None,
    beats: Sequence[HeartbeatRow] = (),
) -> list[Gap]:
    """Periods from a failing run (failed, rate-limited, auth failed) to the next ok run, and
    periods when no daemon was running (from `beats`)."""
    wanted = set(collectors) if collectors is not None else None
    open_gaps: dict[str, Gap] = {}
    gaps: list[Gap] = []
    for run in sorted(runs, key=lambda r: r.started_at):
        if wanted is not None and run.collector not in wanted:
            continue
        current = open_gaps.get(run.collector)
        if run.status in FAILING:
            # Until an ok run says otherwise, the gap reaches the end of the window.
            if current is None:
                open_gaps[run.collector] = Gap(
                    run.collector, run.status, run.started_at, window.until, run.error_message
                )
            else:
                # Still failing: keep the start and first status, show the newest message.
                open_gaps[run.collector] = Gap(
                    run.collector, current.status, current.start, window.until, run.error_message
                )
        # "disabled" runs neither open nor close a gap: no data was expected then.
        elif run.status == "ok" and current is not None:
            gaps.append(
                Gap(
                    current.collector,
                    current.status,
                    current.start,
                    run.started_at,
                    current.message,
                )
            )
            del open_gaps[run.collector]
    gaps.extend(open_gaps.values())
    gaps.extend(daemon_gaps(beats, window.until))
    clipped = []
    for gap in gaps:
        start = max(gap.start, window.since) if window.since else gap.start
        end = min(gap.end, window.until)
        if start < end:
            clipped.append(Gap(gap.collector, gap.status, start, end, gap.message))
    return sorted(clipped, key=lambda g: (g.start, g.collector))


def daemon_gaps(beats: Sequence[HeartbeatRow], until: datetime) -> list[Gap]:
    """Spans up to `until` when no daemon was beating: from the last beat of one (killed,
    stopped or stuck) to the start of the next. Pauses shorter than two beats are not gaps."""
    spans = []
    for beat in beats:
        alive = beat.is_alive(until)
        slack = timedelta(seconds=MISSED_BEATS * beat.interval_seconds)
        spans.append((beat.started_at, until if alive else beat.beat_at, slack))
    gaps = []
    covered_until: datetime | None = None
    for start, end, slack in sorted(spans):
        if covered_until is not None and start - covered_until > slack:
            gaps.append(Gap("daemon", "not_running", covered_until, start, None))
        covered_until = end if covered_until is None else max(covered_until, end)
    if covered_until is not None and until - covered_until > slack:
        message = f"no daemon since {covered_until:%Y-%m-%d %H:%M} UTC"
        gaps.append(Gap("daemon", "not_running", covered_until, until, message))
    return gaps
