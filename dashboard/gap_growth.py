"""Growth after a gap: the bucket that holds it covers the whole gap, and says so (issue 13).

While a collector fails (or no daemon runs) nothing is read; the first reading after it adds
all the growth of the missing time to the one bucket it falls in, which would read as a spike.
The gap itself is shaded (dashboard/gaps.py); this labels that bucket with the interval its
growth really covers, for the chart's hover, the API and the CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from dashboard.gaps import Gap
from dashboard.series import Series

DAEMON = "daemon"
"""A gap of every collector: no daemon was running."""


@dataclass(frozen=True, slots=True)
class GapGrowth:
    """Bucket `index` of `platform` holds the growth from `since` (a gap's start) to `until`."""

    platform: str
    index: int
    since: datetime
    until: datetime

    @property
    def label(self) -> str:
        fmt = "%H:%M" if self.since.date() == self.until.date() else "%Y-%m-%d %H:%M"
        return f"growth over {self.since:{fmt}}-{self.until:{fmt}} UTC (gap)"


def gap_growth(series: Series, gaps: Sequence[Gap]) -> list[GapGrowth]:
    """Buckets of `series` whose growth includes a gap that began before the bucket did.

    A gap of collector `c` concerns platform `c` (and a daemon gap every platform); its growth
    lands in the bucket holding the gap's end, where collection resumed."""
    found: dict[tuple[str, int], GapGrowth] = {}
    starts = series.starts.astype("datetime64[s]")
    ends = series.ends.astype("datetime64[s]")
    for gap in gaps:
        end = np.datetime64(gap.end.astimezone(UTC).replace(tzinfo=None), "s")
        index = int(np.searchsorted(ends, end, side="right"))
        if index >= len(starts) or starts[index] > end:
            continue
        since = gap.start.astimezone(UTC)
        if np.datetime64(since.replace(tzinfo=None), "s") >= starts[index]:
            continue  # the bucket spans the whole gap already
        until = ends[index].astype(datetime).replace(tzinfo=UTC)
        for platform, values in series.values.items():
            if gap.collector not in (platform, DAEMON) or not _grew(series, values, index):
                continue
            known = found.get((platform, index))
            if known is None or since < known.since:
                found[(platform, index)] = GapGrowth(platform, index, since, until)
    return sorted(found.values(), key=lambda g: (g.index, g.platform))


def _grew(series: Series, values: np.ndarray, index: int) -> bool:
    if not series.cumulative:
        return bool(values[index])
    before = values[index - 1] if index else 0
    return bool(values[index] - before)


def hover_notes(series: Series, growth: Sequence[GapGrowth]) -> dict[str, list[str]]:
    """Per platform, a hover suffix for each point: the gap label where there is one."""
    notes = {p: [""] * len(series.starts) for p in series.values}
    for item in growth:
        notes[item.platform][item.index] = f"<br>{item.label}"
    return notes
