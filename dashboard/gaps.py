"""Gaps: periods when a collector was failing, so charts show missing data, not zeros."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from dashboard.timegrid import Window
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
    runs: Sequence[RunRow], window: Window, collectors: Iterable[str] | None = None
) -> list[Gap]:
    """Periods from a failing run (failed, rate-limited, auth failed) to the next ok run."""
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
    clipped = []
    for gap in gaps:
        start = max(gap.start, window.since) if window.since else gap.start
        end = min(gap.end, window.until)
        if start < end:
            clipped.append(Gap(gap.collector, gap.status, start, end, gap.message))
    return sorted(clipped, key=lambda g: (g.start, g.collector))
